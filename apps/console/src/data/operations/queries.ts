/** Query options shared by the server prefetch and the client hooks, so both address one cache entry. */
import type { Trpc } from '../../lib/trpc-types';

/** The operations page's list: the latest hundred. */
export const operationsQuery = (trpc: Trpc) => trpc.operations.list.queryOptions({ limit: 100 });

export const operationQuery = (trpc: Trpc, id: string) => trpc.operations.get.queryOptions({ id });
