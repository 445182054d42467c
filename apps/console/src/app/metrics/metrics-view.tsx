'use client';
import { useRouter } from 'next/navigation';
import { useEffect, useState } from 'react';
import { LineChart, type ChartData } from '../../components/metrics/line-chart';
import { RangePicker } from '../../components/metrics/range-picker';
import { ErrorBox } from '../../components/ui';
import { useMetricCharts } from '../../data/metrics/use-metric-charts';
import { metricRange, type MetricRangeId } from '../../lib/metric-ranges';

/** The end of the time axis: now, moved on with each refetch so the charts scroll. */
function useNow(tick: unknown): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => setNow(Date.now()), [tick]);
  return now;
}

function ChartCard({ chart, t0, t1 }: { chart: ChartData; t0: number; t1: number }) {
  const points = chart.series.reduce((n, s) => n + s.points.length, 0);
  return (
    <div className="card chart" data-testid="chart" data-points={points}>
      <b>{chart.title}</b> <span className="hint">({chart.unit})</span>
      <LineChart chart={chart} t0={t0} t1={t1} />
      {points === 0 ? <div className="detail">no samples yet</div> : null}
    </div>
  );
}

export function MetricsView({ rangeId }: { rangeId: MetricRangeId }) {
  const router = useRouter();
  const range = metricRange(rangeId);
  const q = useMetricCharts(range.ms);
  const now = useNow(q.dataUpdatedAt);
  return (
    <>
      <h1>Metrics</h1>
      <p>Scraped from every node&apos;s /metrics into Postgres (bounded by age and rows). A long range shows the highest value of each interval.</p>
      <RangePicker value={range.id} onChange={(id) => router.replace(`/metrics?range=${id}`, { scroll: false })} />
      <ErrorBox error={q.error} />
      <div className="charts" data-range={range.id}>
        {(q.data ?? []).map((c) => <ChartCard key={c.metric} chart={c} t0={now - range.ms} t1={now} />)}
      </div>
    </>
  );
}
