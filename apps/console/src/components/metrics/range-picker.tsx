'use client';
import { METRIC_RANGES, type MetricRangeId } from '../../lib/metric-ranges';

/** The charts' time range: one pressed button of a few. */
export function RangePicker({ value, onChange }: { value: MetricRangeId; onChange: (id: MetricRangeId) => void }) {
  return (
    <div className="segmented" role="group" aria-label="Time range" data-testid="range-picker">
      {METRIC_RANGES.map((r) => (
        <button key={r.id} type="button" className={r.id === value ? '' : 'secondary'} aria-pressed={r.id === value} onClick={() => onChange(r.id)}>
          {r.label}
        </button>
      ))}
    </div>
  );
}
