import { Prefetch } from '../../components/prefetch';
import { branchesQuery } from '../../data/branches/queries';
import { BranchesView } from './branches-view';

export default function BranchesPage() {
  // Snapshots only show once "a snapshot" is chosen: the view fetches them meanwhile.
  return (
    <Prefetch queries={(trpc, qc) => [qc.prefetchQuery(branchesQuery(trpc))]}>
      <BranchesView />
    </Prefetch>
  );
}
