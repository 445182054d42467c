import { z } from 'zod';
import { pageserverCompact, pageserverGc, pageserverOverview } from '../services/pageservers';
import { adminProcedure, router, viewerProcedure } from '../trpc';
import { operationOut } from './shapes';
import { start } from './start';

export const pageserversRouter = router({
  overview: viewerProcedure
    .input(z.object({}).optional())
    .output(
      z.object({
        url: z.string(),
        version: z.string(),
        remoteStorage: z.string().nullable(),
        tenants: z.array(z.object({ tenantId: z.string(), timelines: z.number() })),
        timelines: z.array(
          z.object({
            timelineId: z.string(),
            branch: z.string().nullable(),
            ancestorTimelineId: z.string().nullable(),
            ancestorLsn: z.string().nullable(),
            lastRecordLsn: z.string(),
            diskConsistentLsn: z.string(),
            layers: z.number(),
            layerBytes: z.number(),
            openLayerBytes: z.number(),
            gcHorizonLsn: z.string(),
            failing: z.array(z.string()),
          }),
        ),
        tiers: z.array(
          z.object({
            tier: z.string(),
            sizeBytes: z.number(),
            capacityBytes: z.number().nullable(),
            hitRatio: z.number().nullable(),
            pagesServed: z.number(),
            promotions: z.number().nullable(),
            evictions: z.number().nullable(),
          }),
        ),
        uploadQueue: z.number(),
      }),
    )
    .query(({ ctx }) => pageserverOverview(ctx.deps)),
  gc: adminProcedure.input(pageserverGc.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, pageserverGc, input)),
  compact: adminProcedure.input(pageserverCompact.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, pageserverCompact, input)),
});
