import { z } from 'zod';
import { clusterView } from '../services/cluster';
import { highestCommit, ingestLagBytes } from '../services/ingest-lag';
import { refreshLocalCluster } from '../services/registry';
import { router, viewerProcedure } from '../trpc';

const nodeOut = z.object({ kind: z.enum(['safekeeper', 'pageserver', 'compute']), name: z.string(), url: z.string(), healthy: z.boolean(), version: z.string().nullable(), error: z.string().nullable() });

export const overviewRouter = router({
  get: viewerProcedure
    .input(z.object({}).optional())
    .output(
      z.object({
        tenantId: z.string(),
        nodes: z.array(nodeOut),
        timelines: z.array(
          z.object({
            branch: z.string().nullable(),
            timelineId: z.string(),
            lastRecordLsn: z.string(),
            diskConsistentLsn: z.string(),
            commitLsn: z.string().nullable(),
            ingestLagBytes: z.string().nullable(),
          }),
        ),
        computes: z.array(z.object({ name: z.string(), mode: z.string(), state: z.string(), lagBytes: z.string().nullable(), lagMs: z.number().nullable() })),
        alerts: z.array(z.object({ severity: z.enum(['critical', 'warning']), message: z.string(), href: z.string().nullable(), acknowledgeCompute: z.string().nullable() })),
      }),
    )
    .query(async ({ ctx }) => {
      const c = await refreshLocalCluster(ctx.deps);
      const v = await clusterView(ctx.deps, c);
      return {
        tenantId: c.registry.tenantId,
        nodes: v.nodes,
        timelines: v.pageserverTimelines.map((t) => {
          const commit = highestCommit(v.safekeeperTimelines.flatMap((s) => s.timelines.filter((x) => x.timelineId === t.timelineId).map((x) => BigInt(x.commitLsn))));
          return {
            branch: c.registry.branches.find((b) => b.timelineId === t.timelineId)?.name ?? null,
            timelineId: t.timelineId,
            lastRecordLsn: t.lastRecordLsn.toString(),
            diskConsistentLsn: t.diskConsistentLsn.toString(),
            commitLsn: commit?.toString() ?? null,
            // The same definition the "Ingest lag" chart's scraper stores (services/ingest-lag.ts).
            ingestLagBytes: ingestLagBytes(commit, t.lastRecordLsn)?.toString() ?? null,
          };
        }),
        computes: v.computes.map((cv) => ({ name: cv.name, mode: cv.mode, state: cv.state, lagBytes: cv.shipper?.lagBytes ?? null, lagMs: cv.shipper?.lagMs ?? null })),
        alerts: v.alerts.map((a) => ({ severity: a.severity, message: a.message, href: a.href ?? null, acknowledgeCompute: a.acknowledgeCompute ?? null })),
      };
    }),
});
