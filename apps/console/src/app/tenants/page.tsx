import { Prefetch } from '../../components/prefetch';
import { tenantsQuery } from '../../data/tenants/queries';
import { TenantsView } from './tenants-view';

export default function TenantsPage() {
  return (
    <Prefetch queries={(trpc, qc) => [qc.prefetchQuery(tenantsQuery(trpc))]}>
      <TenantsView />
    </Prefetch>
  );
}
