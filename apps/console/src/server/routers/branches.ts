import { z } from 'zod';
import { timelineDetails, timelineList } from '@strata/client/pageserver-api';
import { branchCreate, branchDelete, branchReset, branchRestore, listBranchTree } from '../services/branches';
import { callClient } from '../services/http';
import { errorMessage, notFound } from '../services/errors';
import { branchName } from '../services/inputs';
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
  /** Where the timeline's own WAL starts (its import or branch point); null while the page server is down. */
  startLsn: z.string().nullable(),
  lastRecordLsn: z.string().nullable(),
  layerBytes: z.number().nullable(),
});

/** One branch as its page shows it: the list's fields and the page server's view of its timeline. */
const branchDetailOut = branchOut.extend({
  children: z.array(z.string()),
  timeline: z
    .object({
      diskConsistentLsn: z.string(),
      remoteConsistentLsn: z.string().nullable(),
      layers: z.number(),
      openLayerBytes: z.number(),
      walReceiver: z.string().nullable(),
    })
    .nullable(),
  /** Why `timeline` is null: the page server's error, so the page can say it instead of showing nothing. */
  timelineError: z.string().nullable(),
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
        return { name: b.name, timelineId: b.timelineId, parent: b.parentName, lsn: b.lsn, createdAt: b.createdAt.toISOString(), startLsn: t?.initLsn.toString() ?? null, lastRecordLsn: t?.lastRecordLsn.toString() ?? null, layerBytes: t?.layerBytes ?? null };
      });
    }),
  get: viewerProcedure
    .input(z.object({ name: branchName }))
    .output(branchDetailOut)
    .query(async ({ ctx, input }) => {
      const { cluster, branches } = await listBranchTree(ctx.deps);
      const b = branches.find((x) => x.name === input.name);
      if (!b) throw notFound(`branch ${input.name}`);
      // The branch's facts stand without the page server; its LSNs and layers come with it when it answers.
      const t = await callClient(pageserverTarget(cluster), `timeline ${b.timelineId}`, (ps) => timelineDetails(ps, cluster.registry.tenantId, b.timelineId, { timeoutMs: 2_000 })).then(
        (value) => ({ value, error: null }),
        (e: unknown) => ({ value: null, error: errorMessage(e) }),
      );
      const v = t.value;
      return {
        name: b.name,
        timelineId: b.timelineId,
        parent: b.parentName,
        lsn: b.lsn,
        createdAt: b.createdAt.toISOString(),
        startLsn: v?.initLsn.toString() ?? null,
        lastRecordLsn: v?.lastRecordLsn.toString() ?? null,
        layerBytes: v?.layerBytes ?? null,
        children: branches.filter((x) => x.parentName === b.name).map((x) => x.name),
        timeline: v
          ? {
              diskConsistentLsn: v.diskConsistentLsn.toString(),
              remoteConsistentLsn: v.remote?.remoteConsistentLsn.toString() ?? null,
              layers: v.layers,
              openLayerBytes: v.openLayerBytes,
              walReceiver: v.walReceiver?.state ?? null,
            }
          : null,
        timelineError: t.error,
      };
    }),
  create: adminProcedure.input(branchCreate.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, branchCreate, input)),
  delete: adminProcedure.input(branchDelete.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, branchDelete, input)),
  reset: adminProcedure.input(branchReset.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, branchReset, input)),
  restore: adminProcedure.input(branchRestore.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, branchRestore, input)),
});
