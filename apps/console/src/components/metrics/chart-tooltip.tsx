import { formatTime, formatValue } from '../../lib/chart-scale';
import { SERIES_COLOURS } from './chart-legend';

export interface HoverValue {
  source: string;
  index: number;
  v: number;
}

/** The values under the pointer: the time and each series' value there, beside the crosshair. */
export function ChartTooltip({ t, unit, values, leftPx, flip }: { t: number; unit: string; values: HoverValue[]; leftPx: number; flip: boolean }) {
  return (
    <div className="chart-tooltip" data-testid="chart-tooltip" style={flip ? { right: `calc(100% - ${leftPx - 8}px)` } : { left: leftPx + 8 }}>
      <div className="mono">{formatTime(t, true)}</div>
      {values.map((h) => (
        <div key={h.source}>
          <span className={`swatch series-${h.index % SERIES_COLOURS}`} aria-hidden="true" /> {h.source}: <b>{formatValue(unit, h.v)}</b>
        </div>
      ))}
    </div>
  );
}
