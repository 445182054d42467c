import type { Trpc } from '../../lib/trpc-types';

export const pageserverKeys = {
  all: (trpc: Trpc) => trpc.pageservers.pathKey(),
};
