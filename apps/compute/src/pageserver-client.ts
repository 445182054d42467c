/**
 * What a compute needs from the page server: timeline details, wait for an
 * LSN to be ingested, a basebackup unpacked into a directory, and storing an
 * aux-file set.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { encodeAuxSet } from '@strata/core';
import { readAuxFiles, TarDirSink, TarParser } from '@strata/datadir';
import { z } from 'zod';
import { ComputeError } from './errors.js';

export interface PageserverTarget {
  /** `http://host:port` */
  readonly url: string;
  readonly token?: string | undefined;
}

export function pageserverUrl(hostPort: string): string {
  if (/^https?:\/\//.test(hostPort)) return hostPort.replace(/\/+$/, '');
  if (!/^[^:\s/]+:\d{1,5}$/.test(hostPort)) throw new ComputeError('ComputeStartFailed', `page server "${hostPort}" is not H:P`);
  return `http://${hostPort}`;
}

const lsn = z.string().regex(/^\d+$/).transform(BigInt);
const timelineReply = z.object({ initLsn: lsn, lastRecordLsn: lsn, pageSize: z.number().int().positive() }).passthrough();
const waitReply = z.object({ lastRecordLsn: lsn }).passthrough();

async function request(t: PageserverTarget, path: string, init: Omit<RequestInit, 'headers'> & { timeoutMs?: number; headers?: Record<string, string> } = {}): Promise<Response> {
  const url = `${t.url}${path}`;
  try {
    return await fetch(url, {
      ...init,
      headers: {
        ...(t.token ? { authorization: `Bearer ${t.token}` } : {}),
        ...(typeof init.body === 'string' ? { 'content-type': 'application/json' } : {}),
        ...init.headers,
      },
      signal: AbortSignal.timeout(init.timeoutMs ?? 30_000),
    });
  } catch (e) {
    throw new ComputeError('PageserverRequestFailed', `cannot reach the page server at ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function failure(res: Response, what: string): Promise<ComputeError> {
  return new ComputeError('PageserverRequestFailed', `${what}: HTTP ${res.status} ${(await res.text()).slice(0, 500)}`);
}

export async function timelineDetails(t: PageserverTarget, tenantId: string, timelineId: string) {
  const res = await request(t, `/v1/tenants/${tenantId}/timelines/${timelineId}`);
  if (!res.ok) throw await failure(res, `timeline ${timelineId}`);
  return timelineReply.parse(await res.json());
}

/** Returns the page server's last record LSN once it is ≥ `target`; throws after `timeoutMs`. */
export async function waitLsn(t: PageserverTarget, tenantId: string, timelineId: string, target: bigint, timeoutMs: number): Promise<bigint> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // The page server bounds one wait; ask again in slices until our own deadline.
    const slice = Math.max(0, Math.min(10_000, deadline - Date.now()));
    const res = await request(t, `/v1/tenants/${tenantId}/timelines/${timelineId}/wait_lsn?lsn=${target}&timeoutMs=${slice}`, { timeoutMs: slice + 30_000 });
    if (res.ok) return waitReply.parse(await res.json()).lastRecordLsn;
    if (res.status !== 503 || Date.now() >= deadline) throw await failure(res, `wait for LSN ${target}`);
    await res.body?.cancel();
  }
}

/**
 * Store the aux files (.frm, db.opt, Aria system tables...) of `datadir` as
 * the set valid from `lsn`: their bytes travel in the request (aux-set
 * frames), so the page server needs no access to the compute's disk.
 */
export async function putAuxSet(t: PageserverTarget, tenantId: string, timelineId: string, at: bigint, datadir: string): Promise<number> {
  const res = await request(t, `/v1/tenants/${tenantId}/timelines/${timelineId}/aux?lsn=${at}`, {
    method: 'POST',
    body: encodeAuxSet(readAuxFiles(datadir)),
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (!res.ok) throw await failure(res, `store aux files at LSN ${at}`);
  const body = z.object({ files: z.number() }).passthrough().parse(await res.json());
  return body.files;
}

/** Unpack the basebackup at `at` into `out` (which must not exist or be empty). */
export async function fetchBasebackup(t: PageserverTarget, tenantId: string, timelineId: string, at: bigint, out: string): Promise<{ files: number; bytes: number }> {
  const res = await request(t, `/v1/tenants/${tenantId}/timelines/${timelineId}/basebackup?lsn=${at}`, { timeoutMs: 600_000 });
  if (!res.ok || !res.body) throw await failure(res, `basebackup at LSN ${at}`);
  const total = Number(res.headers.get('x-strata-basebackup-bytes') ?? '0');
  mkdirSync(out, { recursive: true });
  const sink = new TarDirSink(out);
  const parser = new TarParser(sink);
  let bytes = 0;
  try {
    for await (const chunk of res.body) {
      parser.push(chunk);
      bytes += chunk.length;
    }
    if (!parser.finished || (total > 0 && bytes !== total)) throw new Error(`stream ended early: ${bytes} of ${total} bytes`);
  } catch (e) {
    sink.close();
    rmSync(out, { recursive: true, force: true });
    throw new ComputeError('PageserverRequestFailed', `basebackup at LSN ${at}: ${e instanceof Error ? e.message : String(e)}`);
  }
  sink.close();
  return { files: sink.files, bytes };
}

/**
 * Report LSN → time points ("everything up to `lsn` was written by then")
 * for the page server's LSN ↔ time map (branch --at). Returns false when the
 * page server has no such route (an older one): the caller stops trying.
 */
export async function postLsnTimes(t: PageserverTarget, tenantId: string, timelineId: string, points: ReadonlyArray<{ lsn: bigint; unixMs: number }>): Promise<boolean> {
  const res = await request(t, `/v1/tenants/${tenantId}/timelines/${timelineId}/lsn_times`, {
    method: 'POST',
    body: JSON.stringify({ points: points.map((p) => ({ lsn: p.lsn.toString(), timeMs: p.unixMs })) }),
  });
  if (res.status === 404 && !(res.headers.get('content-type') ?? '').includes('json')) return false;
  if (!res.ok) throw await failure(res, 'report LSN times');
  await res.body?.cancel();
  return true;
}
