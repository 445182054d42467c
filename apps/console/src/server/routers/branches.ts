import { z } from 'zod';
import { timelineList } from '@strata/client/pageserver-api';
import { branchCreate, branchDelete, branchReset, branchRestore, listBranchTree } from '../services/branches';
import { callClient } from '../services/http';
import { pageserverTarget } from '../services/cluster';
import { adminProcedure, router, viewerProcedure } from '../trpc';
import { iso, operationOut } from './shapes';
import { start } from './start';

const branchOut = z.object({
  name: z.string(),
  timelineId: z.string(),
  parent: z.string().nullable(),
  lsn: z.string().nullable(),
  createdAt: iso,
  lastRecordLsn: z.string().nullable(),
  layerBytes: z.number().nullable(),
});

export const branchesRouter = router({
  list: viewerProcedure
    .input(z.object({}).optional())
    .output(z.array(branchOut))
    .query(async ({ ctx }) => {
      const { cluster, branches } = await listBranchTree(ctx.deps);
      // Sizes and heads come from the page server; the tree still shows when it is down.
      const timelines = await callClient(pageserverTarget(cluster), 'timeline list', (t) => timelineList(t, cluster.registry.tenantId, { timeoutMs: 2_000 })).catch(() => []);
      return branches.map((b) => {
        const t = timelines.find((x) => x.timelineId === b.timelineId);
        return { name: b.name, timelineId: b.timelineId, parent: b.parentName, lsn: b.lsn, createdAt: b.createdAt.toISOString(), lastRecordLsn: t?.lastRecordLsn.toString() ?? null, layerBytes: t?.layerBytes ?? null };
      });
    }),
  create: adminProcedure.input(branchCreate.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, branchCreate, input)),
  delete: adminProcedure.input(branchDelete.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, branchDelete, input)),
  reset: adminProcedure.input(branchReset.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, branchReset, input)),
  restore: adminProcedure.input(branchRestore.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, branchRestore, input)),
});
