import { join } from 'node:path';
import { clearComputeExit, computeNameSchema, computesDir } from '@strata/client/local';
import { z } from 'zod';
import { clusterView } from '../services/cluster';
import { readComputeFiles, refreshLocalCluster } from '../services/registry';
import { notFound } from '../services/errors';
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
      // Polled every few seconds by every open page, admins' included: the password stays out of it
      // (a proxy log, a devtools HAR, a cached response would all hold it). `connection` hands it out on request.
      return v.computes.map((cv) => ({
        name: cv.name,
        mode: cv.mode,
        state: cv.state,
        branch: c.registry.branches.find((b) => b.timelineId === cv.timelineId)?.name ?? null,
        connectionUrl: cv.connectionUrl === null ? null : withoutPassword(cv.connectionUrl),
        shippedLsn: cv.shipper?.shippedLsn ?? null,
        commitLsn: cv.shipper?.commitLsn ?? null,
        lagBytes: cv.shipper?.lagBytes ?? null,
        lagMs: cv.shipper?.lagMs ?? null,
        error: cv.error,
      }));
    }),
  /** One compute's URL with the password: asked for only when an admin reveals or copies it. */
  connection: adminProcedure
    .input(z.object({ name: z.string().min(1).max(200) }))
    .output(z.object({ name: z.string(), connectionUrl: z.string() }))
    .query(({ ctx, input }) => {
      const url = readComputeFiles(ctx.deps.home).find((f) => f.name === input.name)?.connectionUrl;
      if (url === undefined) throw notFound(`connection of compute ${input.name}`);
      return { name: input.name, connectionUrl: url };
    }),
  /** An admin has seen why a compute stopped (fenced): its alert goes away; the compute stays stopped. */
  acknowledgeExit: adminProcedure
    .input(z.object({ name: computeNameSchema }))
    .output(z.object({ name: z.string() }))
    .mutation(({ ctx, input }) => {
      clearComputeExit(join(computesDir(ctx.deps.home), input.name));
      return { name: input.name };
    }),
  start: adminProcedure.input(computeStart.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, computeStart, input)),
  stop: adminProcedure.input(computeStop.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, computeStop, input)),
});
