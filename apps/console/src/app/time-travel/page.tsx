import { Prefetch } from '../../components/prefetch';
import { branchesQuery } from '../../data/branches/queries';
import { TimeTravelView } from './time-travel-view';

export default function TimeTravelPage() {
  // Nothing to show before a query runs but the branch list of its form.
  return (
    <Prefetch queries={(trpc, qc) => [qc.prefetchQuery(branchesQuery(trpc))]}>
      <TimeTravelView />
    </Prefetch>
  );
}
