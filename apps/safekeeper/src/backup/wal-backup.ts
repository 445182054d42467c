/**
 * WAL backup: one safekeeper per timeline uploads its finished segments to
 * remote storage, zstd-compressed (neon `safekeeper/src/wal_backup.rs`).
 *
 * - A segment is finished when it is full and the commit LSN has passed its
 *   end: committed WAL is the same on every safekeeper (log safety), so it
 *   does not matter which one uploads it.
 * - The uploader is a pure function of the configuration and the timeline
 *   id (`uploaderOf`), so the members agree without talking. A member that
 *   is down simply uploads nothing until it is back (skipping members known
 *   down is left for when heartbeats between safekeepers exist); a new
 *   uploader after a membership change starts from the index, not from zero.
 * - Upload order per segment: object, then index, then the local backupLsn
 *   (`Timeline.updateHorizons`, which also removes the local WAL that both
 *   backupLsn and the page server's remoteConsistentLsn cover).
 * - The other members read `backupLsn` from the index, but only when that
 *   could let them remove a segment, so an idle cluster reads nothing.
 *
 * One pass visits every timeline in turn; a timeline whose upload failed
 * waits out an exponential backoff while the others go on.
 */
import { createHash } from 'node:crypto';
import type { RemoteStorage } from '@strata/remote-storage';
import { zstdCompress } from '@strata/zstd';
import { CollectedGauge, Counter, Histogram, type Logger } from '@strata/service-kit';
import type { SafekeeperMetrics } from '../metrics.js';
import type { TimelineControl } from '../storage/control-file.js';
import type { Timeline } from '../storage/timeline.js';
import type { TimelineRegistry } from '../storage/timelines.js';
import { BACKUP_FORMAT_VERSION, readIndex, segmentKey, writeIndex, type BackupIndex } from './remote-layout.js';

export interface WalBackupOptions {
  timelines: TimelineRegistry;
  storage: RemoteStorage;
  nodeId: number;
  metrics: SafekeeperMetrics;
  log: Logger;
  /** Pause between passes. */
  intervalMs?: number;
  /** Shortest pause between two index reads of one timeline by a member that does not upload it. */
  indexPollMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Segments one timeline uploads per pass, so that one busy timeline does not starve the rest. */
  segmentsPerPassMax?: number;
  now?: () => number;
}

/** Deterministic uploader of a timeline: a hash of its ids picks one of the sorted members. */
export function uploaderOf(conf: TimelineControl['conf'], tenantId: string, timelineId: string): number {
  const members = [...conf.members].sort((a, b) => a - b);
  const digest = createHash('sha256').update(`${tenantId}/${timelineId}`).digest();
  const member = members[digest.readUInt32BE(0) % members.length];
  if (member === undefined) throw new Error('a configuration has at least one member');
  return member;
}

interface BackupState {
  failures: number;
  retryAtMs: number;
  /** The uploader reads the index once (it may have been written by a previous uploader). */
  indexAdopted: boolean;
  lastIndexReadMs: number;
}

/** Full segments whose end the commit LSN has passed and which are not backed up yet. */
export function finishedSegments(t: Timeline): { name: string; startLsn: bigint; endLsn: bigint }[] {
  const commit = t.commitLsn;
  const backup = t.control.backupLsn;
  return t.wal.listSegments().filter((s) => s.full && s.endLsn <= commit && s.endLsn > backup);
}

export class WalBackup {
  private readonly state = new WeakMap<Timeline, BackupState>();
  private readonly opts: Required<Omit<WalBackupOptions, 'now'>> & { now: () => number };
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  private stopped = false;

  readonly segmentsUploaded: Counter;
  readonly bytesUploaded: Counter;
  readonly compressedBytesUploaded: Counter;
  readonly failures: Counter;
  readonly stageSeconds: Histogram;

  constructor(options: WalBackupOptions) {
    this.opts = {
      intervalMs: 1000,
      indexPollMs: 10_000,
      backoffMinMs: 1000,
      backoffMaxMs: 60_000,
      segmentsPerPassMax: 16,
      now: () => Date.now(),
      ...options,
    };
    const r = options.metrics.registry;
    this.segmentsUploaded = r.register(new Counter('safekeeper_wal_backup_segments_total', 'WAL segments uploaded to remote storage.'));
    this.bytesUploaded = r.register(new Counter('safekeeper_wal_backup_bytes_total', 'WAL bytes uploaded to remote storage, before compression.'));
    this.compressedBytesUploaded = r.register(new Counter('safekeeper_wal_backup_compressed_bytes_total', 'Bytes of zstd objects uploaded to remote storage.'));
    this.failures = r.register(new Counter('safekeeper_wal_backup_failures_total', 'Failed WAL backup attempts (each followed by a backoff).'));
    // Each stage separately: a slow object store must not look like slow compression.
    this.stageSeconds = r.register(
      new Histogram('safekeeper_wal_backup_stage_seconds', 'Time per segment in each backup stage (read, compress, put).', [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]),
    );
    r.register(
      new CollectedGauge('safekeeper_wal_backup_queue_segments', 'Finished segments this safekeeper should upload and has not yet.', () =>
        this.opts.timelines
          .all()
          .filter((t) => this.isUploader(t))
          .map((t) => [t.labels(), finishedSegments(t).length]),
      ),
    );
  }

  isUploader(t: Timeline): boolean {
    return uploaderOf(t.control.conf, t.tenantId, t.timelineId) === this.opts.nodeId;
  }

  /** Runs passes every `intervalMs` until `stop`. */
  start(): void {
    if (this.stopped || this.timer) return;
    const loop = () => {
      this.pass = this.runOnce().finally(() => {
        this.pass = undefined;
        if (!this.stopped) this.timer = setTimeout(loop, this.opts.intervalMs);
      });
    };
    this.timer = setTimeout(loop, this.opts.intervalMs);
  }

  /** Stops the loop and waits for the pass in progress (an upload is never cut half way by us). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.pass;
  }

  /** One pass over every timeline. Errors are counted, logged and backed off, never thrown. */
  async runOnce(): Promise<void> {
    for (const t of this.opts.timelines.all()) {
      if (this.stopped) return;
      const st = this.stateOf(t);
      if (this.opts.now() < st.retryAtMs) continue;
      try {
        if (this.isUploader(t)) await this.upload(t, st);
        else await this.followIndex(t, st);
        st.failures = 0;
      } catch (e) {
        // A timeline deleted during the pass is not a failure.
        if (!this.opts.timelines.all().includes(t)) continue;
        st.failures++;
        const delay = Math.min(this.opts.backoffMaxMs, this.opts.backoffMinMs * 2 ** Math.min(st.failures - 1, 20));
        st.retryAtMs = this.opts.now() + delay;
        this.failures.inc(t.labels());
        this.opts.log.warn('wal backup failed; backing off', { ...t.labels(), failures: st.failures, retryInMs: delay, error: e });
      }
    }
  }

  private stateOf(t: Timeline): BackupState {
    let st = this.state.get(t);
    if (!st) this.state.set(t, (st = { failures: 0, retryAtMs: 0, indexAdopted: false, lastIndexReadMs: -Infinity }));
    return st;
  }

  /** Raises the local backupLsn to what the index says, within the WAL this safekeeper holds as committed. */
  private async adopt(t: Timeline, index: BackupIndex): Promise<void> {
    if (index.timelineStartLsn !== t.control.timelineStartLsn) {
      throw new Error(`the backup index in remote storage is of a timeline starting at ${index.timelineStartLsn}, not ${t.control.timelineStartLsn}`);
    }
    let lsn = index.backupLsn;
    if (lsn > t.commitLsn) lsn = t.commitLsn;
    if (lsn > t.flushLsn) lsn = t.flushLsn;
    if (lsn > t.control.backupLsn) {
      const removed = await t.updateHorizons({ backupLsn: lsn });
      if (removed > 0n) this.opts.log.info('wal removed after backup', { ...t.labels(), backupLsn: lsn, removedBytes: removed });
    }
  }

  private async upload(t: Timeline, st: BackupState): Promise<void> {
    if (!st.indexAdopted) {
      const index = await readIndex(this.opts.storage, t.tenantId, t.timelineId);
      if (index) await this.adopt(t, index);
      st.indexAdopted = true;
    }
    const pending = finishedSegments(t).slice(0, this.opts.segmentsPerPassMax);
    for (const seg of pending) {
      if (this.stopped) return;
      if (seg.startLsn > t.control.backupLsn) {
        throw new Error(`WAL [${t.control.backupLsn}, ${seg.startLsn}) is neither backed up nor stored here`);
      }
      const labels = t.labels();
      let t0 = performance.now();
      const bytes = await t.readWal(seg.startLsn, seg.endLsn);
      this.stageSeconds.observe((performance.now() - t0) / 1000, { stage: 'read' });
      t0 = performance.now();
      const compressed = zstdCompress(bytes);
      this.stageSeconds.observe((performance.now() - t0) / 1000, { stage: 'compress' });
      t0 = performance.now();
      await this.opts.storage.put(segmentKey(t.tenantId, t.timelineId, seg.startLsn), compressed);
      await writeIndex(this.opts.storage, {
        formatVersion: BACKUP_FORMAT_VERSION,
        tenantId: t.tenantId,
        timelineId: t.timelineId,
        timelineStartLsn: t.control.timelineStartLsn,
        segmentBytes: this.opts.timelines.segmentBytes,
        backupLsn: seg.endLsn,
        uploadedBy: this.opts.nodeId,
        updatedAt: new Date(this.opts.now()).toISOString(),
      });
      this.stageSeconds.observe((performance.now() - t0) / 1000, { stage: 'put' });
      const removed = await t.updateHorizons({ backupLsn: seg.endLsn });
      this.segmentsUploaded.inc(labels);
      this.bytesUploaded.inc(labels, bytes.length);
      this.compressedBytesUploaded.inc(labels, compressed.length);
      this.opts.log.info('wal segment backed up', { ...labels, segment: seg.name, bytes: bytes.length, compressedBytes: compressed.length, removedBytes: removed });
    }
  }

  /** A member that does not upload: learn the backupLsn when it could free a local segment. */
  private async followIndex(t: Timeline, st: BackupState): Promise<void> {
    const [oldest, next] = t.wal.listSegments();
    if (!oldest || !next) return; // the newest segment always stays
    const c = t.control;
    const freeable = oldest.endLsn <= c.remoteConsistentLsn && oldest.endLsn <= t.commitLsn && oldest.endLsn > c.backupLsn;
    if (!freeable) return;
    const now = this.opts.now();
    if (now - st.lastIndexReadMs < this.opts.indexPollMs) return;
    st.lastIndexReadMs = now;
    const index = await readIndex(this.opts.storage, t.tenantId, t.timelineId);
    if (index) await this.adopt(t, index);
  }
}
