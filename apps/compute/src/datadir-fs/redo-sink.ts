/**
 * The redo log of a FUSE compute: MariaDB's writes to `ib_logfile0` arrive
 * here (after they landed in the local copy of the file), are cut into whole
 * verified mtrs by the incremental decoder and appended to the proposer at
 * once. An fsync of the log waits until the quorum has committed every mtr
 * written before it: a COMMIT MariaDB acknowledges is in the quorum.
 *
 * No tailing and no polling: the bytes decoded are exactly the bytes MariaDB
 * wrote, in the order it wrote them, read back only up to the end of the
 * write that just happened (the rest of the last block is the writer's
 * garbage, which starts with a 0 byte that ends the log).
 *
 * It has the surface compute.ts uses of RedoShipper (stats, stamps, drain,
 * pause/replaceProposer after a membership change), so the controller runs
 * the same way on either.
 */
import { redo } from '@strata/core';
import { ComputeError } from '../errors.js';
import type { LsnStamp, ShipperProposer, ShipperStats } from '../shipper.js';

export interface RedoSinkOptions {
  /** The checkpoint of the fresh log: the timeline's end. */
  readonly startLsn: bigint;
  readonly pageSize: number;
  readonly geometry: redo.LogGeometry;
  readonly proposer: ShipperProposer;
  /** Bytes of the local log file at a file offset (the write that just happened is there). */
  readonly readFile: (offset: number, length: number) => Uint8Array;
  readonly onFatal: (e: ComputeError) => void;
  readonly batchBytesMax?: number;
  readonly stampsMax?: number;
  /** Slice of one wait for the quorum; fsyncs wait slice after slice, without end, until it commits. */
  readonly commitWaitSliceMs?: number;
}

const LAG_SAMPLES_MAX = 2048;
/** At most one LSN ↔ time stamp per this many ms. */
const STAMP_MS = 20;
/** A write far behind the decoder is a rewrite of the log's head area or a bug: never more than a block or two. */
const REWRITE_BACK_BYTES_MAX = 1 << 20;

export class RedoSink {
  private readonly decoder: redo.MtrDecoder;
  private proposer: ShipperProposer;
  private paused = false;
  private stopped = false;
  private fatal: ComputeError | undefined;
  private readonly inFlight: Array<{ beginLsn: bigint; endLsn: bigint; seenMs: number; data: Uint8Array }> = [];
  private readonly lagSamples: number[] = [];
  private readonly stampList: LsnStamp[] = [];
  private mtrCount = 0;
  private byteCount = 0n;
  private checkpointLsn: bigint;
  private readonly capacity: bigint;
  /** fsyncs waiting for the quorum now, and since when the oldest waits. */
  private waiting = 0;
  private waitingSinceMs: number | undefined;
  private waitsTotal = 0;
  onCommitLag: ((ms: number) => void) | undefined;
  /**
   * Something else an fsync of the log waits for, begun when the fsync is:
   * the aux files changed before it being stored (aux-capture.ts).
   */
  barrier: (() => Promise<void>) | undefined;

  constructor(private readonly opts: RedoSinkOptions) {
    this.proposer = opts.proposer;
    this.checkpointLsn = opts.startLsn;
    this.capacity = redo.logCapacity(opts.geometry);
    this.decoder = new redo.MtrDecoder({ startLsn: opts.startLsn, pageSize: opts.pageSize, geometry: opts.geometry });
  }

  /** LSN of the end of the last whole mtr MariaDB wrote. */
  get writtenLsn(): bigint {
    return this.decoder.lsn;
  }

  get failed(): ComputeError | undefined {
    return this.fatal;
  }

  /** fsyncs of the log waiting for the quorum now (commits that cannot be acknowledged yet). */
  get commitsWaiting(): number {
    return this.waiting;
  }

  get commitWaitMs(): number {
    return this.waitingSinceMs === undefined ? 0 : Date.now() - this.waitingSinceMs;
  }

  /**
   * MariaDB wrote `length` bytes at file `offset` (already in the local
   * file). Decodes and appends every mtr it completes. Throws only on a
   * CRC-valid mtr that cannot be parsed (then the sink has failed).
   */
  onWrite(offset: number, length: number): void {
    if (this.fatal || length <= 0) return;
    if (offset < redo.LOG_START_OFFSET) {
      if (offset + length > redo.CHECKPOINT_1_OFFSET) this.noteCheckpointWrite();
      return;
    }
    const end = this.lsnAtOffset(offset) + BigInt(length);
    const from = this.decoder.lsn;
    if (end <= from) return;
    if (end - from > this.capacity) {
      this.fail(new ComputeError('RedoLogChanged', `a log write at offset ${offset} lands ${end - from} bytes past the last whole mtr (${from}): beyond the log's capacity`));
      return;
    }
    const seenMs = Date.now();
    this.decoder.discardPending();
    this.decoder.push(this.readAt(from, Number(end - from)));
    const batchMax = this.opts.batchBytesMax ?? 1 << 20;
    let batch: redo.Mtr[] = [];
    let batchBytes = 0;
    for (;;) {
      let m: redo.Mtr | undefined;
      try {
        m = this.decoder.next();
      } catch (e) {
        this.fail(new ComputeError('ShipperStalled', `redo written by MariaDB does not parse: ${e instanceof Error ? e.message : String(e)}`));
        return;
      }
      if (!m) break;
      if (batchBytes > 0 && batchBytes + m.bytes.length > batchMax) {
        this.ship(batch, batchBytes, seenMs);
        batch = [];
        batchBytes = 0;
      }
      batch.push(m);
      batchBytes += m.bytes.length;
    }
    this.ship(batch, batchBytes, seenMs);
    this.noteCommitted();
  }

  /**
   * Resolves once the quorum committed every mtr written so far (the fsync
   * of the log). Waits as long as it takes: commits wait while the quorum
   * is unreachable. Rejects only when the sink failed or stopped.
   */
  async waitDurable(): Promise<void> {
    const barrier = this.barrier?.();
    const lsn = this.decoder.lsn;
    await this.waitCommitted(lsn);
    await barrier;
  }

  private async waitCommitted(lsn: bigint): Promise<void> {
    if (this.proposer.commitLsn >= lsn) return;
    this.waiting++;
    this.waitsTotal++;
    this.waitingSinceMs ??= Date.now();
    try {
      for (;;) {
        if (this.fatal) throw this.fatal;
        if (this.stopped && this.proposer.status === 'fenced') throw new ComputeError('ProposerFencedByTerm', 'the proposer was fenced');
        const slice = this.opts.commitWaitSliceMs ?? 5_000;
        const began = Date.now();
        try {
          await this.proposer.waitCommitted(lsn, slice);
          break;
        } catch (e) {
          // A timeout, or a proposer stopped for a membership change: look again at the current one.
          if (this.fatal) throw this.fatal;
          if (this.proposer.commitLsn >= lsn) break;
          if (this.proposer.status === 'fenced' && !this.paused && this.stopped) throw e;
          // A stopped proposer refuses at once: wait before asking again instead of spinning until it is replaced.
          if (Date.now() - began < slice) await new Promise((r) => setTimeout(r, 20));
        }
      }
    } finally {
      this.waiting--;
      if (this.waiting === 0) this.waitingSinceMs = undefined;
    }
    this.noteCommitted();
  }

  // ---- the RedoShipper surface compute.ts drives ----

  start(): void {}

  stop(): void {
    this.stopped = true;
  }

  close(): void {
    this.stop();
  }

  stamps(): readonly LsnStamp[] {
    return this.stampList;
  }

  stats(): ShipperStats & { commitsWaiting: number; commitWaitMs: number; fsyncWaits: number } {
    const shipped = this.decoder.lsn;
    const commit = this.proposer.commitLsn;
    const sorted = [...this.lagSamples].sort((a, b) => a - b);
    const q = (p: number): number => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : 0);
    const oldest = this.inFlight[0];
    return {
      shippedLsn: shipped,
      commitLsn: commit,
      lagBytes: shipped > commit ? shipped - commit : 0n,
      lagMs: oldest ? Date.now() - oldest.seenMs : 0,
      commitLagP50Ms: q(0.5),
      commitLagP99Ms: q(0.99),
      mtrs: this.mtrCount,
      bytes: this.byteCount,
      checkpointLsn: this.checkpointLsn,
      commitsWaiting: this.waiting,
      commitWaitMs: this.commitWaitMs,
      fsyncWaits: this.waitsTotal,
    };
  }

  pause(): void {
    this.paused = true;
  }

  /** As RedoShipper.replaceProposer: what the new quorum lacks is appended again from memory. */
  replaceProposer(p: ShipperProposer, epochStartLsn: bigint): void {
    const shipped = this.decoder.lsn;
    if (epochStartLsn > shipped) {
      this.fail(new ComputeError('ProposerFencedByTerm', `the timeline ends at ${epochStartLsn}, past what this compute wrote (${shipped}): another writer`));
      return;
    }
    const first = this.inFlight[0];
    if (epochStartLsn < shipped && (!first || epochStartLsn < first.beginLsn)) {
      this.fail(new ComputeError('ShipperStalled', `the new quorum ends at ${epochStartLsn}, below redo this compute no longer holds`));
      return;
    }
    this.proposer = p;
    for (const b of this.inFlight) {
      if (b.endLsn <= epochStartLsn) continue;
      const from = epochStartLsn > b.beginLsn ? Number(epochStartLsn - b.beginLsn) : 0;
      p.append(b.beginLsn + BigInt(from), b.data.subarray(from));
    }
    this.paused = false;
  }

  /** Everything written is already handed over: wait for the quorum, return the committed end. */
  async drain(timeoutMs: number): Promise<bigint> {
    this.stop();
    if (this.fatal) throw this.fatal;
    const end = this.decoder.lsn;
    await this.proposer.waitCommitted(end, timeoutMs);
    this.noteCommitted();
    return end;
  }

  shipNow(): bigint {
    return this.decoder.lsn;
  }

  // ---- internals ----

  /** The LSN of a data offset of the circular file, taken next to the decoder's position. */
  private lsnAtOffset(offset: number): bigint {
    const g = this.opts.geometry;
    const here = BigInt(redo.lsnToOffset(g, this.decoder.lsn));
    let d = (BigInt(offset) - here) % this.capacity;
    if (d < 0n) d += this.capacity;
    // A write that starts a little before the decoder rewrites the last, partial block.
    const back = BigInt(REWRITE_BACK_BYTES_MAX) < this.capacity / 2n ? BigInt(REWRITE_BACK_BYTES_MAX) : this.capacity / 2n;
    if (this.capacity - d <= back) return this.decoder.lsn - (this.capacity - d);
    return this.decoder.lsn + d;
  }

  /** `length` bytes of the circular log from `lsn` (wrapping at the file's end). */
  private readAt(lsn: bigint, length: number): Uint8Array {
    const g = this.opts.geometry;
    const size = Number(g.fileSize);
    let off = redo.lsnToOffset(g, lsn);
    if (off + length <= size) return this.opts.readFile(off, length);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = Math.min(length - done, size - off);
      out.set(this.opts.readFile(off, n), done);
      done += n;
      off = redo.LOG_START_OFFSET;
    }
    return out;
  }

  private noteCheckpointWrite(): void {
    try {
      const head = redo.parseLogFileHead(this.opts.readFile(0, redo.LOG_START_OFFSET), this.opts.geometry.fileSize);
      this.checkpointLsn = head.checkpoint.checkpointLsn;
    } catch {
      // One of the two checkpoint blocks is half written: the next write shows it.
    }
  }

  private ship(batch: redo.Mtr[], bytes: number, seenMs: number): void {
    if (bytes === 0) return;
    const data = new Uint8Array(bytes);
    let off = 0;
    for (const m of batch) {
      data.set(m.bytes, off);
      off += m.bytes.length;
    }
    const beginLsn = batch[0]!.startLsn;
    const endLsn = batch[batch.length - 1]!.endLsn;
    // While a new proposer is elected the batch waits in memory; replaceProposer appends it.
    if (!this.paused && this.proposer.status !== 'fenced') this.proposer.append(beginLsn, data);
    this.inFlight.push({ beginLsn, endLsn, seenMs, data });
    // One stamp per STAMP_MS: every log write would make thousands a second, more than the page server's LSN ↔ time map wants.
    // The newest stamp moves forward (LSN and time together) until it is STAMP_MS past the one before it.
    const prev = this.stampList.at(-2);
    if (prev && this.stampList.length > 1 && seenMs - prev.unixMs < STAMP_MS) this.stampList[this.stampList.length - 1] = { lsn: endLsn, unixMs: seenMs };
    else this.stampList.push({ lsn: endLsn, unixMs: seenMs });
    if (this.stampList.length > (this.opts.stampsMax ?? 100_000)) this.stampList.shift();
    this.mtrCount += batch.length;
    this.byteCount += BigInt(bytes);
  }

  private noteCommitted(): void {
    const commit = this.proposer.commitLsn;
    const now = Date.now();
    while (this.inFlight.length > 0 && this.inFlight[0]!.endLsn <= commit) {
      const b = this.inFlight.shift()!;
      const ms = now - b.seenMs;
      this.lagSamples.push(ms);
      if (this.lagSamples.length > LAG_SAMPLES_MAX) this.lagSamples.shift();
      this.onCommitLag?.(ms);
    }
  }

  private fail(e: ComputeError): void {
    if (this.fatal) return;
    this.fatal = e;
    this.opts.onFatal(e);
  }
}
