'use client';
import { useState, type PointerEvent } from 'react';
import { formatTime, formatValue, timeTicks, valueTicks } from '../../lib/chart-scale';
import { useHydrated } from '../hydration';
import { useWidth } from '../use-width';
import { ChartLegend, SERIES_COLOURS } from './chart-legend';
import { ChartTooltip, type HoverValue } from './chart-tooltip';
import { nearestPoint } from './nearest';

export interface ChartData {
  title: string;
  unit: string;
  series: { source: string; points: { t: number; v: number }[] }[];
}

const HEIGHT = 180;
const M = { left: 64, right: 12, top: 10, bottom: 22 };

/**
 * A line chart of a few series over [t0, t1]: a value axis from zero with round, labelled ticks, a
 * time axis in the browser's zone, values under the pointer, and a legend below. Drawn once hydrated:
 * the times are the browser's, which the server does not know.
 */
export function LineChart({ chart, t0, t1 }: { chart: ChartData; t0: number; t1: number }) {
  const hydrated = useHydrated();
  const { ref, width } = useWidth<HTMLDivElement>(340);
  const [hoverT, setHoverT] = useState<number | null>(null);
  const all = chart.series.flatMap((s) => s.points);
  const ticks = valueTicks(Math.max(0, ...all.map((p) => p.v)));
  const top = ticks[ticks.length - 1]!;
  const plotW = Math.max(10, width - M.left - M.right);
  const plotH = HEIGHT - M.top - M.bottom;
  const x = (t: number) => M.left + ((t - t0) / (t1 - t0)) * plotW;
  const y = (v: number) => M.top + plotH - (v / top) * plotH;
  const times = timeTicks(t0, t1);
  const seconds = times.length > 1 && times[1]! - times[0]! < 60_000;

  const hover: { t: number; values: HoverValue[] } | null = (() => {
    if (hoverT === null) return null;
    const near = chart.series.map((s, index) => ({ source: s.source, index, p: nearestPoint(s.points, hoverT) }));
    const at = near.map((n) => n.p).filter((p) => p !== undefined).sort((a, b) => Math.abs(a.t - hoverT) - Math.abs(b.t - hoverT))[0];
    if (!at) return null;
    return { t: at.t, values: near.flatMap((n) => (n.p ? [{ source: n.source, index: n.index, v: n.p.v }] : [])) };
  })();
  const onMove = (e: PointerEvent<SVGSVGElement>) => {
    const left = e.currentTarget.getBoundingClientRect().left;
    const px = Math.min(Math.max(e.clientX - left, M.left), M.left + plotW);
    setHoverT(t0 + ((px - M.left) / plotW) * (t1 - t0));
  };

  return (
    <div ref={ref} className="chart-plot">
      {hydrated ? (
        <svg width={width} height={HEIGHT} role="img" aria-label={`${chart.title}, ${chart.unit}`} onPointerMove={onMove} onPointerLeave={() => setHoverT(null)}>
          {ticks.map((v) => (
            <g key={v}>
              <line className="chart-grid" x1={M.left} x2={M.left + plotW} y1={y(v)} y2={y(v)} />
              <text className="chart-tick" data-testid="y-tick" x={M.left - 6} y={y(v) + 4} textAnchor="end">{formatValue(chart.unit, v)}</text>
            </g>
          ))}
          {times.map((t) => (
            <text key={t} className="chart-tick" data-testid="x-tick" x={x(t)} y={HEIGHT - 6} textAnchor="middle">{formatTime(t, seconds)}</text>
          ))}
          <line className="chart-axis" x1={M.left} x2={M.left + plotW} y1={y(0)} y2={y(0)} />
          {chart.series.map((s, i) =>
            s.points.length > 1 ? (
              <polyline key={s.source} className={`chart-line series-${i % SERIES_COLOURS}`} points={s.points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ')} />
            ) : (
              s.points.map((p) => <circle key={`${s.source}-${p.t}`} className={`chart-dot series-${i % SERIES_COLOURS}`} cx={x(p.t)} cy={y(p.v)} r={3} />)
            ),
          )}
          {hover ? (
            <g data-testid="crosshair">
              <line className="chart-crosshair" x1={x(hover.t)} x2={x(hover.t)} y1={M.top} y2={M.top + plotH} />
              {hover.values.map((h) => <circle key={h.source} className={`chart-dot series-${h.index % SERIES_COLOURS}`} cx={x(hover.t)} cy={y(h.v)} r={3.5} />)}
            </g>
          ) : null}
        </svg>
      ) : (
        <div style={{ height: HEIGHT }} />
      )}
      {hover ? <ChartTooltip t={hover.t} unit={chart.unit} values={hover.values} leftPx={x(hover.t)} flip={x(hover.t) > width / 2} /> : null}
      <ChartLegend unit={chart.unit} series={chart.series} />
    </div>
  );
}
