import type { Trpc } from '../../lib/trpc-types';

export const safekeeperKeys = {
  all: (trpc: Trpc) => trpc.safekeepers.pathKey(),
};
