import type { Trpc } from '../../lib/trpc-types';

export const branchKeys = {
  all: (trpc: Trpc) => trpc.branches.pathKey(),
};
