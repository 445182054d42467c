import { Prefetch } from '../../components/prefetch';
import { metricChartsQuery } from '../../data/metrics/queries';
import { metricRange } from '../../lib/metric-ranges';
import { MetricsView } from './metrics-view';

export default async function MetricsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  // The range is in the URL (?range=1h), so a link or a reload shows the same charts.
  const range = metricRange((await searchParams)['range']);
  return (
    <Prefetch queries={(trpc, qc) => [qc.prefetchQuery(metricChartsQuery(trpc, range.ms))]}>
      <MetricsView rangeId={range.id} />
    </Prefetch>
  );
}
