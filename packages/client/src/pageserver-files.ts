/**
 * The page server calls that touch the local disk: a basebackup streamed
 * and unpacked into a directory, and a datadir's aux files uploaded. Apart
 * from pageserver-api.ts because they need node:fs and @strata/datadir
 * (the console imports that one, and bundles none of this).
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { encodeAuxSet } from '@strata/core';
import { readAuxFiles, TarDirSink, TarParser } from '@strata/datadir';
import { z } from 'zod';
import { failure, json, PageserverClientError, type PageserverTarget, request, timelinePath } from './pageserver-http.js';

/** Report basebackup progress at most every this many bytes. */
const PROGRESS_BYTES = 64 << 20;

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
