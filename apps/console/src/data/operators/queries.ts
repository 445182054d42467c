/** Query options shared by the server prefetch and the client hooks, so both address one cache entry. */
import type { Trpc } from '../../lib/trpc-types';

/** The signed-in operator, or null: the shell's sign-in gate. */
export const meQuery = (trpc: Trpc) => trpc.operators.me.queryOptions();

export const operatorsQuery = (trpc: Trpc) => trpc.operators.list.queryOptions();
