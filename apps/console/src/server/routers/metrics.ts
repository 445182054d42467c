import { z } from 'zod';
import { charts, scrapeOnce } from '../services/metrics';
import { adminProcedure, router, viewerProcedure } from '../trpc';

export const metricsRouter = router({
  charts: viewerProcedure
    .input(z.object({ sinceMs: z.number().int().min(1_000).max(7 * 86_400_000).default(15 * 60_000) }).optional())
    .output(
      z.array(
        z.object({
          metric: z.string(),
          title: z.string(),
          unit: z.string(),
          series: z.array(z.object({ source: z.string(), points: z.array(z.object({ t: z.number(), v: z.number() })) })),
        }),
      ),
    )
    .query(({ ctx, input }) => charts(ctx.deps, input?.sinceMs ?? 15 * 60_000)),
  /** A scrape now, besides the background interval (tests, and the "refresh" button). */
  scrape: adminProcedure
    .input(z.object({}).optional())
    .output(z.object({ stored: z.number(), pruned: z.number(), errors: z.array(z.string()) }))
    .mutation(({ ctx }) => scrapeOnce(ctx.deps)),
});
