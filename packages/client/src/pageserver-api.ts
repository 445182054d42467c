/**
 * The page server's HTTP API for its clients (compute, CLI, tests): timeline
 * details, wait for an LSN, one page, a basebackup unpacked into a
 * directory, aux-file sets, LSN ↔ time points, branches, tenant import.
 * The GetPage stream is PageserverClient (pageserver-client.ts).
 *
 * Every failure is a PageserverClientError whose `code` is the page
 * server's own (`LSN_OUT_OF_RANGE`, `TIMELINE_NOT_FOUND`...) when it
 * answered with one, `HTTP_<status>` when it answered something else, and
 * `CONNECTION_FAILED` when it did not answer.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { type AuxFile, decodeAuxSet, encodeAuxSet } from '@strata/core';
import { decodeGetPageResponse, encodeGetPageRequests, type GetPageItem } from '@strata/core/getpage';
import { lsnDecimal, lsnString } from '@strata/core/json';
import { readAuxFiles, TarDirSink, TarParser } from '@strata/datadir';
import { z } from 'zod';
import { replyFailure, serviceRequest, SERVICE_TIMEOUT_MS_DEFAULT, type ServiceClientError, type ServiceRequestInit, type ServiceTarget } from './http.js';
import { PageserverClientError } from './pageserver-client.js';

export type PageserverTarget = ServiceTarget;

/** The page server bounds one wait; a longer one is asked again in slices of this. */
const WAIT_SLICE_MS = 10_000;
/** Report basebackup progress at most every this many bytes. */
const PROGRESS_BYTES = 64 << 20;

/** Every failure of this API is a PageserverClientError (a ServiceClientError). */
const pageserverError = (code: string, message: string, httpStatus?: number) => new PageserverClientError(code, message, httpStatus);

/** Not "cannot reach http://…" alone: say it was the page server. */
async function request(t: PageserverTarget, path: string, init: ServiceRequestInit = {}): Promise<Response> {
  return serviceRequest(t, path, init, (code, message) => pageserverError(code, `page server: ${message}`));
}

/** A reply that is not a success, as an error that keeps the page server's code. */
function failure(res: Response, what: string): Promise<ServiceClientError> {
  return replyFailure(res, what, pageserverError);
}

async function json<S extends z.ZodType>(t: PageserverTarget, path: string, schema: S, what: string, init: ServiceRequestInit = {}): Promise<z.output<S>> {
  const res = await request(t, path, init);
  if (!res.ok) throw await failure(res, what);
  return schema.parse(await res.json());
}

const timelinePath = (tenantId: string, timelineId: string) => `/v1/tenants/${tenantId}/timelines/${timelineId}`;

// ---- timelines ----

const timelineReply = z.object({ timelineId: z.string(), initLsn: lsnString, lastRecordLsn: lsnString, pageSize: z.number().int().positive() }).passthrough();
export type TimelineDetails = z.output<typeof timelineReply>;

export function timelineDetails(t: PageserverTarget, tenantId: string, timelineId: string): Promise<TimelineDetails> {
  return json(t, timelinePath(tenantId, timelineId), timelineReply, `timeline ${timelineId}`);
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

const importReply = z.object({ tenantId: z.string(), timelineId: z.string(), lsn: lsnString, pages: z.number(), tablespaces: z.number(), auxFiles: z.number() });

/** Imports a cleanly shut down datadir the page server can read (an absolute path on its machine) as a new tenant. */
export function tenantImport(t: PageserverTarget, datadir: string, tenantId?: string): Promise<z.output<typeof importReply>> {
  const path = tenantId ? `/v1/tenants/${tenantId}/import` : '/v1/tenants/import';
  return json(t, path, importReply, 'tenant import', { method: 'POST', body: JSON.stringify({ datadir }), timeoutMs: 600_000 });
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

export async function snapshotList(t: PageserverTarget, tenantId: string): Promise<SnapshotInfo[]> {
  return (await json(t, snapshotPath(tenantId), z.object({ snapshots: z.array(snapshotReply) }), 'snapshot list')).snapshots;
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

// ---- pages and files ----

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

/**
 * Store the aux files (.frm, db.opt, Aria system tables...) of `datadir` as
 * the set valid from `at`: their bytes travel in the request (aux-set
 * frames), so the page server needs no access to the compute's disk.
 */
export async function putAuxSet(t: PageserverTarget, tenantId: string, timelineId: string, at: bigint, datadir: string): Promise<number> {
  const body = z.object({ files: z.number() }).passthrough();
  return (
    await json(t, `${timelinePath(tenantId, timelineId)}/aux?lsn=${at}`, body, `store aux files at LSN ${at}`, {
      method: 'POST',
      body: encodeAuxSet(readAuxFiles(datadir)) as Uint8Array<ArrayBuffer>,
      headers: { 'content-type': 'application/octet-stream' },
    })
  ).files;
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

export interface BasebackupProgress {
  readonly bytes: number;
  readonly totalBytes: number;
  readonly files: number;
}

export interface BasebackupOptions {
  /** Default: the timeline's last record LSN. */
  readonly lsn?: bigint | undefined;
  /** Let the page server wait this long for `lsn` to be ingested. */
  readonly waitMs?: number | undefined;
  readonly onProgress?: ((p: BasebackupProgress) => void) | undefined;
  /** A bound on the whole transfer; none by default (a large datadir takes as long as it takes). */
  readonly timeoutMs?: number | undefined;
}

/**
 * Streams the basebackup tar and unpacks it into `out` (which must be
 * missing or empty) through a temporary sibling directory renamed into place
 * at the end: `out` never holds half a datadir. All-zero stretches stay
 * sparse (TarDirSink).
 */
export async function basebackup(t: PageserverTarget, tenantId: string, timelineId: string, out: string, opts: BasebackupOptions = {}): Promise<{ lsn: bigint; bytes: number; files: number }> {
  if (existsSync(out) && readdirSync(out).length > 0) throw new PageserverClientError('OUT_NOT_EMPTY', `basebackup: ${out} is not empty`);
  const q = new URLSearchParams();
  if (opts.lsn !== undefined) q.set('lsn', opts.lsn.toString());
  if (opts.waitMs) q.set('waitMs', String(opts.waitMs));
  const what = `basebackup${opts.lsn !== undefined ? ` at LSN ${opts.lsn}` : ''}`;
  const startedMs = Date.now();
  const res = await request(t, `${timelinePath(tenantId, timelineId)}/basebackup${q.size ? `?${q}` : ''}`, { timeoutMs: opts.timeoutMs ?? null });
  if (!res.ok || !res.body) throw await failure(res, what);
  const totalBytes = Number(res.headers.get('x-strata-basebackup-bytes') ?? '0');
  const lsn = BigInt(res.headers.get('x-strata-lsn') ?? String(opts.lsn ?? 0n));
  const tmp = `${out}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const sink = new TarDirSink(tmp);
  const parser = new TarParser(sink);
  let bytes = 0;
  let lastReport = 0;
  try {
    for await (const chunk of res.body) {
      parser.push(chunk);
      bytes += chunk.length;
      if (opts.onProgress && (bytes - lastReport >= PROGRESS_BYTES || bytes === totalBytes)) {
        lastReport = bytes;
        opts.onProgress({ bytes, totalBytes, files: sink.files });
      }
    }
    if (!parser.finished || (totalBytes > 0 && bytes !== totalBytes)) throw new Error(`stream ended early: ${bytes} of ${totalBytes} bytes`);
  } catch (e) {
    sink.close();
    rmSync(tmp, { recursive: true, force: true });
    // A stream cut mid-way only says "terminated": the page server keeps the real cause in the timeline's status.
    const cause = await basebackupFailureCause(t, tenantId, timelineId, startedMs);
    const where = cause ? ` (page server: ${cause})` : ` (see the page server's log and GET ${timelinePath(tenantId, timelineId)} lastErrors)`;
    throw new PageserverClientError('BASEBACKUP_STREAM_FAILED', `${what}: the stream failed after ${bytes} bytes: ${e instanceof Error ? e.message : String(e)}${where}`);
  }
  sink.close();
  rmSync(out, { recursive: true, force: true });
  renameSync(tmp, out);
  return { lsn, bytes, files: sink.files };
}

/** The part of a timeline's status that says why its last basebackup failed (older page servers have none). */
const lastErrorsReply = z
  .object({ lastErrors: z.array(z.object({ kind: z.string(), message: z.string(), at: z.string() }).passthrough()).optional() })
  .passthrough();

/** The page server's record of a basebackup of this timeline that failed since `sinceMs`, if it can tell. */
async function basebackupFailureCause(t: PageserverTarget, tenantId: string, timelineId: string, sinceMs: number): Promise<string | undefined> {
  try {
    const res = await request(t, timelinePath(tenantId, timelineId), { timeoutMs: 5_000 });
    if (!res.ok) return undefined;
    const e = lastErrorsReply.parse(await res.json()).lastErrors?.find((x) => x.kind === 'basebackup');
    // Clocks of two hosts: allow a little skew, but not an error from an earlier, unrelated attempt.
    return e && Date.parse(e.at) >= sinceMs - 5_000 ? e.message : undefined;
  } catch {
    // The page server may be the thing that failed: the stream's own error is reported either way.
    return undefined;
  }
}
