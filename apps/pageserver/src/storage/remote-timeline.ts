/**
 * A timeline's copy in remote storage (S3 API or a directory): its layer
 * files, aux files and index, under `tenants/<t>/timelines/<tl>/`. Uploads go
 * through one ordered queue per timeline so the remote index never names a
 * layer that is not uploaded yet; the index uploaded last is the remote
 * source of truth and its diskConsistentLsn is the `remote_consistent_lsn`
 * reported to the safekeepers.
 *
 * Failures (the store answering 500, or not answering within
 * `attemptTimeoutMs`) keep the task at the head of the queue and retry it
 * after a backoff that doubles from `backoffBaseMs` to `backoffMaxMs`,
 * without jitter: one queue per timeline makes one request at a time, so
 * there is no herd to spread, and a fixed schedule is what an operator can
 * read off the status. Ingest never waits for this queue: the layer files
 * are on local disk already, so an outage costs disk (the queue's bytes)
 * and safekeeper WAL (held below `remote_consistent_lsn`), not writes.
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RemoteStorage } from '@strata/remote-storage';
import { RemoteUploadTimedOut } from '../errors.js';
import { unpackAuxSet } from './aux-store.js';
import { timelineMetaSchema, type TimelineMeta } from './timeline-meta.js';

export interface RemoteTimelineStats {
  /** Tasks waiting, the one in flight included. */
  readonly queued: number;
  /** Of those, file uploads, and the bytes they (and queued index writes) will send. */
  readonly pendingFiles: number;
  readonly pendingBytes: number;
  /** How long the oldest queued task has waited (0 when the queue is empty). */
  readonly oldestPendingAgeMs: number;
  readonly uploadedBytes: number;
  readonly uploadedFiles: number;
  readonly downloadedBytes: number;
  readonly downloadedFiles: number;
  readonly deletedFiles: number;
  /** Failed attempts since start (each retried). */
  readonly failures: number;
  /** Failed attempts since the last success: > 0 means remote storage is failing now. */
  readonly consecutiveFailures: number;
  /** The wait before the next attempt while failing, else 0. */
  readonly backoffMs: number;
  readonly lastError: string | null;
  /** The failed attempt's error code (REMOTE_STORAGE_IO, REMOTE_UPLOAD_TIMEOUT, ENOENT...) or class name. */
  readonly lastErrorCode: string | null;
  /** Wall-clock ms of `lastError`. */
  readonly lastErrorAtMs: number | null;
  readonly lastSuccessAtMs: number | null;
  /** File uploads dropped because the local file was replaced and its remote delete is queued. */
  readonly skippedFiles: number;
  readonly remoteConsistentLsn: bigint;
}

export interface RemoteTimelineOptions {
  /** The first retry waits this long; each further consecutive failure doubles it. */
  readonly backoffBaseMs?: number;
  /** The longest wait between two attempts. */
  readonly backoffMaxMs?: number;
  /** One attempt (a put or delete) that takes longer is aborted and counts as a failure. */
  readonly attemptTimeoutMs?: number;
  /** Wall clock for `lastErrorAtMs` and task ages (tests). */
  readonly nowMs?: () => number;
}

export const DEFAULT_UPLOAD_BACKOFF_BASE_MS = 100;
export const DEFAULT_UPLOAD_BACKOFF_MAX_MS = 10_000;
/** A 256 MiB layer at 10 MB/s takes ~27 s; anything far beyond that is a store that stopped answering. */
export const DEFAULT_UPLOAD_ATTEMPT_TIMEOUT_MS = 120_000;
/** Error messages kept for the status route are cut here: an S3 error body can be long. */
const ERROR_MESSAGE_MAX = 500;

/** The wait before the next attempt after `consecutiveFailures` failures in a row: base · 2^(n−1), capped. */
export function uploadBackoffMs(consecutiveFailures: number, baseMs: number, maxMs: number): number {
  if (consecutiveFailures <= 0) return 0;
  // 2^30 already exceeds any sane cap; the bound keeps the power finite.
  return Math.min(maxMs, baseMs * 2 ** Math.min(consecutiveFailures - 1, 30));
}

type Task = { readonly queuedAtMs: number; readonly bytes: number } & (
  | { kind: 'file'; key: string; localPath: string }
  | { kind: 'index'; text: string; lsn: bigint }
  | { kind: 'delete'; key: string }
);

let downloadSeq = 0;

function fileBytes(path: string): number {
  // A stat is one metadata call, not a read: cheap enough on the caller's path, and it makes the backlog's bytes visible.
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function isNotFound(e: unknown): boolean {
  return e instanceof Error && (e as NodeJS.ErrnoException).code === 'ENOENT';
}

export class RemoteTimeline {
  private queue: Task[] = [];
  private running: Promise<void> | null = null;
  private stats = { uploadedBytes: 0, uploadedFiles: 0, downloadedBytes: 0, downloadedFiles: 0, deletedFiles: 0, failures: 0, skippedFiles: 0 };
  private consecutiveFailures = 0;
  private backoffMs = 0;
  private lastError: { message: string; code: string; atMs: number } | null = null;
  private lastSuccessAtMs: number | null = null;
  private remoteConsistent = 0n;
  private readonly uploaded = new Set<string>();
  private idle: Array<() => void> = [];
  /** Being deleted from remote storage: nothing more is queued. */
  private destroying = false;
  /** Ends a backoff wait early (destroy must not sit out a 10 s backoff). */
  private wake: (() => void) | null = null;
  /** Aborts the attempt in flight (destroy). */
  private inflight: AbortController | null = null;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly now: () => number;

  constructor(
    private readonly storage: RemoteStorage,
    readonly prefix: string,
    options: RemoteTimelineOptions = {},
  ) {
    this.backoffBaseMs = options.backoffBaseMs ?? DEFAULT_UPLOAD_BACKOFF_BASE_MS;
    this.backoffMaxMs = options.backoffMaxMs ?? DEFAULT_UPLOAD_BACKOFF_MAX_MS;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? DEFAULT_UPLOAD_ATTEMPT_TIMEOUT_MS;
    this.now = options.nowMs ?? Date.now;
  }

  static prefixFor(tenantId: string, timelineId: string): string {
    return `tenants/${tenantId}/timelines/${timelineId}`;
  }

  get remoteConsistentLsn(): bigint {
    return this.remoteConsistent;
  }

  /** Is this layer (by file name) safely in remote storage? Only those may be evicted locally. */
  isUploaded(layerName: string): boolean {
    return this.uploaded.has(`layers/${layerName}`);
  }

  /** Is this object (a key under the timeline's prefix, e.g. `aux/<lsn>/<path>`) known to be in remote storage? */
  isUploadedKey(relKey: string): boolean {
    return this.uploaded.has(relKey);
  }

  snapshot(): RemoteTimelineStats {
    let pendingFiles = 0;
    let pendingBytes = 0;
    let oldest = Infinity;
    for (const t of this.queue) {
      if (t.kind === 'file') pendingFiles++;
      pendingBytes += t.bytes;
      if (t.queuedAtMs < oldest) oldest = t.queuedAtMs;
    }
    return {
      ...this.stats,
      queued: this.queue.length,
      pendingFiles,
      pendingBytes,
      oldestPendingAgeMs: oldest === Infinity ? 0 : Math.max(0, this.now() - oldest),
      consecutiveFailures: this.consecutiveFailures,
      backoffMs: this.backoffMs,
      lastError: this.lastError?.message ?? null,
      lastErrorCode: this.lastError?.code ?? null,
      lastErrorAtMs: this.lastError?.atMs ?? null,
      lastSuccessAtMs: this.lastSuccessAtMs,
      remoteConsistentLsn: this.remoteConsistent,
    };
  }

  /** Mark files already known to be remote (after a restore from remote). */
  markUploaded(relKeys: Iterable<string>, remoteConsistentLsn: bigint): void {
    for (const k of relKeys) this.uploaded.add(k);
    if (remoteConsistentLsn > this.remoteConsistent) this.remoteConsistent = remoteConsistentLsn;
  }

  uploadFile(relKey: string, localPath: string): void {
    if (this.destroying) return;
    // Already waiting (not in flight): that upload reads the file when its turn comes, so it takes this version too.
    if (this.queue.some((t, i) => t.kind === 'file' && t.key === relKey && !(i === 0 && this.running !== null))) return;
    this.queue.push({ kind: 'file', key: relKey, localPath, bytes: fileBytes(localPath), queuedAtMs: this.now() });
    this.kick();
  }

  uploadIndex(meta: TimelineMeta, text: string): void {
    // Queued indexes are coalesced, with two exceptions. The first one
    // waiting stays: it names files uploaded before it, so remote_consistent_lsn
    // keeps moving while new layers come faster than uploads (dropping every
    // older index for the newest at the tail starved it: in the soak it
    // stood still for minutes). And an index queued before a delete stays:
    // it is what stops naming the deleted file, and it must be in remote
    // storage before the file goes. The rest only delay the newest.
    if (this.destroying) return;
    let firstWaiting = -1;
    let lastDelete = -1;
    this.queue.forEach((t, i) => {
      if (t.kind === 'delete') lastDelete = i;
      if (t.kind === 'index' && firstWaiting < 0 && !(i === 0 && this.running !== null)) firstWaiting = i;
    });
    this.queue = this.queue.filter((t, i) => t.kind !== 'index' || i === firstWaiting || i < lastDelete || (i === 0 && this.running !== null));
    this.queue.push({ kind: 'index', text, lsn: meta.diskConsistentLsn, bytes: text.length, queuedAtMs: this.now() });
    this.kick();
  }

  /**
   * Delete a file (a layer GC or compaction replaced) from remote storage,
   * after every index queued so far: the index that no longer names it goes
   * up first, so the remote index never names a missing file.
   */
  deleteFile(relKey: string): void {
    this.uploaded.delete(relKey);
    if (this.destroying) return;
    this.queue.push({ kind: 'delete', key: relKey, bytes: 0, queuedAtMs: this.now() });
    this.kick();
  }

  /**
   * Remove the timeline from remote storage for good (timeline delete):
   * nothing more is uploaded, the index goes first so that no restore from
   * remote storage brings the timeline back, then every other object under
   * its prefix. Returns how many objects went. On failure the caller calls
   * `resume` and uploads everything again.
   */
  async destroy(): Promise<number> {
    this.destroying = true;
    this.queue = [];
    // Neither a backoff wait nor a hung attempt may hold the delete up; what an attempt did upload is listed and removed below.
    this.inflight?.abort();
    this.wake?.();
    await this.running;
    await this.storage.delete(`${this.prefix}/index.json`);
    let n = 1;
    for (const key of await this.storage.list(`${this.prefix}/`)) {
      await this.storage.delete(key);
      n++;
    }
    this.uploaded.clear();
    this.remoteConsistent = 0n;
    return n;
  }

  /** Uploads are accepted again after a `destroy` that failed. */
  resume(): void {
    this.destroying = false;
  }

  /** Resolve when the queue is empty (e.g. on shutdown: "uploads finished, index written"). */
  drain(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.run().finally(() => {
      this.running = null;
      if (this.queue.length > 0) this.kick();
      else for (const r of this.idle.splice(0)) r();
    });
  }

  /**
   * A task after the head for the same `key`: a delete (the file was
   * replaced locally and the remote copy is going too) or a newer upload
   * (the file was written again; that upload reads it then).
   */
  private supersededLater(key: string): boolean {
    return this.queue.some((t, i) => i > 0 && (t.kind === 'delete' || t.kind === 'file') && t.key === key);
  }

  /** One attempt at the head task, aborted after `attemptTimeoutMs`. */
  private async attempt(t: Task): Promise<void> {
    const abort = new AbortController();
    this.inflight = abort;
    const timer = setTimeout(() => abort.abort(new RemoteUploadTimedOut(`${this.prefix}/${t.kind === 'index' ? 'index.json' : t.key}`, this.attemptTimeoutMs)), this.attemptTimeoutMs);
    // The storage call may not watch the signal (the directory backend); the race makes the timeout hold anyway.
    const aborted = new Promise<never>((_, reject) => {
      abort.signal.addEventListener('abort', () => reject(abort.signal.reason instanceof Error ? abort.signal.reason : new Error('aborted')), { once: true });
    });
    const work = this.perform(t, abort.signal);
    // Whichever of the two loses the race must not surface as an unhandled rejection.
    work.catch(() => undefined);
    aborted.catch(() => undefined);
    try {
      await Promise.race([work, aborted]);
    } finally {
      clearTimeout(timer);
      this.inflight = null;
    }
  }

  private async perform(t: Task, signal: AbortSignal): Promise<void> {
    if (t.kind === 'file') {
      let bytes: number;
      try {
        // One request to the thread pool for the whole file: ingest keeps the event loop busy, and a read in 512 KiB turns starved uploads.
        bytes = await this.storage.putFile(`${this.prefix}/${t.key}`, t.localPath, { signal });
      } catch (e) {
        // Compaction or GC replaced the layer before it went up (its remote delete is queued and no newer index names
        // it), or the file was removed and written again (a newer upload of the same key is queued).
        if (isNotFound(e) && this.supersededLater(t.key)) {
          this.stats.skippedFiles++;
          return;
        }
        throw e;
      }
      this.uploaded.add(t.key);
      this.stats.uploadedBytes += bytes;
      this.stats.uploadedFiles++;
    } else if (t.kind === 'delete') {
      await this.storage.delete(`${this.prefix}/${t.key}`, { signal });
      this.stats.deletedFiles++;
    } else {
      const bytes = new TextEncoder().encode(t.text);
      await this.storage.put(`${this.prefix}/index.json`, bytes, { signal });
      this.stats.uploadedBytes += bytes.length;
      // Only now: the safekeepers drop WAL below this LSN, so it must name an index that is in remote storage.
      if (t.lsn > this.remoteConsistent) this.remoteConsistent = t.lsn;
    }
  }

  private async run(): Promise<void> {
    // Bounded by the queue: each pass either removes the head or waits out a backoff; destroy empties the queue.
    while (this.queue.length > 0) {
      const t = this.queue[0]!;
      try {
        await this.attempt(t);
        // destroy() may have emptied the queue meanwhile: only drop the task just done.
        if (this.queue[0] === t) this.queue.shift();
        this.consecutiveFailures = 0;
        this.backoffMs = 0;
        this.lastSuccessAtMs = this.now();
      } catch (e) {
        // Remote storage down or slow: keep the task at the head and retry; local data stays authoritative meanwhile.
        if (this.destroying) break;
        this.stats.failures++;
        this.consecutiveFailures++;
        const message = e instanceof Error ? e.message : String(e);
        const code = e instanceof Error ? (e as { code?: unknown }).code : undefined;
        this.lastError = {
          message: message.length > ERROR_MESSAGE_MAX ? `${message.slice(0, ERROR_MESSAGE_MAX)}…` : message,
          code: typeof code === 'string' ? code : e instanceof Error ? e.name : 'UNKNOWN',
          atMs: this.now(),
        };
        this.backoffMs = uploadBackoffMs(this.consecutiveFailures, this.backoffBaseMs, this.backoffMaxMs);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.backoffMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = null;
      }
    }
  }

  async downloadIndex(): Promise<TimelineMeta | undefined> {
    const bytes = await this.storage.get(`${this.prefix}/index.json`);
    if (!bytes) return undefined;
    return timelineMetaSchema.parse(JSON.parse(new TextDecoder().decode(bytes)));
  }

  /** Fetch a remote file to `localPath`: written to a unique temp name, then renamed, so no reader sees half a file. */
  async download(relKey: string, localPath: string): Promise<void> {
    const bytes = await this.storage.get(`${this.prefix}/${relKey}`);
    if (!bytes) throw new Error(`remote storage has no ${this.prefix}/${relKey}`);
    await mkdir(dirname(localPath), { recursive: true });
    // Unique per download: two readers fetching the same layer must not rename each other's file.
    const tmp = `${localPath}.download-${process.pid}-${++downloadSeq}`;
    // Asynchronous, like the upload's read: a layer is tens of MiB and GetPage shares the event loop.
    await writeFile(tmp, bytes);
    await rename(tmp, localPath);
    this.stats.downloadedBytes += bytes.length;
    this.stats.downloadedFiles++;
  }

  async list(sub: string): Promise<string[]> {
    const base = `${this.prefix}/${sub}`;
    return (await this.storage.list(base)).map((k) => k.slice(this.prefix.length + 1));
  }
}

/**
 * Rebuild a timeline's local directory from remote storage alone (a wiped
 * disk): the index and the aux files come down now, layers on first read.
 */
export async function restoreTimelineDir(remote: RemoteTimeline, dir: string): Promise<TimelineMeta | undefined> {
  const meta = await remote.downloadIndex();
  if (!meta) return undefined;
  const { writeMeta } = await import('./timeline-meta.js');
  mkdirSync(`${dir}/layers`, { recursive: true });
  for (const key of await remote.list('aux/')) {
    await remote.download(key, `${dir}/${key}`);
    // A set goes up as one tar (aux-store.ts); sets stored before that went up file by file, and come down as they are.
    const set = /^aux\/([0-9]+)\.tar$/.exec(key);
    if (set) unpackAuxSet(readFileSync(`${dir}/${key}`), `${dir}/aux/${set[1]}`);
  }
  writeMeta(dir, meta);
  remote.markUploaded(meta.layers.map((n) => `layers/${n}`), meta.diskConsistentLsn);
  return meta;
}
