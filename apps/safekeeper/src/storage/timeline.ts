/**
 * One timeline on this safekeeper: its control file, its WAL segments and its
 * commit watch, kept consistent with each other. Mutations (WAL writes,
 * flushes, truncation, control writes) run one at a time in a queue; every
 * one that changes durable state is durable before it resolves.
 *
 * One fdatasync per flush. `writeWal` only writes; `syncWal(lsn)` resolves
 * once the WAL is durable up to `lsn`. Flushes are group commits: writes
 * that queue up while an fdatasync runs are all covered by the next one,
 * whoever asks for it. No other file is written on a flush: after a crash
 * the end of the WAL is found by scanning its checksummed mtrs from the
 * control file's `walScanLsn` (wal-store.ts says why that is safe).
 *
 * The control file is written when consensus state or a horizon changes,
 * every CONTROL_REFRESH_BYTES of WAL (which bounds the scan at startup), at
 * close, and after a flush whose end a scan could not find: when the WAL
 * is not a valid redo stream from `walScanLsn` (bytes that are not redo, a
 * new valid run after a discontinuity), the control file records the
 * exact end instead.
 *
 * Order of durable writes (so that a crash between any two leaves a state
 * `Timeline.load` recovers to something the acceptor could have been in):
 *   append: WAL write → WAL fdatasync (→ control file, only when the WAL is
 *     not scannable);
 *   truncate: control file (durable end lowered, no scan start: a crash
 *     before the files are cut must not resurrect the cut WAL) → WAL
 *     truncate + fsync → control file (scan start again).
 */
import { join } from 'node:path';
import { LsnOutOfRange, assert } from '@strata/core';
import { CommitWatch } from '../commit-watch.js';
import type { SafekeeperMetrics } from '../metrics.js';
import { DEFAULT_PAGE_SIZE, readControlFile, writeControlFile, type TimelineControl } from './control-file.js';
import { fsyncDir } from './fs-util.js';
import { LEGACY_FLUSH_MARKER_NAME, readLegacyFlushMarker, removeLegacyFlushMarker } from './flush-marker.js';
import { WalStore } from './wal-store.js';

/** WAL flushed since the control file's durable end after which a flush writes the control file again. */
export const CONTROL_REFRESH_BYTES = 16n * 1024n * 1024n;

export interface TimelineOptions {
  metrics: SafekeeperMetrics;
  segmentBytes?: number;
  walTailCacheBytes?: number;
}

export type ConsensusControl = Pick<TimelineControl, 'term' | 'termHistory' | 'conf' | 'commitLsn' | 'consensus'>;

export class Timeline {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** The flush queued or running, which every writer that finished before it started may share. */
  private flushJob: Promise<void> | null = null;
  /** WAL flushes that called fdatasync (for tests and the benchmark's accounting). */
  walFlushes = 0;
  /** Control file writes. */
  controlWrites = 0;

  private constructor(
    readonly dir: string,
    private controlState: TimelineControl,
    readonly wal: WalStore,
    readonly commits: CommitWatch,
    private readonly options: TimelineOptions,
  ) {}

  /** Writes the first control file into `dir` (which must exist) and opens the timeline. */
  static async create(dir: string, control: TimelineControl, options: TimelineOptions): Promise<Timeline> {
    assert(control.walFlushLsn === control.timelineStartLsn, 'a new timeline has no WAL');
    // The timeline's first byte starts an mtr; if the WAL turns out not to be redo, the scan just finds nothing.
    await writeControlFile(dir, { ...control, walScanLsn: control.timelineStartLsn });
    return Timeline.load(dir, options);
  }

  /** Loads the control file, recovers the WAL to its end, upgrades a directory with a legacy flush marker. */
  static async load(dir: string, options: TimelineOptions): Promise<Timeline> {
    const control = await readControlFile(dir);
    const markerPath = join(dir, LEGACY_FLUSH_MARKER_NAME);
    const marker = await readLegacyFlushMarker(markerPath);
    // The marker held the exact end and may be ahead of the control file, which it never lags except right after a control write.
    const durableEndLsn = marker?.lsn !== undefined && marker.lsn > control.walFlushLsn ? marker.lsn : control.walFlushLsn;
    const wal = await WalStore.open(join(dir, 'wal'), {
      timelineStartLsn: control.timelineStartLsn,
      durableEndLsn,
      scanFromLsn: control.walScanLsn,
      ...(options.segmentBytes !== undefined ? { segmentBytes: options.segmentBytes } : {}),
      ...(options.walTailCacheBytes !== undefined ? { tailCacheBytes: options.walTailCacheBytes } : {}),
    });
    const t = new Timeline(dir, control, wal, new CommitWatch(control.commitLsn), options);
    if (marker !== undefined || wal.flushLsn !== control.walFlushLsn || t.walFields().walScanLsn !== control.walScanLsn) {
      await t.persist({ ...control, ...t.walFields() });
    }
    if (marker !== undefined) {
      // Only now that the control file holds its end.
      await removeLegacyFlushMarker(markerPath);
      await fsyncDir(dir);
    }
    return t;
  }

  get control(): TimelineControl {
    return this.controlState;
  }

  /** innodb_page_size appends are parsed at. */
  get pageSize(): number {
    return this.controlState.pageSize ?? DEFAULT_PAGE_SIZE;
  }

  get tenantId(): string {
    return this.controlState.tenantId;
  }

  get timelineId(): string {
    return this.controlState.timelineId;
  }

  /** End of the durable WAL. */
  get flushLsn(): bigint {
    return this.wal.flushLsn;
  }

  /** End of the WAL written, durable or not. */
  get writtenLsn(): bigint {
    return this.wal.endLsn;
  }

  get commitLsn(): bigint {
    return this.commits.lsn;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.closed) throw new Error(`timeline ${this.tenantId}/${this.timelineId} is closed`);
      return fn();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async persist(next: TimelineControl): Promise<void> {
    const t0 = performance.now();
    await writeControlFile(this.dir, next);
    this.options.metrics.controlFsyncSeconds.observe((performance.now() - t0) / 1000);
    this.controlWrites++;
    this.controlState = next;
  }

  /**
   * The WAL fields of a control file written now: the durable end, and a
   * boundary to scan from, only while the WAL written is valid redo from
   * it: the end of the last whole mtr if it is durable, else the boundary
   * recorded before. None when the WAL is not redo: a scan from an old
   * boundary through bytes that are not redo could take a stretch of them
   * for the valid beginning of an mtr and keep it.
   */
  private walFields(): Pick<TimelineControl, 'walFlushLsn' | 'walScanLsn'> {
    const walFlushLsn = this.wal.flushLsn;
    const boundary = this.wal.lastMtrEndLsn;
    const prev = this.controlState.walScanLsn;
    let walScanLsn: bigint | undefined;
    if (boundary !== undefined && boundary <= walFlushLsn) walScanLsn = boundary;
    else if (this.wal.recoverableFrom(prev) && prev! <= walFlushLsn) walScanLsn = prev;
    return { walFlushLsn, walScanLsn };
  }

  /** Writes WAL at `beginLsn` (the current written end), not yet durable. Returns the new written end. */
  writeWal(beginLsn: bigint, bytes: Uint8Array): Promise<bigint> {
    return this.serial(async () => {
      const end = await this.wal.append(beginLsn, bytes);
      this.options.metrics.walBytesReceived.inc(this.labels(), bytes.length);
      return end;
    });
  }

  /**
   * Resolves once the WAL is durable up to `lsn` (which must have been
   * written), sharing a flush with every other writer waiting then.
   */
  async syncWal(lsn: bigint): Promise<bigint> {
    // A flush covers everything written before it starts. One that is
    // queued or running when this is called started (or will start) after
    // the write of `lsn` finished, because writes and flushes share one
    // queue; so at most two rounds: one stale job cleared late, then one
    // that covers `lsn`.
    for (let round = 0; this.wal.flushLsn < lsn; round++) {
      assert(round < 3, `flush did not reach ${lsn} (durable ${this.wal.flushLsn}, written ${this.wal.endLsn})`);
      assert(lsn <= this.wal.endLsn, `sync to ${lsn} beyond the written WAL ${this.wal.endLsn}`);
      if (!this.flushJob) {
        const job = this.serial(() => this.flushInQueue());
        this.flushJob = job;
        void job.then(
          () => (this.flushJob === job ? (this.flushJob = null) : undefined),
          () => (this.flushJob === job ? (this.flushJob = null) : undefined),
        );
      }
      await this.flushJob;
    }
    return this.wal.flushLsn;
  }

  /** One flush, run in the queue: one fdatasync (per dirty segment), and the control file only when needed. */
  private async flushInQueue(): Promise<void> {
    const r = await this.wal.flush();
    if (r.fsyncs > 0) {
      this.walFlushes++;
      this.options.metrics.walFsyncSeconds.observe(r.fsyncSeconds);
    }
    const c = this.controlState;
    if (r.flushLsn === c.walFlushLsn) return;
    const scannable = this.wal.recoverableFrom(c.walScanLsn);
    if (!scannable || r.flushLsn - c.walFlushLsn >= CONTROL_REFRESH_BYTES) {
      const commitLsn = this.commits.lsn > c.commitLsn && this.commits.lsn <= r.flushLsn ? this.commits.lsn : c.commitLsn;
      await this.persist({ ...c, ...this.walFields(), commitLsn });
    }
  }

  /**
   * Appends WAL at `beginLsn` (the current end) and makes it durable.
   * Returns the new flush LSN. A gap or overlap throws LsnGap, storing nothing.
   */
  async appendWal(beginLsn: bigint, bytes: Uint8Array): Promise<bigint> {
    const end = await this.writeWal(beginLsn, bytes);
    return this.syncWal(end);
  }

  /** Durably discards WAL at and after `lsn`; committed WAL is never truncated. */
  truncateWal(lsn: bigint): Promise<void> {
    return this.serial(async () => {
      if (lsn < this.commits.lsn) throw new LsnOutOfRange(lsn, `below the commit LSN ${this.commits.lsn}`);
      await this.flushInQueue();
      const c = this.controlState;
      if (lsn < this.wal.flushLsn) {
        // Everything below `lsn` is durable now (the flush above). No scan
        // start until the files are cut: a scan could find the WAL being
        // cut, still valid redo, and keep it.
        await this.persist({ ...c, walFlushLsn: lsn, walScanLsn: undefined });
      }
      const scanFrom = c.walScanLsn !== undefined && c.walScanLsn <= lsn ? c.walScanLsn : undefined;
      await this.wal.truncate(lsn);
      await this.wal.followFramesFrom(scanFrom);
      const fields = this.walFields();
      if (fields.walFlushLsn !== this.controlState.walFlushLsn || fields.walScanLsn !== this.controlState.walScanLsn) {
        await this.persist({ ...this.controlState, ...fields });
      }
    });
  }

  /** Persists consensus state (term, history, configuration, commit LSN) and wakes commit waiters. */
  updateConsensus(patch: Partial<ConsensusControl>): Promise<void> {
    return this.serial(async () => {
      const next = { ...this.controlState, ...patch, ...this.walFields() };
      if (next.commitLsn > this.wal.flushLsn) {
        throw new LsnOutOfRange(next.commitLsn, `commit beyond the durable WAL end ${this.wal.flushLsn}`);
      }
      assert(next.commitLsn >= this.controlState.commitLsn, 'commit LSN going back');
      await this.persist(next);
      this.commits.advance(next.commitLsn);
    });
  }

  /**
   * Records the backup and remote-consistent horizons, then drops local WAL
   * both cover. Horizons only rise: a late or repeated report of a lower one
   * (concurrent requests, retries) changes nothing.
   */
  updateHorizons(patch: { backupLsn?: bigint; remoteConsistentLsn?: bigint }): Promise<bigint> {
    return this.serial(async () => {
      const cur = this.controlState;
      const max = (a: bigint, b: bigint | undefined) => (b !== undefined && b > a ? b : a);
      const next = {
        ...cur,
        ...this.walFields(),
        backupLsn: max(cur.backupLsn, patch.backupLsn),
        remoteConsistentLsn: max(cur.remoteConsistentLsn, patch.remoteConsistentLsn),
      };
      assert(next.backupLsn <= this.wal.flushLsn && next.remoteConsistentLsn <= this.wal.flushLsn, 'horizon beyond WAL end');
      await this.persist(next);
      const removable = next.backupLsn < next.remoteConsistentLsn ? next.backupLsn : next.remoteConsistentLsn;
      return this.wal.removeBefore(removable);
    });
  }

  /** WAL bytes `[from, to)`; `to` must not exceed the flush LSN. */
  readWal(from: bigint, to: bigint): Promise<Uint8Array> {
    return this.wal.read(from, to);
  }

  labels(): { tenant_id: string; timeline_id: string } {
    return { tenant_id: this.tenantId, timeline_id: this.timelineId };
  }

  /**
   * Stops accepting work, wakes waiters, closes files once queued work is
   * done. What was written is flushed and its exact end recorded, so a
   * clean restart needs no scan.
   */
  close(): Promise<void> {
    return this.serial(async () => {
      await this.flushInQueue();
      const fields = this.walFields();
      if (fields.walFlushLsn !== this.controlState.walFlushLsn) await this.persist({ ...this.controlState, ...fields });
      this.closed = true;
      this.commits.close();
      await this.wal.close();
    });
  }
}
