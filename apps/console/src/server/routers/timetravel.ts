import { z } from 'zod';
import { branchName, lsnInput, pastIsoTime } from '../services/inputs';
import { timeTravelQuery } from '../services/timetravel';
import { router, viewerProcedure } from '../trpc';

export const timeTravelRouter = router({
  /**
   * Read-only by construction (one read statement, a read-only compute, a read-only session),
   * so viewers may run it: it changes nothing in the cluster.
   */
  query: viewerProcedure
    .input(
      z
        .object({ branch: branchName, lsn: lsnInput.optional(), at: pastIsoTime.optional(), sql: z.string().min(1).max(10_000), database: z.string().regex(/^[A-Za-z0-9_$]{1,64}$/).optional() })
        .refine((v) => !(v.lsn && v.at), 'give an LSN or a time, not both'),
    )
    .output(z.object({ compute: z.string(), columns: z.array(z.string()), rows: z.array(z.array(z.string().nullable())), truncated: z.boolean(), elapsedMs: z.number() }))
    .mutation(({ ctx, input }) => timeTravelQuery(ctx.deps, input, ctx.session.operator.id)),
});
