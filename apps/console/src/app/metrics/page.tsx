import { Prefetch } from '../../components/prefetch';
import { metricChartsQuery } from '../../data/metrics/queries';
import { MetricsView } from './metrics-view';

export default function MetricsPage() {
  return (
    <Prefetch queries={(trpc, qc) => [qc.prefetchQuery(metricChartsQuery(trpc))]}>
      <MetricsView />
    </Prefetch>
  );
}
