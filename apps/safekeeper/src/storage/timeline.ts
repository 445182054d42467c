/**
 * One timeline on this safekeeper: its control file, its WAL segments and its
 * commit watch, kept consistent with each other. Mutations are serialized;
 * every one that changes durable state is durable before it resolves.
 *
 * Order of durable writes (so that a crash between any two leaves a state
 * `Timeline.load` recovers to something the acceptor could have been in):
 *   append: WAL write → WAL fsync → flush marker (durable end raised)
 *   truncate: control file and flush marker (durable end lowered) → WAL truncate + fsync
 * The control file's walFlushLsn is only a lower bound between control
 * writes; the flush marker (flush-marker.ts) holds the exact durable end, so
 * an append costs one WAL fsync and one 16-byte datasync.
 */
import { join } from 'node:path';
import { LsnOutOfRange, assert } from '@strata/core';
import { CommitWatch } from '../commit-watch.js';
import type { SafekeeperMetrics } from '../metrics.js';
import { readControlFile, writeControlFile, type TimelineControl } from './control-file.js';
import { FlushMarker } from './flush-marker.js';
import { WalStore } from './wal-store.js';

export interface TimelineOptions {
  metrics: SafekeeperMetrics;
  segmentBytes?: number;
}

export type ConsensusControl = Pick<TimelineControl, 'term' | 'termHistory' | 'conf' | 'commitLsn' | 'consensus'>;

export class Timeline {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly dir: string,
    private controlState: TimelineControl,
    readonly wal: WalStore,
    readonly commits: CommitWatch,
    private readonly options: TimelineOptions,
    private readonly marker: FlushMarker,
  ) {}

  /** Writes the first control file into `dir` (which must exist) and opens the timeline. */
  static async create(dir: string, control: TimelineControl, options: TimelineOptions): Promise<Timeline> {
    assert(control.walFlushLsn === control.timelineStartLsn, 'a new timeline has no WAL');
    await writeControlFile(dir, control);
    return Timeline.load(dir, options);
  }

  /** Loads the control file, recovers the WAL to its durable end. */
  static async load(dir: string, options: TimelineOptions): Promise<Timeline> {
    const control = await readControlFile(dir);
    const { marker, lsn: markedEnd } = await FlushMarker.open(join(dir, 'wal-flushed'));
    // The marker may lag the control file only if a crash hit between a control write and its first append.
    const durableEndLsn = markedEnd !== undefined && markedEnd > control.walFlushLsn ? markedEnd : control.walFlushLsn;
    const wal = await WalStore.open(join(dir, 'wal'), {
      timelineStartLsn: control.timelineStartLsn,
      durableEndLsn,
      ...(options.segmentBytes !== undefined ? { segmentBytes: options.segmentBytes } : {}),
    });
    return new Timeline(dir, { ...control, walFlushLsn: durableEndLsn }, wal, new CommitWatch(control.commitLsn), options, marker);
  }

  get control(): TimelineControl {
    return this.controlState;
  }

  get tenantId(): string {
    return this.controlState.tenantId;
  }

  get timelineId(): string {
    return this.controlState.timelineId;
  }

  get flushLsn(): bigint {
    return this.wal.flushLsn;
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
    this.controlState = next;
  }

  /**
   * Appends WAL at `beginLsn` (the current end) and makes it durable.
   * Returns the new flush LSN. A gap or overlap throws LsnGap, storing nothing.
   */
  appendWal(beginLsn: bigint, bytes: Uint8Array): Promise<bigint> {
    return this.serial(async () => {
      await this.wal.append(beginLsn, bytes);
      const flush = await this.wal.flush();
      if (flush.fsyncs > 0) this.options.metrics.walFsyncSeconds.observe(flush.fsyncSeconds);
      this.options.metrics.walBytesReceived.inc(this.labels(), bytes.length);
      await this.marker.write(flush.flushLsn);
      this.controlState = { ...this.controlState, walFlushLsn: flush.flushLsn };
      return flush.flushLsn;
    });
  }

  /** Durably discards WAL at and after `lsn`; committed WAL is never truncated. */
  truncateWal(lsn: bigint): Promise<void> {
    return this.serial(async () => {
      if (lsn < this.commits.lsn) throw new LsnOutOfRange(lsn, `below the commit LSN ${this.commits.lsn}`);
      if (lsn < this.controlState.walFlushLsn) {
        await this.persist({ ...this.controlState, walFlushLsn: lsn });
        await this.marker.write(lsn);
      }
      await this.wal.truncate(lsn);
    });
  }

  /** Persists consensus state (term, history, configuration, commit LSN) and wakes commit waiters. */
  updateConsensus(patch: Partial<ConsensusControl>): Promise<void> {
    return this.serial(async () => {
      const next = { ...this.controlState, ...patch };
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
      const next = { ...cur, backupLsn: max(cur.backupLsn, patch.backupLsn), remoteConsistentLsn: max(cur.remoteConsistentLsn, patch.remoteConsistentLsn) };
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

  /** Stops accepting work, wakes waiters, closes files once queued work is done. */
  close(): Promise<void> {
    const done = this.serial(async () => {
      this.closed = true;
      this.commits.close();
      await this.wal.close();
      await this.marker.close();
    });
    return done;
  }
}
