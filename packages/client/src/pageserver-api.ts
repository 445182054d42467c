/**
 * The page server's HTTP API for its clients (compute, CLI, console, tests):
 * status, metrics, the page cache, tenants, timelines (list, details,
 * compaction, GC), wait for an LSN, one page, aux-file sets, LSN ↔ time
 * points, branches, snapshots. The GetPage stream is
 * PageserverClient (pageserver-client.ts); the calls that touch the local
 * disk (basebackup, aux upload) are in pageserver-files.ts, so this module
 * has no node:* import and the console imports it
 * (`@strata/client/pageserver-api`).
 *
 * Every failure is a PageserverClientError whose `code` is the page
 * server's own (`LSN_OUT_OF_RANGE`, `TIMELINE_NOT_FOUND`...) when it
 * answered with one, `HTTP_<status>` when it answered something else, and
 * `CONNECTION_FAILED` when it did not answer (its `cause` is what fetch
 * threw). A reply that is not what the page server sends throws zod's error.
 */
import { type AuxFile, decodeAuxSet } from '@strata/core';
import { decodeGetPageResponse, encodeGetPageRequests, type GetPageItem } from '@strata/core/getpage';
import { lsnDecimal, lsnString } from '@strata/core/json';
import { z } from 'zod';
import { SERVICE_TIMEOUT_MS_DEFAULT } from './http.js';
import { failure, json, PageserverClientError, type PageserverTarget, request, timelinePath } from './pageserver-http.js';

export type { PageserverTarget };

/** The page server bounds one wait; a longer one is asked again in slices of this. */
const WAIT_SLICE_MS = 10_000;

/** A bound on one call other than the default (30 s): status views ask briefly, an import may take minutes. */
export interface CallOptions {
  readonly timeoutMs?: number | undefined;
}

const timeoutOf = (o: CallOptions) => (o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs });

// ---- the service ----

const count = z.number().int().nonnegative();

const statusReply = z
  .object({
    service: z.literal('pageserver'),
    version: z.string(),
    tenants: count,
    timelines: count,
    remoteStorage: z.string().nullable().optional(),
    // The local tier against its budget (null: no budget): what the console's disk alert reads.
    diskBudgetBytes: count.nullable().optional(),
    localLayerBytes: count.optional(),
  })
  .passthrough();
/** The page server's own status (`GET /v1/status`): what it is, its version, how much it holds, its storage, and more fields passed through. */
export type PageserverStatus = z.output<typeof statusReply>;

export function pageserverStatus(t: PageserverTarget, opts: CallOptions = {}): Promise<PageserverStatus> {
  return json(t, '/v1/status', statusReply, 'status', timeoutOf(opts));
}

/** The page server's Prometheus text (`GET /metrics`), unparsed. */
export async function pageserverMetrics(t: PageserverTarget, opts: CallOptions = {}): Promise<string> {
  const res = await request(t, '/metrics', timeoutOf(opts));
  if (!res.ok) throw await failure(res, 'metrics');
  return res.text();
}

const pageCacheReply = z
  .object({ capacityBytes: count, bytes: count, entries: count, hits: count, misses: count, inserts: count, evictions: count, closedByIngest: count.optional(), bases: count.optional() })
  .passthrough();
/** The memory page cache's budget, size and counters since start (all zero when the page server runs without one). */
export type PageCacheStats = z.output<typeof pageCacheReply>;

export function pageCacheStats(t: PageserverTarget, opts: CallOptions = {}): Promise<PageCacheStats> {
  return json(t, '/v1/page_cache', pageCacheReply, 'page cache', timeoutOf(opts));
}

// ---- tenants ----

const tenantsReply = z.object({ tenants: z.array(z.object({ tenantId: z.string(), timelines: count }).passthrough()) });

/** Every tenant the page server stores, with its number of timelines. */
export async function tenantList(t: PageserverTarget, opts: CallOptions = {}): Promise<Array<{ tenantId: string; timelines: number }>> {
  return (await json(t, '/v1/tenants', tenantsReply, 'tenant list', timeoutOf(opts))).tenants;
}

const importReply = z.object({ tenantId: z.string(), timelineId: z.string(), lsn: lsnString, pages: z.number(), tablespaces: z.number(), auxFiles: z.number() });

/** Imports a cleanly shut down datadir the page server can read (an absolute path on its machine) as a new tenant; default bound 10 min. */
export function tenantImport(t: PageserverTarget, datadir: string, tenantId?: string, opts: CallOptions = {}): Promise<z.output<typeof importReply>> {
  const path = tenantId ? `/v1/tenants/${tenantId}/import` : '/v1/tenants/import';
  return json(t, path, importReply, 'tenant import', { method: 'POST', body: JSON.stringify({ datadir }), timeoutMs: opts.timeoutMs ?? 600_000 });
}

const tenantDeleteReply = z.object({ tenantId: z.string(), timelinesDeleted: count }).passthrough();

/** Deletes a tenant and every one of its timelines (children first); returns how many timelines went. Default bound 2 min. */
export async function tenantDelete(t: PageserverTarget, tenantId: string, opts: CallOptions = {}): Promise<number> {
  return (await json(t, `/v1/tenants/${tenantId}`, tenantDeleteReply, `delete tenant ${tenantId}`, { method: 'DELETE', timeoutMs: opts.timeoutMs ?? 120_000 })).timelinesDeleted;
}

// ---- timelines ----

/** One failure of the page server's background work on a timeline (basebackup, upload, compaction, GC), resolved or not. */
const backgroundError = z.object({ kind: z.string(), count, code: z.string(), message: z.string(), at: z.string(), resolvedAt: z.string().nullable() }).passthrough();

/** A timeline's upload queue to remote storage: its backlog, its failures, how far remote storage trails ingest. */
const remoteHealth = z
  .object({
    queued: count,
    pendingBytes: count,
    oldestPendingAgeMs: z.number().nonnegative(),
    consecutiveFailures: count,
    backoffMs: z.number().nonnegative(),
    lastError: z.string().nullable(),
    lastErrorAt: z.string().nullable(),
    remoteConsistentLsn: lsnString,
    // A u64 in decimal text, like an LSN.
    lagBytes: lsnString,
  })
  .passthrough();

const timelineReply = z
  .object({
    tenantId: z.string(),
    timelineId: z.string(),
    ancestor: z.object({ timelineId: z.string(), lsn: lsnString }).passthrough().nullable(),
    initLsn: lsnString,
    lastRecordLsn: lsnString,
    diskConsistentLsn: lsnString,
    pageSize: z.number().int().positive(),
    layers: count,
    layerBytes: count,
    openLayerBytes: count,
    // null: no WAL receiver for this timeline (not an error: the list must still read).
    walReceiver: z.object({ state: z.string(), safekeeper: z.string().nullable().optional(), commitLsn: lsnString.nullable().optional() }).passthrough().nullable().optional(),
    // null without remote storage; remote and lastErrors are absent from an older page server, whose timelines must still read.
    remote: remoteHealth.nullable().optional(),
    lastErrors: z.array(backgroundError).optional(),
  })
  .passthrough();
/** A timeline as the page server shows it: its LSNs, ancestor, layers, WAL receiver and background health. */
export type TimelineDetails = z.output<typeof timelineReply>;

export function timelineDetails(t: PageserverTarget, tenantId: string, timelineId: string, opts: CallOptions = {}): Promise<TimelineDetails> {
  return json(t, timelinePath(tenantId, timelineId), timelineReply, `timeline ${timelineId}`, timeoutOf(opts));
}

/** Every timeline of a tenant, each as timelineDetails gives it. */
export async function timelineList(t: PageserverTarget, tenantId: string, opts: CallOptions = {}): Promise<TimelineDetails[]> {
  return (await json(t, `/v1/tenants/${tenantId}/timelines`, z.object({ timelines: z.array(timelineReply) }), 'timeline list', timeoutOf(opts))).timelines;
}

const compactReply = z
  .object({
    deltasMerged: count,
    mergedLayers: count,
    imageLayers: count,
    imageSpaces: z.array(count),
    imagePages: count,
    imageLsn: lsnString.nullable(),
    bytesWritten: count,
    durationMs: count,
    layers: count,
  })
  .passthrough();
/** What a compaction did; `layers` is how many the timeline has after it. */
export type CompactionReply = z.output<typeof compactReply>;

/** Freezes the open layer and compacts the timeline's layers now (`force`: even below the page server's thresholds). Default bound 5 min. */
export function timelineCompact(t: PageserverTarget, tenantId: string, timelineId: string, force = false, opts: CallOptions = {}): Promise<CompactionReply> {
  return json(t, `${timelinePath(tenantId, timelineId)}/compact?force=${force}`, compactReply, `compact timeline ${timelineId}`, { method: 'POST', timeoutMs: opts.timeoutMs ?? 300_000 });
}

const gcReply = z
  .object({
    horizon: lsnString,
    retained: z.array(lsnString),
    removedLayers: z.array(z.string()),
    layersBefore: count,
    layersAfter: count,
    bytesBefore: count,
    bytesAfter: count,
    durationMs: count,
  })
  .passthrough();
/** What a GC did: the horizon in force after it, the LSNs kept below it (branch points, snapshots), the layers removed. */
export type GcReply = z.output<typeof gcReply>;

/** Where a GC may cut: `pitrMs` back from the last record, or at `horizonLsn` (not both); neither: the page server's own window. */
export interface GcHorizon {
  readonly pitrMs?: number | undefined;
  readonly horizonLsn?: bigint | undefined;
}

/** Garbage-collects the timeline's layers below a horizon now. Default bound 2 min. */
export function timelineGc(t: PageserverTarget, tenantId: string, timelineId: string, horizon: GcHorizon = {}, opts: CallOptions = {}): Promise<GcReply> {
  const body = JSON.stringify({
    ...(horizon.pitrMs !== undefined ? { pitrMs: horizon.pitrMs } : {}),
    ...(horizon.horizonLsn !== undefined ? { horizonLsn: horizon.horizonLsn.toString() } : {}),
  });
  return json(t, `${timelinePath(tenantId, timelineId)}/gc`, gcReply, `GC of timeline ${timelineId}`, { method: 'POST', body, timeoutMs: opts.timeoutMs ?? 120_000 });
}

const branchReply = z.object({ timelineId: z.string(), initLsn: lsnString }).passthrough();

/** A new timeline branched from `fromTimelineId` at `lsn`. */
export function branchCreate(t: PageserverTarget, tenantId: string, fromTimelineId: string, lsn: bigint, newTimelineId?: string): Promise<z.output<typeof branchReply>> {
  const body = JSON.stringify({ lsn: lsn.toString(), ...(newTimelineId ? { newTimelineId } : {}) });
  return json(t, `${timelinePath(tenantId, fromTimelineId)}/branch`, branchReply, 'branch create', { method: 'POST', body });
}

/** Deletes a timeline; false when the page server did not have it. */
export async function deleteTimeline(t: PageserverTarget, tenantId: string, timelineId: string): Promise<boolean> {
  const res = await request(t, timelinePath(tenantId, timelineId), { method: 'DELETE', timeoutMs: 120_000 });
  if (res.status === 404) {
    await res.body?.cancel();
    return false;
  }
  if (!res.ok) throw await failure(res, `delete timeline ${timelineId}`);
  await res.body?.cancel();
  return true;
}

// ---- snapshots ----

const snapshotReply = z.object({ name: z.string(), timelineId: z.string(), lsn: lsnDecimal, createdAt: z.string() });
/** A named, GC-protected (timeline, LSN); the LSN as the page server writes it (decimal text). */
export type SnapshotInfo = z.output<typeof snapshotReply>;
const snapshotPath = (tenantId: string, name?: string) => `/v1/tenants/${tenantId}/snapshots${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;

/** A snapshot of `timelineId` at `lsn` (default: its last record LSN). */
export function snapshotCreate(t: PageserverTarget, tenantId: string, name: string, timelineId: string, lsn?: bigint): Promise<SnapshotInfo> {
  const body = JSON.stringify({ name, timelineId, ...(lsn !== undefined ? { lsn: lsn.toString() } : {}) });
  return json(t, snapshotPath(tenantId), snapshotReply, `snapshot create ${name}`, { method: 'POST', body });
}

export async function snapshotList(t: PageserverTarget, tenantId: string, opts: CallOptions = {}): Promise<SnapshotInfo[]> {
  return (await json(t, snapshotPath(tenantId), z.object({ snapshots: z.array(snapshotReply) }), 'snapshot list', timeoutOf(opts))).snapshots;
}

export function snapshotGet(t: PageserverTarget, tenantId: string, name: string): Promise<SnapshotInfo> {
  return json(t, snapshotPath(tenantId, name), snapshotReply, `snapshot ${name}`);
}

export async function snapshotDelete(t: PageserverTarget, tenantId: string, name: string): Promise<void> {
  await json(t, snapshotPath(tenantId, name), z.unknown(), `snapshot delete ${name}`, { method: 'DELETE' });
}

/** A new timeline branched at the snapshot's (timeline, LSN). */
export function snapshotRestore(t: PageserverTarget, tenantId: string, name: string): Promise<{ timelineId: string }> {
  return json(t, `${snapshotPath(tenantId, name)}/restore`, z.object({ timelineId: z.string() }).passthrough(), `snapshot restore ${name}`, { method: 'POST', body: '{}' });
}

// ---- LSNs ----

const waitReply = z.object({ lastRecordLsn: lsnString }).passthrough();

/** The page server's last record LSN once it is ≥ `lsn`; throws (LSN_NOT_YET_AVAILABLE) after `timeoutMs`. */
export async function waitLsn(t: PageserverTarget, tenantId: string, timelineId: string, lsn: bigint, timeoutMs: number): Promise<bigint> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const slice = Math.max(0, Math.min(WAIT_SLICE_MS, deadline - Date.now()));
    const res = await request(t, `${timelinePath(tenantId, timelineId)}/wait_lsn?lsn=${lsn}&timeoutMs=${slice}`, { timeoutMs: slice + SERVICE_TIMEOUT_MS_DEFAULT });
    if (res.ok) return waitReply.parse(await res.json()).lastRecordLsn;
    if (res.status !== 503 || Date.now() >= deadline) throw await failure(res, `wait for LSN ${lsn}`);
    await res.body?.cancel();
  }
}

const byTimeReply = z.object({ lsn: lsnString, at: z.string() });

/** The last LSN of a timeline committed at or before `at` (the page server's LSN ↔ time map). */
export async function lsnByTimestamp(t: PageserverTarget, tenantId: string, timelineId: string, at: Date): Promise<bigint> {
  const q = new URLSearchParams({ at: at.toISOString() });
  return (await json(t, `${timelinePath(tenantId, timelineId)}/lsn_by_timestamp?${q}`, byTimeReply, `LSN at ${at.toISOString()}`)).lsn;
}

/**
 * Report LSN → time points ("everything up to `lsn` was written by then")
 * for the page server's LSN ↔ time map (branch --at). Returns false when the
 * page server has no such route (an older one): the caller stops trying.
 */
export async function postLsnTimes(t: PageserverTarget, tenantId: string, timelineId: string, points: ReadonlyArray<{ lsn: bigint; unixMs: number }>): Promise<boolean> {
  const res = await request(t, `${timelinePath(tenantId, timelineId)}/lsn_times`, {
    method: 'POST',
    body: JSON.stringify({ points: points.map((p) => ({ lsn: p.lsn.toString(), timeMs: p.unixMs })) }),
  });
  if (res.status === 404 && !(res.headers.get('content-type') ?? '').includes('json')) return false;
  if (!res.ok) throw await failure(res, 'report LSN times');
  await res.body?.cancel();
  return true;
}

// ---- pages and aux files ----

/** One page over `POST .../getpage` (no stream to open); the item says whether it was found. */
export async function getPage(t: PageserverTarget, tenantId: string, timelineId: string, key: { spaceId: number; pageNo: number; lsn: bigint }, waitMs?: number): Promise<GetPageItem> {
  const res = await request(t, `${timelinePath(tenantId, timelineId)}/getpage${waitMs ? `?waitMs=${waitMs}` : ''}`, {
    method: 'POST',
    body: encodeGetPageRequests([key]) as Uint8Array<ArrayBuffer>,
    headers: { 'content-type': 'application/octet-stream' },
    timeoutMs: (waitMs ?? 0) + SERVICE_TIMEOUT_MS_DEFAULT,
  });
  if (!res.ok) throw await failure(res, 'page get');
  const pageSize = Number(res.headers.get('x-strata-page-size'));
  if (!Number.isInteger(pageSize) || pageSize <= 0) throw new PageserverClientError('PROTOCOL', 'page get: response without x-strata-page-size');
  const [item] = decodeGetPageResponse(new Uint8Array(await res.arrayBuffer()), 1, pageSize);
  if (!item) throw new PageserverClientError('PROTOCOL', 'page get: an empty reply');
  return item;
}

const manifestReply = z.object({
  lsn: lsnString,
  pageSize: z.number().int().positive(),
  logFileSize: lsnString,
  tablespaces: z.array(z.object({ spaceId: z.number().int().nonnegative(), path: z.string(), sizePages: z.number().int().nonnegative() })),
});
/** A datadir at an LSN without its pages: every tablespace's path and size, the redo log's size (FUSE computes). */
export type DatadirManifest = z.output<typeof manifestReply>;

/** The tablespaces of a timeline at `lsn` (page 0 sizes) and its log size: what a FUSE compute serves before any page. */
export function datadirManifest(t: PageserverTarget, tenantId: string, timelineId: string, lsn: bigint, waitMs?: number): Promise<DatadirManifest> {
  const q = new URLSearchParams({ lsn: lsn.toString(), ...(waitMs ? { waitMs: String(waitMs) } : {}) });
  return json(t, `${timelinePath(tenantId, timelineId)}/datadir?${q}`, manifestReply, `datadir manifest at LSN ${lsn}`, { timeoutMs: (waitMs ?? 0) + SERVICE_TIMEOUT_MS_DEFAULT });
}

/** The aux-file set (.frm, db.opt, Aria system tables...) valid at `lsn`, as bytes (nothing is written to disk). */
export async function getAuxSet(t: PageserverTarget, tenantId: string, timelineId: string, lsn: bigint, waitMs?: number): Promise<AuxFile[]> {
  const q = new URLSearchParams({ lsn: lsn.toString(), ...(waitMs ? { waitMs: String(waitMs) } : {}) });
  const res = await request(t, `${timelinePath(tenantId, timelineId)}/aux?${q}`, { timeoutMs: (waitMs ?? 0) + SERVICE_TIMEOUT_MS_DEFAULT });
  if (!res.ok) throw await failure(res, `aux files at LSN ${lsn}`);
  return decodeAuxSet(new Uint8Array(await res.arrayBuffer()));
}
