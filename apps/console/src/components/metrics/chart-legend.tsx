import { formatValue } from '../../lib/chart-scale';

/** One line per series, in HTML (it wraps, it stays readable at any width): its colour, its source, its latest value. */
export function ChartLegend({ unit, series }: { unit: string; series: { source: string; points: { t: number; v: number }[] }[] }) {
  return (
    <ul className="legend" data-testid="legend">
      {series.map((s, i) => {
        const last = s.points[s.points.length - 1];
        return (
          <li key={s.source}>
            <span className={`swatch series-${i % SERIES_COLOURS}`} aria-hidden="true" /> {s.source}
            <span className="hint"> {last ? `now ${formatValue(unit, last.v)}` : 'no samples'}</span>
          </li>
        );
      })}
    </ul>
  );
}

/** How many series colours styles.css defines (--series-0 …). */
export const SERIES_COLOURS = 5;
