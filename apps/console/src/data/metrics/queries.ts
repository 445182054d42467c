/** Query options shared by the server prefetch and the client hook, so both address one cache entry. */
import type { Trpc } from '../../lib/trpc-types';

/** The charts over the last `sinceMs` (the range the metrics page shows). */
export const metricChartsQuery = (trpc: Trpc, sinceMs: number) => trpc.metrics.charts.queryOptions({ sinceMs });
