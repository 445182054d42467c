import { z } from 'zod';
import { lsnByTimestamp, timelineDetails } from '@strata/client/pageserver-api';
import type { ConsoleDeps } from '../deps';
import { pageserverTarget } from '../services/cluster';
import { callClient } from '../services/http';
import { branchName, lsnInput, pastIsoTime } from '../services/inputs';
import { refreshLocalCluster } from '../services/registry';
import { timeTravelQuery } from '../services/timetravel';
import { router, viewerProcedure } from '../trpc';
import { iso } from './shapes';

/**
 * The point a query read, as the operator should see it: the LSN it ran at and the time that LSN
 * stands for. A time is turned into an LSN by the page server's LSN ↔ time map (the same call the
 * compute start makes, so the same answer); head is the branch's last record when the query started.
 */
const asOfOut = z.object({ mode: z.enum(['time', 'lsn', 'head']), lsn: z.string().nullable(), at: iso.nullable() });
type AsOf = z.infer<typeof asOfOut>;

async function branchTimeline(deps: ConsoleDeps, branch: string) {
  const c = await refreshLocalCluster(deps);
  const timelineId = c.registry.branches.find((b) => b.name === branch)?.timelineId;
  return { c, target: pageserverTarget(c), timelineId };
}

async function headNow(deps: ConsoleDeps, branch: string): Promise<AsOf> {
  const at = deps.now().toISOString();
  const { c, target, timelineId } = await branchTimeline(deps, branch);
  if (!timelineId) return { mode: 'head', lsn: null, at };
  const t = await callClient(target, `timeline ${timelineId}`, (ps) => timelineDetails(ps, c.registry.tenantId, timelineId, { timeoutMs: 2_000 })).catch(() => null);
  return { mode: 'head', lsn: t?.lastRecordLsn.toString() ?? null, at };
}

async function lsnAtTime(deps: ConsoleDeps, branch: string, at: string): Promise<AsOf> {
  const { c, target, timelineId } = await branchTimeline(deps, branch);
  const lsn = timelineId ? await callClient(target, 'lsn by time', () => lsnByTimestamp(target, c.registry.tenantId, timelineId, new Date(at))).catch(() => null) : null;
  return { mode: 'time', lsn: lsn?.toString() ?? null, at: new Date(at).toISOString() };
}

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
    .output(z.object({ compute: z.string(), columns: z.array(z.string()), rows: z.array(z.array(z.string().nullable())), truncated: z.boolean(), elapsedMs: z.number(), asOf: asOfOut }))
    .mutation(async ({ ctx, input }) => {
      // Head moves: read before the compute starts, the point the query can be no older than.
      const head = input.lsn === undefined && input.at === undefined ? await headNow(ctx.deps, input.branch) : null;
      const r = await timeTravelQuery(ctx.deps, input, ctx.session.operator.id);
      const asOf: AsOf = head ?? (input.at !== undefined ? await lsnAtTime(ctx.deps, input.branch, input.at) : { mode: 'lsn', lsn: input.lsn ?? null, at: null });
      return { ...r, asOf };
    }),
});
