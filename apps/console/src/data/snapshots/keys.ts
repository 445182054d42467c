import type { Trpc } from '../../lib/trpc-types';

export const snapshotKeys = {
  all: (trpc: Trpc) => trpc.snapshots.pathKey(),
};
