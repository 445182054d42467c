import type { Trpc } from '../../lib/trpc-types';

export const operationKeys = {
  /** Every list, whatever its filter: a started or ended operation changes them all. */
  lists: (trpc: Trpc) => trpc.operations.list.pathKey(),
};
