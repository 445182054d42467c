import { Hono } from 'hono';
import { layerFileName } from '@strata/core/layers';
import { authorize, CollectedGauge, PROMETHEUS_CONTENT_TYPE } from '@strata/service-kit';
import type { AppEnv, PageserverDeps } from '../deps.js';
import { CollectedCounter } from '../metrics.js';
import { POLICY } from '../schemas.js';
import { sizedLayers, type Timeline } from '../storage/index.js';
import { BACKGROUND_ERROR_KINDS } from '../background-errors.js';
import { remoteLagBytes } from '../timeline-health.js';

function labels(t: Timeline): Record<string, string> {
  return { tenant_id: t.tenantId, timeline_id: t.timelineId };
}

/** Prometheus text: the registry's metrics plus per-timeline gauges collected at scrape time. */
export function metricsRoutes(deps: PageserverDeps) {
  const perTimeline = (name: string, help: string, value: (t: Timeline) => bigint | number) =>
    new CollectedGauge(name, help, () => deps.tenants.all().map((t) => [labels(t), value(t)]));
  const gauges = [
    perTimeline('pageserver_last_record_lsn', 'End LSN of the last ingested mtr.', (t) => t.lastRecordLsn),
    perTimeline('pageserver_disk_consistent_lsn', 'Every change below this LSN is in a local layer file.', (t) => t.diskConsistentLsn),
    perTimeline('pageserver_open_layer_bytes', 'Bytes held in the in-memory layer.', (t) => t.openLayerBytes),
    new CollectedGauge('pageserver_layers', 'Layer files per timeline and kind (local tier).', () =>
      deps.tenants.all().flatMap((t) => (['image', 'delta'] as const).map((kind) => [{ ...labels(t), kind }, t.layers.filter((l) => l.kind === kind).length] as [Record<string, string>, number])),
    ),
    perTimeline('pageserver_layer_bytes', 'Bytes of layer files on local disk.', (t) => deps.tenants.layerBytes(t)),
    new CollectedGauge('pageserver_layer_kind_bytes', 'Bytes of layer files on local disk per timeline and kind.', () =>
      deps.tenants.all().flatMap((t) => {
        const bytes = { image: 0, delta: 0 };
        for (const { desc, bytes: n } of sizedLayers(t)) if (n !== Number.MAX_SAFE_INTEGER) bytes[desc.kind] += n;
        return (['image', 'delta'] as const).map((kind) => [{ ...labels(t), kind }, bytes[kind]] as [Record<string, string>, number]);
      }),
    ),
    // The remote tier: what is uploaded, what is queued, what came back.
    perTimeline('pageserver_remote_consistent_lsn', 'Everything below this LSN is in remote storage (reported to the safekeepers).', (t) => t.remoteConsistentLsn),
    perTimeline('pageserver_remote_upload_queue', 'Files and index writes waiting for upload to remote storage.', (t) => t.remote?.snapshot().queued ?? 0),
    perTimeline('pageserver_remote_uploaded_bytes', 'Bytes uploaded to remote storage since start.', (t) => t.remote?.snapshot().uploadedBytes ?? 0),
    perTimeline('pageserver_remote_downloaded_bytes', 'Bytes of layer files downloaded back from remote storage since start (promotions to the local tier).', (t) => t.remote?.snapshot().downloadedBytes ?? 0),
    perTimeline('pageserver_remote_downloads', 'Layer files downloaded back from remote storage since start.', (t) => t.remote?.snapshot().downloadedFiles ?? 0),
    perTimeline('pageserver_remote_upload_failures', 'Failed remote storage uploads since start (retried).', (t) => t.remote?.snapshot().failures ?? 0),
    // The upload queue's health: what is waiting, for how long, and whether remote storage is failing now.
    perTimeline('pageserver_remote_upload_queue_tasks', 'Upload queue tasks (files, index writes, deletes) waiting, the one in flight included.', (t) => t.remote?.snapshot().queued ?? 0),
    perTimeline('pageserver_remote_upload_queue_bytes', 'Bytes the queued uploads will send.', (t) => t.remote?.snapshot().pendingBytes ?? 0),
    perTimeline('pageserver_remote_upload_queue_files', 'Layer and aux files waiting for upload.', (t) => t.remote?.snapshot().pendingFiles ?? 0),
    perTimeline('pageserver_remote_upload_oldest_task_age_seconds', 'How long the oldest queued upload task has waited.', (t) => (t.remote?.snapshot().oldestPendingAgeMs ?? 0) / 1000),
    perTimeline('pageserver_remote_upload_consecutive_failures', 'Failed upload attempts since the last success (0: remote storage is healthy).', (t) => t.remote?.snapshot().consecutiveFailures ?? 0),
    perTimeline('pageserver_remote_upload_retry_backoff_seconds', 'Wait before the next upload attempt while failing (0 when healthy).', (t) => (t.remote?.snapshot().backoffMs ?? 0) / 1000),
    perTimeline('pageserver_remote_consistent_lag_bytes', 'Last ingested LSN minus remote_consistent_lsn: WAL the safekeepers keep for this timeline.', (t) => remoteLagBytes(t)),
    perTimeline('pageserver_gc_horizon_lsn', 'Reads below this LSN (other than branch points and snapshots) fail with LSN_BEFORE_GC_HORIZON.', (t) => t.metaSnapshot.gc?.horizon ?? 0n),
  ];
  // The memory tier keeps plain numbers (no label work on the hot path); they become series here.
  const cache = deps.pageCache;
  const memory = { tier: 'memory' };
  const cacheMetrics = cache
    ? [
        new CollectedCounter('pageserver_page_cache_hits_total', 'GetPage lookups answered by the memory page cache.', () => [[memory, cache.hits]]),
        new CollectedCounter('pageserver_page_cache_misses_total', 'GetPage lookups the memory page cache could not answer (the page was reconstructed).', () => [[memory, cache.misses]]),
        new CollectedCounter('pageserver_page_cache_inserts_total', 'Page versions stored in the memory page cache.', () => [[memory, cache.inserts]]),
        new CollectedCounter('pageserver_page_cache_evictions_total', 'Page versions evicted from the memory page cache to stay within its byte budget.', () => [[memory, cache.evictions]]),
        new CollectedCounter('pageserver_page_cache_bases_total', 'Cached versions offered to a reconstruction as its base (used when at least as new as the page\'s image; the slow-read log counts the ones used).', () => [[memory, cache.bases]]),
        new CollectedCounter('pageserver_page_cache_closed_by_ingest_total', 'Cached versions whose validity ended because ingest changed their page.', () => [[memory, cache.closedByIngest]]),
        new CollectedGauge('pageserver_page_cache_bytes', 'Bytes held by the memory page cache (pages and bookkeeping).', () => [[memory, cache.bytes]]),
        new CollectedGauge('pageserver_page_cache_capacity_bytes', 'Byte budget of the memory page cache (--page-cache-bytes).', () => [[memory, cache.capacityBytes]]),
        new CollectedGauge('pageserver_page_cache_entries', 'Page versions in the memory page cache.', () => [[memory, cache.entries]]),
      ]
    : [];
  const tierMetrics = tierFamily(deps);
  const errorMetrics = [
    new CollectedCounter('pageserver_remote_upload_failures_total', 'Failed upload attempts to remote storage (each retried after a backoff).', () =>
      deps.tenants.all().map((t) => [labels(t), t.remote?.snapshot().failures ?? 0]),
    ),
    new CollectedCounter('pageserver_background_errors_total', 'Failures of background work per timeline and kind (compaction, gc, upload, basebackup); the messages are in the timeline status (lastErrors).', () =>
      deps.tenants.all().flatMap((t) =>
        BACKGROUND_ERROR_KINDS.map(
          (kind) => [{ ...labels(t), kind }, kind === 'upload' ? (t.remote?.snapshot().failures ?? 0) : deps.metrics.lastErrors.count(t.tenantId, t.timelineId, kind)] as [Record<string, string>, number],
        ),
      ),
    ),
  ];
  return new Hono<AppEnv>().get('/metrics', (c) => {
    authorize(c.var.claims, POLICY.operator);
    const text = deps.metrics.registry.render() + [...gauges, ...errorMetrics, ...cacheMetrics, ...tierMetrics].flatMap((g) => g.render()).join('\n') + '\n';
    return c.body(text, 200, { 'content-type': PROMETHEUS_CONTENT_TYPE });
  });
}

/**
 * One family per measure across the three tiers, so a dashboard reads them
 * side by side: memory (page cache), local (layer files on disk), remote
 * (object storage). A hit is a page a tier served; a miss one it had to get
 * from the tier below (a reconstruction for memory, a download for local);
 * a promotion is data moved up (pages cached, layers downloaded); evictions
 * are what a tier let go to stay within its budget.
 */
function tierFamily(deps: PageserverDeps): (CollectedCounter | CollectedGauge)[] {
  const m = deps.metrics;
  const cache = deps.pageCache;
  const served = (tier: string): bigint => m.getpageTierPages.get({ tier });
  const remoteSum = (f: (s: NonNullable<ReturnType<NonNullable<Timeline['remote']>['snapshot']>>) => number): number =>
    deps.tenants.all().reduce((n, t) => n + (t.remote ? f(t.remote.snapshot()) : 0), 0);
  const localBytes = (): number => deps.tenants.all().reduce((n, t) => n + deps.tenants.layerBytes(t), 0);
  const remoteBytes = (): number =>
    deps.tenants.all().reduce((n, t) => n + sizedLayers(t).reduce((b, l) => b + (t.remote?.isUploaded(layerFileName(l.desc)) && l.bytes !== Number.MAX_SAFE_INTEGER ? l.bytes : 0), 0), 0);
  const rows = (values: [string, number | bigint][]): [Record<string, string>, number][] => values.map(([tier, v]) => [{ tier }, Number(v)]);
  return [
    new CollectedCounter('pageserver_tier_hits_total', 'Pages served by each tier.', () =>
      rows([['memory', cache?.hits ?? 0], ['local', served('local')], ['remote', served('remote')]]),
    ),
    new CollectedCounter('pageserver_tier_misses_total', 'Pages a tier did not have: reconstructed (memory), or needing a download (local).', () =>
      rows([['memory', cache?.misses ?? 0], ['local', served('remote')]]),
    ),
    new CollectedGauge('pageserver_tier_bytes', 'Bytes held by each tier (remote: layers of the local index known to be uploaded).', () =>
      rows([['memory', cache?.bytes ?? 0], ['local', localBytes()], ['remote', remoteBytes()]]),
    ),
    new CollectedCounter('pageserver_tier_evictions_total', 'What each tier let go to stay within its budget: page versions (memory), layer files (local).', () =>
      rows([['memory', cache?.evictions ?? 0], ['local', m.evictions.total()]]),
    ),
    new CollectedCounter('pageserver_tier_promotions_total', 'Data moved up into each tier: page versions cached (memory), layer files downloaded (local).', () =>
      rows([['memory', cache?.inserts ?? 0], ['local', remoteSum((s) => s.downloadedFiles)]]),
    ),
  ];
}
