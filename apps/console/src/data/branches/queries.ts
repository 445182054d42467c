/** Query options shared by the server prefetch and the client hook, so both address one cache entry. */
import type { Trpc } from '../../lib/trpc-types';

export const branchesQuery = (trpc: Trpc) => trpc.branches.list.queryOptions();

export const branchQuery = (trpc: Trpc, name: string) => trpc.branches.get.queryOptions({ name });
