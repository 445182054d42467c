import { z } from 'zod';
import { tenantCreate, tenantDelete, tenantList } from '../services/tenants';
import { adminProcedure, router, viewerProcedure } from '../trpc';
import { iso, operationOut } from './shapes';
import { start } from './start';

export const tenantsRouter = router({
  list: viewerProcedure
    .input(z.object({}).optional())
    .output(z.array(z.object({ id: z.string(), tenantId: z.string(), name: z.string(), createdAt: iso, local: z.boolean(), timelines: z.number().nullable() })))
    .query(async ({ ctx }) => (await tenantList(ctx.deps)).map((t) => ({ id: t.id, tenantId: t.tenantId, name: t.name, createdAt: t.createdAt.toISOString(), local: t.local, timelines: t.timelines }))),
  create: adminProcedure.input(tenantCreate.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, tenantCreate, input)),
  delete: adminProcedure.input(tenantDelete.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, tenantDelete, input)),
});
