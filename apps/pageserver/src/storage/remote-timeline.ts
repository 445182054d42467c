/**
 * A timeline's copy in remote storage (S3 API or a directory): its layer
 * files, aux files and index, under `tenants/<t>/timelines/<tl>/`. Uploads go
 * through one ordered queue per timeline so the remote index never names a
 * layer that is not uploaded yet; the index uploaded last is the remote
 * source of truth and its diskConsistentLsn is the `remote_consistent_lsn`
 * reported to the safekeepers.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RemoteStorage } from '@strata/remote-storage';
import { timelineMetaSchema, type TimelineMeta } from './timeline-meta.js';

export interface RemoteTimelineStats {
  readonly queued: number;
  readonly uploadedBytes: number;
  readonly uploadedFiles: number;
  readonly downloadedBytes: number;
  readonly downloadedFiles: number;
  readonly deletedFiles: number;
  readonly failures: number;
  readonly remoteConsistentLsn: bigint;
}

type Task = { kind: 'file'; key: string; localPath: string } | { kind: 'index'; text: string; lsn: bigint } | { kind: 'delete'; key: string };

let downloadSeq = 0;

export class RemoteTimeline {
  private queue: Task[] = [];
  private running: Promise<void> | null = null;
  private stats = { uploadedBytes: 0, uploadedFiles: 0, downloadedBytes: 0, downloadedFiles: 0, deletedFiles: 0, failures: 0 };
  private remoteConsistent = 0n;
  private readonly uploaded = new Set<string>();
  private idle: Array<() => void> = [];
  /** Being deleted from remote storage: nothing more is queued. */
  private destroying = false;

  constructor(
    private readonly storage: RemoteStorage,
    readonly prefix: string,
    private readonly retryMs = 1000,
  ) {}

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

  snapshot(): RemoteTimelineStats {
    return { ...this.stats, queued: this.queue.length + (this.running ? 1 : 0), remoteConsistentLsn: this.remoteConsistent };
  }

  /** Mark files already known to be remote (after a restore from remote). */
  markUploaded(relKeys: Iterable<string>, remoteConsistentLsn: bigint): void {
    for (const k of relKeys) this.uploaded.add(k);
    if (remoteConsistentLsn > this.remoteConsistent) this.remoteConsistent = remoteConsistentLsn;
  }

  uploadFile(relKey: string, localPath: string): void {
    if (this.destroying) return;
    this.queue.push({ kind: 'file', key: relKey, localPath });
    this.kick();
  }

  uploadIndex(meta: TimelineMeta, text: string): void {
    // Only the newest index matters: drop older queued ones, but never one
    // queued before a delete: that index is what stops naming the deleted
    // file, and it must be in remote storage before the file goes.
    if (this.destroying) return;
    let lastDelete = -1;
    this.queue.forEach((t, i) => {
      if (t.kind === 'delete') lastDelete = i;
    });
    this.queue = this.queue.filter((t, i) => t.kind !== 'index' || i < lastDelete || (i === 0 && this.running !== null));
    this.queue.push({ kind: 'index', text, lsn: meta.diskConsistentLsn });
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
    this.queue.push({ kind: 'delete', key: relKey });
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
    // The task in flight finishes; what it uploads is listed and removed below.
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

  private async run(): Promise<void> {
    while (this.queue.length > 0) {
      const t = this.queue[0]!;
      try {
        if (t.kind === 'file') {
          const bytes = new Uint8Array(readFileSync(t.localPath));
          await this.storage.put(`${this.prefix}/${t.key}`, bytes);
          this.uploaded.add(t.key);
          this.stats.uploadedBytes += bytes.length;
          this.stats.uploadedFiles++;
        } else if (t.kind === 'delete') {
          await this.storage.delete(`${this.prefix}/${t.key}`);
          this.stats.deletedFiles++;
        } else {
          const bytes = new TextEncoder().encode(t.text);
          await this.storage.put(`${this.prefix}/index.json`, bytes);
          this.stats.uploadedBytes += bytes.length;
          if (t.lsn > this.remoteConsistent) this.remoteConsistent = t.lsn;
        }
        this.queue.shift();
      } catch {
        // Remote storage down: keep the task at the head and retry; local data stays authoritative meanwhile.
        this.stats.failures++;
        await new Promise((r) => setTimeout(r, this.retryMs));
      }
    }
  }

  async downloadIndex(): Promise<TimelineMeta | undefined> {
    const bytes = await this.storage.get(`${this.prefix}/index.json`);
    if (!bytes) return undefined;
    return timelineMetaSchema.parse(JSON.parse(new TextDecoder().decode(bytes)));
  }

  /** Fetch a remote file to `localPath` (atomically enough: write then rename is done by the caller's dir layout). */
  async download(relKey: string, localPath: string): Promise<void> {
    const bytes = await this.storage.get(`${this.prefix}/${relKey}`);
    if (!bytes) throw new Error(`remote storage has no ${this.prefix}/${relKey}`);
    mkdirSync(dirname(localPath), { recursive: true });
    // Unique per download: two readers fetching the same layer must not rename each other's file.
    const tmp = `${localPath}.download-${process.pid}-${++downloadSeq}`;
    writeFileSync(tmp, bytes);
    const { renameSync } = await import('node:fs');
    renameSync(tmp, localPath);
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
  for (const key of await remote.list('aux/')) await remote.download(key, `${dir}/${key}`);
  writeMeta(dir, meta);
  remote.markUploaded(meta.layers.map((n) => `layers/${n}`), meta.diskConsistentLsn);
  return meta;
}
