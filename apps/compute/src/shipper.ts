/**
 * The redo shipper: tails a live `ib_logfile0` with positioned reads, cuts
 * whole verified mtrs (CRC-32C and the sequence bit of the file's current
 * pass) and appends them to the safekeeper quorum through the proposer.
 *
 * Reading a live log is safe only under the rules of
 * shared/docs/innodb-redo-format.md §6: an mtr that fails its CRC or
 * sequence bit at the tail is "not written yet", so each round re-reads
 * from the start of the first mtr it has not shipped (that also re-reads
 * the partially written last block, which the server rewrites); and the
 * server may overwrite bytes once its checkpoint passes them, which the
 * shipper must notice instead of losing them silently (see `round`).
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { redo } from '@strata/core';
import { ComputeError } from './errors.js';

/** The part of ProposerDriver the shipper uses (a new one replaces it after a configuration change). */
export interface ShipperProposer {
  readonly status: string;
  readonly commitLsn: bigint;
  readonly endLsn: bigint;
  append(beginLsn: bigint, data: Uint8Array): void;
  waitCommitted(lsn: bigint, timeoutMs: number): Promise<void>;
}

export interface ShipperOptions {
  readonly logPath: string;
  /** Where the timeline ends and the file's redo continues (the basebackup's LSN). */
  readonly startLsn: bigint;
  readonly pageSize: number;
  readonly proposer: ShipperProposer;
  /** Pause between rounds that found nothing new. */
  readonly pollMs?: number;
  /** Bytes of mtrs per append; the proposer's appendBytesMax must be at least this plus one mtr. */
  readonly batchBytesMax?: number;
  /** Uncommitted bytes the shipper lets run ahead of the quorum before it stops reading. */
  readonly windowBytes?: number;
  /** LSN → time stamps kept in memory. */
  readonly stampsMax?: number;
  /** Called once when shipping cannot go on without losing redo; the shipper has stopped. */
  readonly onFatal: (e: ComputeError) => void;
  /**
   * The end of the redo MariaDB has written and made durable (Innodb_lsn_flushed):
   * mtrs past it are not shipped yet. Bytes below it are final, whatever a
   * read racing a write sees past it (see FlushedLsnGate). Without it, only
   * the torn-read check guards the tail.
   */
  readonly flushedLsn?: FlushedLsnGate;
  /** How the log's data area is read (default `readSync`): tests stand in a read that races a write. */
  readonly pread?: (fd: number, buf: Uint8Array, offset: number, length: number, position: number) => number;
}

/**
 * Where MariaDB's durable redo ends, as the shipper may ask it: `current()` is
 * the last known value, `undefined` when it cannot be known (then no gate);
 * `refresh()` asks for a newer one (the shipper calls it when the gate held
 * mtrs back) and `onChange` wakes the shipper when it moves.
 */
export interface FlushedLsnGate {
  current(): bigint | undefined;
  refresh(): void;
  onChange(fn: () => void): void;
}

/** One append: mtrs up to `lsn` were found in the file at `unixMs`. */
export interface LsnStamp {
  readonly lsn: bigint;
  readonly unixMs: number;
}

export interface ShipperStats {
  /** Start of the first mtr not shipped yet (= end of the last appended). */
  readonly shippedLsn: bigint;
  readonly commitLsn: bigint;
  /** Bytes found in the file and not yet committed by the quorum. */
  readonly lagBytes: bigint;
  /** Age of the oldest uncommitted mtr batch, 0 when all is committed. */
  readonly lagMs: number;
  /** Time from an mtr batch appearing in the file to its quorum commit, over the last batches. */
  readonly commitLagP50Ms: number;
  readonly commitLagP99Ms: number;
  readonly mtrs: number;
  readonly bytes: bigint;
  readonly checkpointLsn: bigint;
  /** Tailing only: first reads of a round that were torn and read again (none in FUSE mode). */
  readonly tornReads?: number;
  /** Tailing only: rounds that held mtrs back until MariaDB had flushed them. */
  readonly gatedRounds?: number;
}

const READ_BYTES_MIN = 64 * 1024;
/** One read can always hold a whole mtr (at most 1 MiB) plus its tail. */
const READ_BYTES_MAX = 4 * 1024 * 1024;
const READS_PER_ROUND_MAX = 64;
/** The largest block MariaDB rewrites as it fills it (its log block size is the device's, 512 or 4096). */
const LOG_BLOCK_BYTES = 4096;
/** Torn first reads retried at once in one round; past that the next round tries again. */
const TORN_RETRIES_MAX = 8;
const LAG_SAMPLES_MAX = 2048;

export class RedoShipper {
  private readonly fd: number;
  private readonly ino: number;
  private readonly geometry: redo.LogGeometry;
  private decoder: redo.MtrDecoder;
  /** The last mtr handed to the proposer, to check that the file still holds it when the log seems to end. */
  private lastShipped: { lsn: bigint; bytes: Uint8Array } | undefined;
  private proposer: ShipperProposer;
  private readonly opts: ShipperOptions;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private fatal: ComputeError | undefined;
  /** Batches appended and not yet committed: the time they were found, for the lag, and their bytes, for a new proposer. */
  private readonly inFlight: Array<{ beginLsn: bigint; endLsn: bigint; seenMs: number; data: Uint8Array }> = [];
  private readonly lagSamples: number[] = [];
  private readonly stampList: LsnStamp[] = [];
  private paused = false;
  private mtrCount = 0;
  /** First reads of a round found torn (read again before anything was shipped). */
  private tornReads = 0;
  private gatedRounds = 0;
  private byteCount = 0n;
  private lastCheckpointLsn: bigint;
  /** Observers of commit latency (metrics), in ms. */
  onCommitLag: ((ms: number) => void) | undefined;

  constructor(opts: ShipperOptions) {
    this.opts = opts;
    this.proposer = opts.proposer;
    this.fd = openSync(opts.logPath, 'r');
    try {
      const st = fstatSync(this.fd);
      this.ino = st.ino;
      const head = this.readHead(BigInt(st.size));
      this.geometry = { firstLsn: head.header.firstLsn, fileSize: head.fileSize };
      this.lastCheckpointLsn = head.checkpoint.checkpointLsn;
      if (opts.startLsn < head.header.firstLsn) {
        throw new ComputeError('RedoLogChanged', `the log starts at ${head.header.firstLsn}, after the timeline's end ${opts.startLsn}`);
      }
      this.decoder = new redo.MtrDecoder({ startLsn: opts.startLsn, pageSize: opts.pageSize, geometry: this.geometry });
      // A flushed LSN that moved may free held mtrs: read now rather than at the next poll.
      opts.flushedLsn?.onChange(() => {
        if (this.timer && !this.stopped) {
          clearTimeout(this.timer);
          this.schedule(0);
        }
      });
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  /** Log capacity in bytes: how far the server may write past its checkpoint. */
  get capacityBytes(): bigint {
    return redo.logCapacity(this.geometry);
  }

  start(): void {
    this.schedule(0);
  }

  /** Stop tailing (the caller decides whether to `drain` first). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stop();
    closeSync(this.fd);
  }

  get failed(): ComputeError | undefined {
    return this.fatal;
  }

  /** LSN → wall-clock stamps, oldest first (the page server's LSN ↔ time map will take them). */
  stamps(): readonly LsnStamp[] {
    return this.stampList;
  }

  stats(): ShipperStats {
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
      checkpointLsn: this.lastCheckpointLsn,
      tornReads: this.tornReads,
      gatedRounds: this.gatedRounds,
    };
  }

  /** Pause appending (a proposer is being replaced); reading resumes with `replaceProposer`. */
  pause(): void {
    this.paused = true;
  }

  /**
   * Continue with a newly elected proposer (after a membership change fenced
   * the old one). Its log ends at `epochStartLsn`: what we appended past that
   * was not flushed by the new quorum and is appended again from memory.
   */
  replaceProposer(p: ShipperProposer, epochStartLsn: bigint): void {
    const shipped = this.decoder.lsn;
    if (epochStartLsn > shipped) {
      this.fail(new ComputeError('ProposerFencedByTerm', `the timeline ends at ${epochStartLsn}, past what this compute shipped (${shipped}): another writer`));
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

  /**
   * Ship everything the file holds now and wait until the quorum committed
   * it: the last step of a clean stop (after mariadbd exited) or after a
   * crash of mariadbd. Returns the committed end.
   */
  async drain(timeoutMs: number): Promise<bigint> {
    this.stop();
    if (this.fatal) throw this.fatal;
    for (let i = 0; i < 10_000; i++) {
      const before = this.decoder.lsn;
      this.round();
      if (this.fatal) throw this.fatal;
      if (this.decoder.lsn === before) break;
      // Honour the window while draining a large backlog.
      const p = this.proposer;
      if (p.endLsn - p.commitLsn > BigInt(this.windowBytes)) await p.waitCommitted(p.endLsn - BigInt(this.windowBytes) / 2n, timeoutMs);
    }
    const end = this.decoder.lsn;
    await this.proposer.waitCommitted(end, timeoutMs);
    this.noteCommitted();
    return end;
  }

  /** One read-and-ship pass now (used before stamping an aux set). Returns the shipped end. */
  shipNow(): bigint {
    if (!this.stopped && !this.fatal) this.round();
    return this.decoder.lsn;
  }

  private get windowBytes(): number {
    return this.opts.windowBytes ?? 64 << 20;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      const before = this.decoder.lsn;
      try {
        this.round();
      } catch (e) {
        // A CorruptRedo inside a CRC-valid mtr, or an I/O error: never skip redo, stop.
        this.fail(e instanceof ComputeError ? e : new ComputeError('ShipperStalled', `shipper: ${e instanceof Error ? e.message : String(e)}`));
        return;
      }
      // Busy while the file has more; otherwise poll.
      this.schedule(this.decoder.lsn !== before ? 0 : (this.opts.pollMs ?? 10));
    }, ms);
  }

  private fail(e: ComputeError): void {
    if (this.fatal) return;
    this.fatal = e;
    this.stop();
    this.opts.onFatal(e);
  }

  private readHead(fileSize: bigint): redo.LogFileHead {
    const head = new Uint8Array(redo.LOG_START_OFFSET);
    readSync(this.fd, head, 0, head.length, 0);
    return redo.parseLogFileHead(head, fileSize);
  }

  /**
   * Whether the first read of a round was torn. The round starts where the
   * last one found the log's end: inside the block MariaDB rewrites as it
   * fills it, whose bytes past that end were its log buffer's garbage, stale
   * copies of earlier mtrs with valid CRCs among them. A buffered pread racing
   * the pwrite that fills the block may see the new bytes up to some point and
   * the old garbage after it, and a stale mtr lying exactly at that point
   * decodes as the next one. The bytes decoded from that block are read again:
   * once the write is done they are what it wrote, so a difference means the
   * first read mixed two versions (a write landing in between also differs
   * only past what was decoded, never inside it).
   */
  private tornAt(from: bigint, first: Uint8Array, decodedEnd: bigint): boolean {
    const offset = redo.lsnToOffset(this.geometry, from);
    const toBlockEnd = LOG_BLOCK_BYTES - (offset % LOG_BLOCK_BYTES);
    const n = Math.min(toBlockEnd, Number(decodedEnd - from), first.length);
    if (n <= 0) return false;
    const again = this.readAt(from, n);
    return !Buffer.from(again.buffer, again.byteOffset, again.length).equals(Buffer.from(first.buffer, first.byteOffset, n));
  }

  private stillInFile(m: { lsn: bigint; bytes: Uint8Array }): boolean {
    const now = this.readAt(m.lsn, m.bytes.length);
    return now.length === m.bytes.length && Buffer.from(now.buffer, now.byteOffset, now.length).equals(m.bytes);
  }

  private readAt(lsn: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    const size = Number(this.geometry.fileSize);
    let off = redo.lsnToOffset(this.geometry, lsn);
    let done = 0;
    while (done < length) {
      const n = Math.min(length - done, size - off);
      const got = (this.opts.pread ?? readSync)(this.fd, out, done, n, off);
      if (got < n) return out.subarray(0, done + got);
      done += n;
      off = redo.LOG_START_OFFSET;
    }
    return out;
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

  /**
   * Read from the first unshipped LSN until the valid log ends, append what
   * was found. The order of the reads is what makes the overwrite check
   * sound: the checkpoint is read *before* the data. Everything below that
   * checkpoint was durable in the file before the checkpoint was written, so
   * the data read afterwards must be valid at least up to it; if the valid
   * log ends below it, the bytes there were overwritten (the server reuses
   * space below its checkpoint) and redo that was never shipped is gone.
   */
  private round(): void {
    this.noteCommitted();
    if (this.paused) return;
    const p = this.proposer;
    if (p.status === 'fenced') return;
    if (p.endLsn - p.commitLsn > BigInt(this.windowBytes)) return;

    if (statSync(this.opts.logPath).ino !== this.ino) {
      this.fail(new ComputeError('RedoLogChanged', `${this.opts.logPath} was replaced (innodb_log_file_size changed online?): the shipper cannot follow`));
      return;
    }
    const head = this.readHead(this.geometry.fileSize);
    if (head.header.firstLsn !== this.geometry.firstLsn) {
      this.fail(new ComputeError('RedoLogChanged', `the log's first LSN changed from ${this.geometry.firstLsn} to ${head.header.firstLsn}`));
      return;
    }
    const checkpointLsn = head.checkpoint.checkpointLsn;
    this.lastCheckpointLsn = checkpointLsn;

    const seenMs = Date.now();
    let readBytes = READ_BYTES_MIN;
    let batch: redo.Mtr[] = [];
    let batchBytes = 0;
    let logEnded = false;
    const flush = (): void => {
      if (batchBytes === 0) return;
      const data = new Uint8Array(batchBytes);
      let off = 0;
      for (const m of batch) {
        data.set(m.bytes, off);
        off += m.bytes.length;
      }
      const beginLsn = batch[0]!.startLsn;
      const endLsn = batch[batch.length - 1]!.endLsn;
      this.proposer.append(beginLsn, data);
      this.inFlight.push({ beginLsn, endLsn, seenMs, data });
      this.stampList.push({ lsn: endLsn, unixMs: seenMs });
      if (this.stampList.length > (this.opts.stampsMax ?? 100_000)) this.stampList.shift();
      const last = batch[batch.length - 1]!;
      this.lastShipped = { lsn: last.startLsn, bytes: last.bytes.slice() };
      this.mtrCount += batch.length;
      this.byteCount += BigInt(batchBytes);
      batch = [];
      batchBytes = 0;
    };
    const batchMax = this.opts.batchBytesMax ?? 1 << 20;
    const gate = this.opts.flushedLsn;
    const limit = gate?.current();
    let gated = false;
    let tornRetries = 0;
    for (let reads = 0; reads < READS_PER_ROUND_MAX; reads++) {
      // Forget a partial tail and read it again: the server rewrites the last block as it fills it.
      this.decoder.discardPending();
      const from = this.decoder.lsn;
      const length = Math.min(readBytes, Number(redo.logCapacity(this.geometry)));
      const chunk = this.readAt(from, length);
      this.decoder.push(chunk);
      let progressed = false;
      const decoded: redo.Mtr[] = [];
      for (;;) {
        const m = this.decoder.next();
        if (!m) break;
        decoded.push(m);
      }
      if (reads === 0 && decoded.length > 0 && this.tornAt(from, chunk, this.decoder.lsn)) {
        // Nothing of this read is shipped: decode it again from where it began.
        this.decoder = new redo.MtrDecoder({ startLsn: from, pageSize: this.opts.pageSize, geometry: this.geometry });
        this.tornReads++;
        if (++tornRetries > TORN_RETRIES_MAX) return;
        reads = -1;
        continue;
      }
      if (limit !== undefined) {
        const cut = decoded.findIndex((m) => m.endLsn > limit);
        if (cut >= 0) {
          // Not durable yet, so possibly not even written: decode it again once MariaDB says it is.
          this.decoder = new redo.MtrDecoder({ startLsn: decoded[cut]!.startLsn, pageSize: this.opts.pageSize, geometry: this.geometry });
          decoded.length = cut;
          gated = true;
        }
      }
      for (const m of decoded) {
        progressed = true;
        if (batchBytes > 0 && batchBytes + m.bytes.length > batchMax) flush();
        batch.push(m);
        batchBytes += m.bytes.length;
      }
      if (gated) break;
      if (this.decoder.endReason !== undefined) {
        logEnded = true;
        break;
      }
      // The read ended inside an mtr: read on, with a larger buffer if not even one mtr fit.
      if (!progressed) readBytes = Math.min(READ_BYTES_MAX, readBytes * 2);
      if (p.endLsn + BigInt(batchBytes) - p.commitLsn > BigInt(this.windowBytes)) break;
    }
    flush();
    if (gated) {
      this.gatedRounds++;
      gate!.refresh();
    }
    const shipped = this.decoder.lsn;
    if (logEnded && this.lastShipped && !this.stillInFile(this.lastShipped)) {
      // The server never rewrites redo below what it has written: a different mtr where one was shipped
      // means the shipper read something that was not the log (a stale block). Stop loudly: the quorum
      // may hold redo this server never meant, and shipping on would build on it.
      this.fail(
        new ComputeError(
          'RedoLogChanged',
          `ib_logfile0 no longer holds the mtr shipped at LSN ${this.lastShipped.lsn}: the shipper read redo that was not final. Stopping the compute; restart it from storage.`,
        ),
      );
      return;
    }
    if (logEnded && checkpointLsn > shipped) {
      this.fail(
        new ComputeError(
          'CheckpointOvertookShipper',
          `MariaDB's checkpoint ${checkpointLsn} is past the end of the valid redo the shipper can read (${shipped}, ${this.decoder.endReason ?? ''}): ` +
            `the server overwrote redo that was never shipped. Stopping the compute; restart it from storage (committed LSN ${this.proposer.commitLsn}).`,
        ),
      );
    }
  }
}
