/**
 * The page server commands of `strata`: tenant import, wait-lsn, page get,
 * basebackup, branch create. Thin HTTP clients of the page server's API;
 * the binary formats come from @strata/core/getpage and @strata/datadir.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { decodeGetPageResponse, encodeGetPageRequests, getPageStatusName, GetPageStatus } from '@strata/core/getpage';
import { TarDirSink, TarParser } from '@strata/datadir';
import { z } from 'zod';
import { authHeaders } from './safekeeper-endpoints.js';

export class PageserverCommandError extends Error {}

export interface PageserverTarget {
  /** `H:P` or a URL. */
  readonly pageserver: string;
  readonly token?: string | undefined;
}

export function pageserverUrl(hostPort: string): string {
  if (/^https?:\/\//.test(hostPort)) return hostPort.replace(/\/+$/, '');
  if (!/^[^:\s/]+:\d{1,5}$/.test(hostPort) && !/^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(hostPort)) throw new PageserverCommandError(`--pageserver: "${hostPort}" is not H:P`);
  return `http://${hostPort}`;
}

const errorReply = z.object({ code: z.string(), message: z.string() }).passthrough();

async function failure(res: Response, what: string): Promise<PageserverCommandError> {
  const text = await res.text();
  let detail = text.slice(0, 500);
  try {
    const e = errorReply.parse(JSON.parse(text));
    detail = `${e.code}: ${e.message}`;
  } catch {
    // not our JSON error: show the text
  }
  return new PageserverCommandError(`${what}: HTTP ${res.status} ${detail}`);
}

async function request(t: PageserverTarget, path: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Response> {
  const url = `${pageserverUrl(t.pageserver)}${path}`;
  try {
    return await fetch(url, {
      ...init,
      headers: { ...authHeaders(t.token), ...(typeof init.body === 'string' ? { 'content-type': 'application/json' } : {}), ...(init.headers as Record<string, string> | undefined) },
      ...(init.timeoutMs !== undefined ? { signal: AbortSignal.timeout(init.timeoutMs) } : {}),
    });
  } catch (e) {
    throw new PageserverCommandError(`cannot reach the page server at ${url}: ${e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e)}`);
  }
}

async function json<S extends z.ZodType>(t: PageserverTarget, path: string, schema: S, what: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<z.output<S>> {
  const res = await request(t, path, init);
  if (!res.ok) throw await failure(res, what);
  return schema.parse(await res.json());
}

const lsn = z.string().regex(/^\d+$/).transform(BigInt);

// ---- tenant import ----

const importReply = z.object({ tenantId: z.string(), timelineId: z.string(), lsn, pages: z.number(), tablespaces: z.number(), auxFiles: z.number() });

export async function tenantImport(args: PageserverTarget & { datadir: string; tenantId?: string | undefined; cwd: string }) {
  const datadir = resolve(args.cwd, args.datadir);
  const path = args.tenantId ? `/v1/tenants/${args.tenantId}/import` : '/v1/tenants/import';
  return json(args, path, importReply, 'tenant import', { method: 'POST', body: JSON.stringify({ datadir }) });
}

// ---- wait-lsn ----

const waitReply = z.object({ lsn, lastRecordLsn: lsn });
const WAIT_SLICE_MS = 10_000;

/** Waits in slices (each one request) until the LSN is ingested or `timeoutMs` passes. */
export async function waitLsn(args: PageserverTarget & { tenantId: string; timelineId: string; lsn: bigint; timeoutMs: number }): Promise<bigint> {
  const deadline = Date.now() + args.timeoutMs;
  for (;;) {
    const slice = Math.max(0, Math.min(WAIT_SLICE_MS, deadline - Date.now()));
    const res = await request(args, `/v1/tenants/${args.tenantId}/timelines/${args.timelineId}/wait_lsn?lsn=${args.lsn}&timeoutMs=${slice}`, { timeoutMs: slice + 30_000 });
    if (res.ok) return waitReply.parse(await res.json()).lastRecordLsn;
    if (res.status !== 503 || Date.now() >= deadline) throw await failure(res, `wait-lsn ${args.lsn}`);
    await res.body?.cancel();
  }
}

// ---- page get ----

export async function pageGet(args: PageserverTarget & { tenantId: string; timelineId: string; spaceId: number; pageNo: number; lsn: bigint; out: string; waitMs?: number }) {
  const body = encodeGetPageRequests([{ spaceId: args.spaceId, pageNo: args.pageNo, lsn: args.lsn }]);
  const res = await request(args, `/v1/tenants/${args.tenantId}/timelines/${args.timelineId}/getpage${args.waitMs ? `?waitMs=${args.waitMs}` : ''}`, {
    method: 'POST',
    body: body as Uint8Array<ArrayBuffer>,
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (!res.ok) throw await failure(res, 'page get');
  const pageSize = Number(res.headers.get('x-strata-page-size'));
  if (!Number.isInteger(pageSize) || pageSize <= 0) throw new PageserverCommandError('page get: response without x-strata-page-size');
  const [item] = decodeGetPageResponse(new Uint8Array(await res.arrayBuffer()), 1, pageSize);
  if (!item || item.status !== GetPageStatus.OK) {
    const s = item ? getPageStatusName(item.status) : 'no answer';
    const extra = item?.status === GetPageStatus.NOT_YET_AVAILABLE ? ` (ingested up to ${item.lsn})` : '';
    throw new PageserverCommandError(`page ${args.spaceId}:${args.pageNo} at LSN ${args.lsn}: ${s}${extra}`);
  }
  mkdirSync(dirname(resolve(args.out)), { recursive: true });
  writeFileSync(args.out, item.page);
  return { pageLsn: item.lsn, bytes: item.page.length };
}

// ---- basebackup ----

export interface BasebackupProgress {
  readonly bytes: number;
  readonly totalBytes: number;
  readonly files: number;
}

/**
 * Streams the basebackup tar and unpacks it into `out`, via a temporary
 * sibling directory renamed into place at the end: `out` never holds half a
 * datadir.
 */
export async function basebackup(args: PageserverTarget & { tenantId: string; timelineId: string; lsn?: bigint | undefined; out: string; waitMs?: number; onProgress?: (p: BasebackupProgress) => void }) {
  const out = resolve(args.out);
  if (existsSync(out) && readdirSync(out).length > 0) throw new PageserverCommandError(`--out ${out} is not empty`);
  const q = new URLSearchParams();
  if (args.lsn !== undefined) q.set('lsn', args.lsn.toString());
  if (args.waitMs) q.set('waitMs', String(args.waitMs));
  const res = await request(args, `/v1/tenants/${args.tenantId}/timelines/${args.timelineId}/basebackup${q.size ? `?${q}` : ''}`);
  if (!res.ok || !res.body) throw await failure(res, 'basebackup');
  const totalBytes = Number(res.headers.get('x-strata-basebackup-bytes') ?? '0');
  const lsnAt = BigInt(res.headers.get('x-strata-lsn') ?? '0');
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
      if (args.onProgress && (bytes - lastReport >= 64 << 20 || bytes === totalBytes)) {
        lastReport = bytes;
        args.onProgress({ bytes, totalBytes, files: sink.files });
      }
    }
    if (!parser.finished || (totalBytes > 0 && bytes !== totalBytes)) throw new PageserverCommandError(`basebackup stream ended early: ${bytes} of ${totalBytes} bytes`);
  } catch (e) {
    sink.close();
    rmSync(tmp, { recursive: true, force: true });
    if (e instanceof PageserverCommandError) throw e;
    throw new PageserverCommandError(`basebackup stream failed after ${bytes} bytes: ${e instanceof Error ? e.message : String(e)}`);
  }
  sink.close();
  if (existsSync(out)) rmSync(out, { recursive: true });
  renameSync(tmp, out);
  return { lsn: lsnAt, bytes, files: sink.files };
}

// ---- branch create ----

const byTimeReply = z.object({ lsn, at: z.string() });

/** The last LSN of a timeline committed at or before `at` (the page server's LSN ↔ time map). */
export async function lsnByTimestamp(args: PageserverTarget & { tenantId: string; timelineId: string; at: Date }): Promise<bigint> {
  const q = new URLSearchParams({ at: args.at.toISOString() });
  return (await json(args, `/v1/tenants/${args.tenantId}/timelines/${args.timelineId}/lsn_by_timestamp?${q}`, byTimeReply, `LSN at ${args.at.toISOString()}`)).lsn;
}

const timelineReply = z.object({ timelineId: z.string(), initLsn: lsn }).passthrough();

export async function branchCreate(args: PageserverTarget & { tenantId: string; fromTimelineId: string; lsn: bigint; newTimelineId?: string | undefined }) {
  const body = JSON.stringify({ lsn: args.lsn.toString(), ...(args.newTimelineId ? { newTimelineId: args.newTimelineId } : {}) });
  return json(args, `/v1/tenants/${args.tenantId}/timelines/${args.fromTimelineId}/branch`, timelineReply, 'branch create', { method: 'POST', body });
}
