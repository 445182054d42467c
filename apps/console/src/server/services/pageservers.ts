/** The page server: tenants, timelines and layers, the three storage tiers, GC and compaction. */
import { z } from 'zod';
import { pageCacheStats, pageserverMetrics, pageserverStatus, tenantList, timelineCompact, timelineGc, timelineList } from '@strata/client/pageserver-api';
import type { ConsoleDeps } from '../deps';
import { callClient, TIMEOUT_MS_DEFAULT } from './http';
import { hexId } from './inputs';
import { defineOperation } from './operations';
import { refreshLocalCluster } from './registry';
import { pageserverTarget } from './cluster';
import { parsePrometheus, sumWhere } from './prometheus';
import { tierRatios } from './metrics';
import { timelineAlerts } from './alerts';

export async function pageserverOverview(deps: ConsoleDeps) {
  const c = await refreshLocalCluster(deps);
  const ps = pageserverTarget(c);
  const opts = { timeoutMs: TIMEOUT_MS_DEFAULT };
  const [status, tenants, timelines, cache, metricsText] = await Promise.all([
    callClient(ps, 'status', (t) => pageserverStatus(t, opts)),
    callClient(ps, 'tenant list', (t) => tenantList(t, opts)),
    callClient(ps, 'timeline list', (t) => timelineList(t, c.registry.tenantId, opts)),
    callClient(ps, 'page cache', (t) => pageCacheStats(t, opts)),
    callClient(ps, 'metrics', (t) => pageserverMetrics(t, opts)),
  ]);
  const samples = parsePrometheus(metricsText);
  const ratios = Object.fromEntries(tierRatios(samples));
  const served = (tier: string) => sumWhere(samples, 'pageserver_getpage_tier_pages_total', { tier });
  const localBytes = sumWhere(samples, 'pageserver_layer_bytes');
  return {
    url: ps.url,
    version: status.version,
    remoteStorage: status.remoteStorage ?? null,
    tenants,
    timelines: timelines.map((t) => ({
      timelineId: t.timelineId,
      branch: c.registry.branches.find((b) => b.timelineId === t.timelineId)?.name ?? null,
      ancestorTimelineId: t.ancestor?.timelineId ?? null,
      ancestorLsn: t.ancestor?.lsn.toString() ?? null,
      lastRecordLsn: t.lastRecordLsn.toString(),
      diskConsistentLsn: t.diskConsistentLsn.toString(),
      layers: t.layers,
      layerBytes: t.layerBytes,
      openLayerBytes: t.openLayerBytes,
      gcHorizonLsn: String(sumWhere(samples, 'pageserver_gc_horizon_lsn', { timeline_id: t.timelineId })),
      // Background work still failing on this timeline, with the page server's own message.
      failing: timelineAlerts(c.registry.branches.find((b) => b.timelineId === t.timelineId)?.name ?? t.timelineId, t, '/pageservers').map((a) => a.message),
    })),
    tiers: [
      {
        tier: 'memory',
        sizeBytes: cache.bytes,
        capacityBytes: cache.capacityBytes,
        hitRatio: ratios['tier_ratio_memory'] ?? null,
        pagesServed: served('memory'),
        promotions: cache.inserts,
        evictions: cache.evictions,
      },
      {
        tier: 'local disk',
        sizeBytes: localBytes,
        capacityBytes: null,
        hitRatio: ratios['tier_ratio_local'] ?? null,
        pagesServed: served('local'),
        promotions: sumWhere(samples, 'pageserver_remote_downloads'),
        evictions: null,
      },
      {
        tier: 'remote storage',
        sizeBytes: sumWhere(samples, 'pageserver_remote_uploaded_bytes'),
        capacityBytes: null,
        hitRatio: ratios['tier_ratio_remote'] ?? null,
        pagesServed: served('remote'),
        promotions: null,
        evictions: null,
      },
    ],
    uploadQueue: sumWhere(samples, 'pageserver_remote_upload_queue'),
  };
}

export const pageserverGc = defineOperation({
  kind: 'pageserver.gc',
  input: z.object({ timelineId: hexId, pitrMs: z.number().int().min(0).max(365 * 86_400_000).optional() }),
  steps: () => ['garbage-collect layers (page server API)'],
  async run(ctx, input) {
    const ps = pageserverTarget(ctx.cluster);
    return ctx.step(0, async (detail) => {
      const r = await callClient(ps, `GC of timeline ${input.timelineId}`, (t) => timelineGc(t, ctx.cluster.registry.tenantId, input.timelineId, { pitrMs: input.pitrMs }, { timeoutMs: 120_000 }));
      detail(`horizon ${r.horizon}: ${r.layersBefore} → ${r.layersAfter} layers`);
      // The operation's result is JSON: LSNs as decimal text, as the page server sent them.
      return { ...r, horizon: r.horizon.toString(), retained: r.retained.map(String) };
    });
  },
});

export const pageserverCompact = defineOperation({
  kind: 'pageserver.compact',
  input: z.object({ timelineId: hexId, force: z.boolean().default(false) }),
  steps: () => ['compact layers (page server API)'],
  async run(ctx, input) {
    const ps = pageserverTarget(ctx.cluster);
    return ctx.step(0, async (detail) => {
      const r = await callClient(ps, `compact timeline ${input.timelineId}`, (t) => timelineCompact(t, ctx.cluster.registry.tenantId, input.timelineId, input.force, { timeoutMs: 300_000 }));
      detail(`${r.layers} layers after compaction`);
      // The operation's result is JSON: the image LSN as decimal text, as the page server sent it.
      return { ...r, imageLsn: r.imageLsn?.toString() ?? null };
    });
  },
});
