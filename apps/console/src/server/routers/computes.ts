import { z } from 'zod';
import { clusterView } from '../services/cluster';
import { refreshLocalCluster } from '../services/registry';
import { computeStart, computeStop } from '../services/computes';
import { withoutPassword } from '../services/secrets';
import { adminProcedure, router, viewerProcedure } from '../trpc';
import { operationOut } from './shapes';
import { start } from './start';

export const computesRouter = router({
  list: viewerProcedure
    .input(z.object({}).optional())
    .output(
      z.array(
        z.object({
          name: z.string(),
          mode: z.string(),
          state: z.string(),
          branch: z.string().nullable(),
          connectionUrl: z.string().nullable(),
          shippedLsn: z.string().nullable(),
          commitLsn: z.string().nullable(),
          lagBytes: z.string().nullable(),
          lagMs: z.number().nullable(),
          error: z.string().nullable(),
        }),
      ),
    )
    .query(async ({ ctx }) => {
      const c = await refreshLocalCluster(ctx.deps);
      const v = await clusterView(ctx.deps, c);
      // The URL names the root account's password: admins connect with it, viewers only see where a compute is.
      const admin = ctx.session.operator.role === 'admin';
      return v.computes.map((cv) => ({
        name: cv.name,
        mode: cv.mode,
        state: cv.state,
        branch: c.registry.branches.find((b) => b.timelineId === cv.timelineId)?.name ?? null,
        connectionUrl: cv.connectionUrl === null || admin ? cv.connectionUrl : withoutPassword(cv.connectionUrl),
        shippedLsn: cv.shipper?.shippedLsn ?? null,
        commitLsn: cv.shipper?.commitLsn ?? null,
        lagBytes: cv.shipper?.lagBytes ?? null,
        lagMs: cv.shipper?.lagMs ?? null,
        error: cv.error,
      }));
    }),
  start: adminProcedure.input(computeStart.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, computeStart, input)),
  stop: adminProcedure.input(computeStop.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, computeStop, input)),
});
