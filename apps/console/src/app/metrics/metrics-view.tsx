'use client';
import { ErrorBox } from '../../components/ui';
import { useMetricCharts } from '../../data/metrics/use-metric-charts';

const COLORS = ['#3d5afe', '#e65100', '#2e7d32', '#6a1b9a', '#00838f'];

/** A plain SVG line chart: enough for a few series of a few hundred points. */
function Chart({ title, unit, series }: { title: string; unit: string; series: { source: string; points: { t: number; v: number }[] }[] }) {
  const w = 340;
  const h = 140;
  const all = series.flatMap((s) => s.points);
  const t0 = Math.min(...all.map((p) => p.t));
  const t1 = Math.max(...all.map((p) => p.t));
  const top = Math.max(0, ...all.map((p) => p.v));
  // The scale never divides by zero; the label says the real maximum (an all-zero series is "max 0", not 1e-9).
  const vMax = Math.max(1e-9, top);
  const x = (t: number) => (t1 > t0 ? ((t - t0) / (t1 - t0)) * (w - 10) + 5 : w / 2);
  const y = (v: number) => h - 18 - (v / vMax) * (h - 30);
  return (
    <div className="card" data-testid="chart" data-points={all.length}>
      <b>{title}</b> <span className="detail">({unit}, max {top === 0 ? '0' : top.toPrecision(3)})</span>
      <svg viewBox={`0 0 ${w} ${h}`} width="100%" height={h} role="img" aria-label={title}>
        <line x1={0} y1={h - 18} x2={w} y2={h - 18} stroke="#ccc" />
        {series.map((s, i) =>
          s.points.length > 1 ? (
            <polyline key={s.source} fill="none" stroke={COLORS[i % COLORS.length]} strokeWidth={1.5} points={s.points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ')} />
          ) : (
            s.points.map((p) => <circle key={`${s.source}-${p.t}`} cx={x(p.t)} cy={y(p.v)} r={3} fill={COLORS[i % COLORS.length]} />)
          ),
        )}
        {series.map((s, i) => (
          <text key={s.source} x={5 + i * 110} y={h - 4} fontSize={10} fill={COLORS[i % COLORS.length]}>{s.source}</text>
        ))}
      </svg>
      {all.length === 0 ? <div className="detail">no samples yet</div> : null}
    </div>
  );
}

export function MetricsView() {
  const q = useMetricCharts();
  return (
    <>
      <h1>Metrics</h1>
      <p>Scraped from every node&apos;s /metrics into Postgres (bounded by age and rows).</p>
      <ErrorBox error={q.error} />
      <div className="charts">{(q.data ?? []).map((c) => <Chart key={c.metric} title={c.title} unit={c.unit} series={c.series} />)}</div>
    </>
  );
}
