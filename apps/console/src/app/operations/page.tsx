import { Prefetch } from '../../components/prefetch';
import { operationsQuery } from '../../data/operations/queries';
import { OperationsView } from './operations-view';

export default function OperationsPage() {
  return (
    <Prefetch queries={(trpc, qc) => [qc.prefetchQuery(operationsQuery(trpc))]}>
      <OperationsView />
    </Prefetch>
  );
}
