import { Prefetch } from '../../components/prefetch';
import { branchesQuery } from '../../data/branches/queries';
import { computesQuery } from '../../data/computes/queries';
import { ComputesView } from './computes-view';

export default function ComputesPage() {
  // Branches fill the start form's branch list.
  return (
    <Prefetch queries={(trpc, qc) => [qc.prefetchQuery(computesQuery(trpc)), qc.prefetchQuery(branchesQuery(trpc))]}>
      <ComputesView />
    </Prefetch>
  );
}
