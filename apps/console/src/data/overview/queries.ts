/** Query options shared by the server prefetch and the client hook, so both address one cache entry. */
import type { Trpc } from '../../lib/trpc-types';

export const overviewQuery = (trpc: Trpc) => trpc.overview.get.queryOptions();
