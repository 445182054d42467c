import { Prefetch } from '../../components/prefetch';
import { safekeepersQuery } from '../../data/safekeepers/queries';
import { SafekeepersView } from './safekeepers-view';

export default function SafekeepersPage() {
  return (
    <Prefetch queries={(trpc, qc) => [qc.prefetchQuery(safekeepersQuery(trpc))]}>
      <SafekeepersView />
    </Prefetch>
  );
}
