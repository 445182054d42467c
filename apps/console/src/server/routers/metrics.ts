import { z } from 'zod';
import { charts, scrapeOnce } from '../services/metrics';
import { downsampleMax } from '../../lib/downsample';
import { adminProcedure, router, viewerProcedure } from '../trpc';

/** Points per series a chart gets: about one per pixel of a wide chart; a 6 h range has thousands of samples. */
const POINTS_PER_SERIES_MAX = 400;

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
    .query(async ({ ctx, input }) => {
      const sinceMs = input?.sinceMs ?? 15 * 60_000;
      const t1 = ctx.deps.now().getTime();
      return (await charts(ctx.deps, sinceMs)).map((c) => ({ ...c, series: c.series.map((s) => ({ ...s, points: downsampleMax(s.points, t1 - sinceMs, t1, POINTS_PER_SERIES_MAX) })) }));
    }),
  /** A scrape now, besides the background interval (tests, and the "refresh" button). */
  scrape: adminProcedure
    .input(z.object({}).optional())
    .output(z.object({ stored: z.number(), pruned: z.number(), errors: z.array(z.string()) }))
    .mutation(({ ctx }) => scrapeOnce(ctx.deps)),
});
