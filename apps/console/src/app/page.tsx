import { Prefetch } from '../components/prefetch';
import { overviewQuery } from '../data/overview/queries';
import { OverviewView } from './overview-view';

export default function OverviewPage() {
  return (
    <Prefetch queries={(trpc, qc) => [qc.prefetchQuery(overviewQuery(trpc))]}>
      <OverviewView />
    </Prefetch>
  );
}
