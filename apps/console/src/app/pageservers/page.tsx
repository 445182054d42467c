import { Prefetch } from '../../components/prefetch';
import { pageserversQuery } from '../../data/pageservers/queries';
import { PageserversView } from './pageservers-view';

export default function PageserversPage() {
  return (
    <Prefetch queries={(trpc, qc) => [qc.prefetchQuery(pageserversQuery(trpc))]}>
      <PageserversView />
    </Prefetch>
  );
}
