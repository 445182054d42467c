import type { Trpc } from '../../lib/trpc-types';

export const computeKeys = {
  all: (trpc: Trpc) => trpc.computes.pathKey(),
};
