import type { Trpc } from '../../lib/trpc-types';

export const operatorKeys = {
  /** The list and `me`. */
  all: (trpc: Trpc) => trpc.operators.pathKey(),
  /** Every query of every router: what they answer depends on who is signed in. */
  session: (trpc: Trpc) => trpc.pathKey(),
};
