import type { Trpc } from '../../lib/trpc-types';

export const overviewKeys = {
  all: (trpc: Trpc) => trpc.overview.pathKey(),
};
