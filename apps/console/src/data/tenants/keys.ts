import type { Trpc } from '../../lib/trpc-types';

export const tenantKeys = {
  all: (trpc: Trpc) => trpc.tenants.pathKey(),
};
