/** The time ranges the metrics page offers, by the name the URL carries (`/metrics?range=1h`). */
import { z } from 'zod';

export const METRIC_RANGES = [
  { id: '15m', label: '15 min', ms: 15 * 60_000 },
  { id: '1h', label: '1 h', ms: 3_600_000 },
  { id: '6h', label: '6 h', ms: 6 * 3_600_000 },
] as const;

export const metricRangeId = z.enum(['15m', '1h', '6h']);
export type MetricRangeId = z.infer<typeof metricRangeId>;
export const DEFAULT_METRIC_RANGE: MetricRangeId = '15m';

/** A `range` search parameter as a range; anything else is the default. */
export function metricRange(value: string | string[] | null | undefined): (typeof METRIC_RANGES)[number] {
  const r = metricRangeId.safeParse(value);
  const id = r.success ? r.data : DEFAULT_METRIC_RANGE;
  return METRIC_RANGES.find((x) => x.id === id)!;
}
