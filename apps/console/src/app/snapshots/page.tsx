import { Prefetch } from '../../components/prefetch';
import { branchesQuery } from '../../data/branches/queries';
import { snapshotsQuery } from '../../data/snapshots/queries';
import { SnapshotsView } from './snapshots-view';

export default function SnapshotsPage() {
  // Branches fill the snapshot form's branch list.
  return (
    <Prefetch queries={(trpc, qc) => [qc.prefetchQuery(snapshotsQuery(trpc)), qc.prefetchQuery(branchesQuery(trpc))]}>
      <SnapshotsView />
    </Prefetch>
  );
}
