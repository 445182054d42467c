/** Query options shared by the server prefetch and the client hook, so both address one cache entry. */
import type { Trpc } from '../../lib/trpc-types';

/** The last 30 minutes: what the metrics page charts. */
export const metricChartsQuery = (trpc: Trpc) => trpc.metrics.charts.queryOptions({ sinceMs: 30 * 60_000 });
