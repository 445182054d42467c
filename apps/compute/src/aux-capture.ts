/**
 * Keeps the page server's aux-file sets (`.frm`, `.par`, `db.opt`, the Aria
 * system tables: what the redo log does not describe) in step with the
 * compute's datadir.
 *
 * Two ways to learn of a change:
 * - FUSE mode: the filesystem reports every write, rename and removal of an
 *   aux file as it happens (`changed()`), stamped with the redo written at
 *   that moment. Nothing polls: an idle compute does no work here.
 * - basebackup mode: mariadbd writes a local directory nobody watches, so the
 *   directory is compared with the last stored set every `pollMs`.
 *
 * `settled()` is the barrier the FUSE redo sink puts in front of an fsync of
 * the log: it resolves once every change noticed before the call is stored.
 * A DDL returns only after its commit's fsync, so once it returned, a branch
 * at any later LSN finds its `.frm`: no window in which a branch misses it.
 *
 * A set is stored under the LSN of the redo written when its first change
 * was noticed (never above it: a branch right after the DDL must see it),
 * and only once the quorum committed that LSN (a set at an LSN the quorum may
 * still lose would outlive it). A failed store is retried with backoff; the
 * fsyncs waiting on it wait too (commits pause, `pending` shows it), as they
 * do while the quorum is unreachable.
 */
import { auxSnapshot, type AuxSnapshot, sameSnapshot } from './aux-watcher.js';

export interface AuxCaptureOptions {
  /** The directory the aux files are read from (never the FUSE mount, which this thread serves). */
  readonly dir: string;
  /** The end of the redo written so far: the stamp of a change noticed now. */
  readonly writtenLsn: () => bigint;
  readonly waitCommitted: (lsn: bigint, timeoutMs: number) => Promise<void>;
  /** Uploads the files of `dir` as the set valid from `lsn`; resolves with the number of files. */
  readonly store: (lsn: bigint, dir: string) => Promise<number>;
  readonly log: (line: string) => void;
  readonly onStored?: (lsn: bigint, files: number) => void;
  /** Basebackup mode: compare the directory with the last stored set this often. */
  readonly pollMs?: number;
  readonly commitTimeoutMs?: number;
}

const RETRY_MS_MIN = 200;
const RETRY_MS_MAX = 5_000;

export class AuxCapture {
  private last: AuxSnapshot;
  /** Changes noticed so far, and how many of them a finished store covers. */
  private noticed = 0;
  private stored = 0;
  /** The stamp of the oldest change not yet covered by a store. */
  private dirtyLsn: bigint | undefined;
  private running: Promise<void> | undefined;
  private readonly waiters: { seq: number; resolve: () => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private retryMs = RETRY_MS_MIN;
  setsStored = 0;
  lastLsn: bigint | undefined;
  /** Unix ms of the last look that found the directory equal to a stored set. */
  private lookedAtMs: number | undefined;

  constructor(private readonly opts: AuxCaptureOptions) {
    this.last = auxSnapshot(opts.dir);
    if (opts.pollMs !== undefined) {
      this.timer = setInterval(() => {
        if (!this.running) this.changed();
      }, opts.pollMs);
    }
  }

  /**
   * Unix ms before which every aux change is stored. Told of every change
   * (FUSE), with none pending that is now; polling, the last look that found
   * the directory equal to a stored set.
   */
  get currentAtMs(): number | undefined {
    if (this.opts.pollMs === undefined && this.pending === 0) return Date.now();
    return this.lookedAtMs;
  }

  /** Changes noticed and not yet stored (fsyncs that arrive now wait for them). */
  get pending(): number {
    return this.noticed - this.stored;
  }

  /** An aux file changed now (or, polling: may have). */
  changed(): void {
    if (this.stopped) return;
    this.noticed++;
    this.dirtyLsn ??= this.opts.writtenLsn();
    this.kick();
  }

  /** Resolves once every change noticed before this call is stored. */
  settled(): Promise<void> {
    if (this.stored >= this.noticed) return Promise.resolve();
    const seq = this.noticed;
    return new Promise((resolve) => this.waiters.push({ seq, resolve }));
  }

  /** The last set, at `lsn` (the end of the redo at a clean stop); the caller waits for the store. */
  async storeFinal(lsn: bigint): Promise<void> {
    this.stopTimer();
    await this.running;
    this.noticed++;
    this.dirtyLsn = lsn;
    await this.storeOnce();
  }

  /** No more stores; fsyncs still waiting are let go (the server is down or being killed). */
  stop(): Promise<void> {
    this.stopped = true;
    this.stopTimer();
    for (const w of this.waiters.splice(0)) w.resolve();
    return this.running ?? Promise.resolve();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.loop().finally(() => {
      this.running = undefined;
      // A change noticed while the last store finished.
      if (!this.stopped && this.stored < this.noticed) this.kick();
    });
  }

  private async loop(): Promise<void> {
    while (!this.stopped && this.stored < this.noticed) {
      try {
        await this.storeOnce();
        this.retryMs = RETRY_MS_MIN;
      } catch (e) {
        this.opts.log(`aux set not stored (retrying in ${this.retryMs} ms): ${e instanceof Error ? e.message : String(e)}`);
        await new Promise((r) => setTimeout(r, this.retryMs));
        this.retryMs = Math.min(RETRY_MS_MAX, this.retryMs * 2);
      }
    }
  }

  /** Stores the directory as it is now if it differs from the last set; covers every change noticed before it began. */
  private async storeOnce(): Promise<void> {
    const seq = this.noticed;
    const lookedAt = Date.now();
    const lsn = this.dirtyLsn ?? this.opts.writtenLsn();
    // Changes noticed from here on are stamped afresh, for the next set.
    this.dirtyLsn = undefined;
    try {
      const snap = auxSnapshot(this.opts.dir);
      if (!sameSnapshot(snap, this.last)) {
        await this.opts.waitCommitted(lsn, this.opts.commitTimeoutMs ?? 120_000);
        const files = await this.opts.store(lsn, this.opts.dir);
        this.last = snap;
        this.lastLsn = lsn;
        this.setsStored++;
        this.opts.onStored?.(lsn, files);
        this.opts.log(`aux set stored at LSN ${lsn}: ${files} files`);
      }
    } catch (e) {
      // Not stored: the next try keeps the oldest stamp.
      this.dirtyLsn = lsn;
      throw e;
    }
    this.lookedAtMs = lookedAt;
    this.stored = Math.max(this.stored, seq);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.seq <= this.stored) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }
}
