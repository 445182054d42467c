import { z } from 'zod';
import { snapshotCreate, snapshotDelete, snapshotList, snapshotRestore } from '../services/snapshots';
import { adminProcedure, router, viewerProcedure } from '../trpc';
import { iso, operationOut } from './shapes';
import { start } from './start';

export const snapshotsRouter = router({
  list: viewerProcedure
    .input(z.object({}).optional())
    .output(z.array(z.object({ name: z.string(), branch: z.string(), lsn: z.string(), createdAt: iso })))
    .query(async ({ ctx }) => (await snapshotList(ctx.deps)).map((s) => ({ name: s.name, branch: s.branchName, lsn: s.lsn, createdAt: s.createdAt.toISOString() }))),
  create: adminProcedure.input(snapshotCreate.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, snapshotCreate, input)),
  restore: adminProcedure.input(snapshotRestore.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, snapshotRestore, input)),
  delete: adminProcedure.input(snapshotDelete.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, snapshotDelete, input)),
});
