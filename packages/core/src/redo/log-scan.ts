/**
 * Read every mtr of an `ib_logfile0` from a start LSN to the end of the log,
 * following the circular layout. The bytes come through `readAt`, so the
 * same loop serves an in-memory image and positioned reads of a file.
 */
import { assert } from '../assert.js';
import { LsnOutOfRange } from '../errors.js';
import { MtrDecoder } from './decoder.js';
import { type LogFileHead, type LogGeometry, logCapacity, parseLogFileHead, readCircular } from './log-file.js';
import { type Mtr, MTR_SIZE_MAX, type PagePartition } from './mtr.js';

export interface LogSource {
  readonly head: LogFileHead;
  /**
   * `length` bytes of the circular area starting at `lsn` (wrap-around handled by the source),
   * in a fresh array: `scanLog` keeps it, and the mtrs it yields are views into it.
   */
  readAt(lsn: bigint, length: number): Uint8Array;
  /** Like `readAt`, into `out` (all of it): lets `scanLog` reuse one buffer. */
  readInto?(lsn: bigint, out: Uint8Array): void;
}

export interface ScanOptions {
  /**
   * Read every chunk into the same buffer: a yielded mtr (its bytes and record
   * payloads) is only valid until the generator is resumed. Fresh memory is
   * expensive to fault in; a caller that is done with each mtr before asking
   * for the next should set this.
   */
  readonly reuseBuffer?: boolean;
  /** Parse only the records of these pages (see `PagePartition`). */
  readonly partition?: PagePartition | undefined;
  /** Parse only FREE_PAGE and INIT_PAGE records (see `ParseOptions.resetsOnly`). */
  readonly resetsOnly?: boolean | undefined;
}

export interface LogEnd {
  readonly endLsn: bigint;
  readonly reason: string;
}

const CHUNK_BYTES = 4 << 20;

export function geometryOf(head: LogFileHead): LogGeometry {
  return { firstLsn: head.header.firstLsn, fileSize: head.fileSize };
}

/**
 * Reads mtrs from `fromLsn` to the end of the log, one `next()` at a time;
 * `end` then says where and why the log ended. `fromLsn` may lie before the
 * checkpoint (replaying from an older base) as long as the file can still
 * hold it: within one capacity of the checkpoint. A plain object rather than
 * a generator: replay asks for every mtr of the log, and resuming a
 * generator (with its result object) per mtr is a measurable share of that.
 */
export class LogScanner {
  private readonly decoder: MtrDecoder;
  private readonly limit: bigint;
  private fed: bigint;
  private readonly reused: Uint8Array | undefined;
  private ended: LogEnd | undefined;

  constructor(
    private readonly source: LogSource,
    fromLsn: bigint,
    pageSize = 16384,
    options: ScanOptions = {},
  ) {
    const g = geometryOf(source.head);
    const capacity = logCapacity(g);
    if (fromLsn < g.firstLsn || fromLsn + capacity < source.head.checkpoint.endLsn) {
      throw new LsnOutOfRange(fromLsn, `no longer in the log (checkpoint end ${source.head.checkpoint.endLsn}, capacity ${capacity})`);
    }
    this.decoder = new MtrDecoder({ startLsn: fromLsn, pageSize, geometry: g, partition: options.partition, resetsOnly: options.resetsOnly });
    this.limit = fromLsn + capacity;
    this.fed = fromLsn;
    // Room for a chunk and the partial mtr before it (the decoder gives up on more than 1 MiB + 16).
    this.reused = options.reuseBuffer === true ? new Uint8Array(CHUNK_BYTES + MTR_SIZE_MAX + 16) : undefined;
  }

  /** Where and why the log ended; known once `next()` returned undefined. */
  get end(): LogEnd {
    assert(this.ended !== undefined, 'the log end is asked for before next() reached it');
    return this.ended;
  }

  /** The next mtr, or undefined at the end of the log (see `end`). */
  next(): Mtr | undefined {
    const decoder = this.decoder;
    for (;;) {
      const m = decoder.next();
      if (m) return m;
      if (this.ended) return undefined;
      if (decoder.endReason !== undefined) {
        this.ended = { endLsn: decoder.lsn, reason: decoder.endReason };
        return undefined;
      }
      if (this.fed >= this.limit) {
        this.ended = { endLsn: decoder.lsn, reason: 'read one full capacity of log' };
        return undefined;
      }
      this.readChunk();
    }
  }

  private readChunk(): void {
    const { decoder, source, reused } = this;
    const n = Number(this.limit - this.fed < BigInt(CHUNK_BYTES) ? this.limit - this.fed : BigInt(CHUNK_BYTES));
    // Read the partial mtr at the end of the last chunk again with the next one (at most 1 MiB):
    // the decoder then keeps the fresh buffer as it is instead of copying it.
    const pending = decoder.pendingBytes;
    const from = this.fed - BigInt(pending);
    decoder.discardPending();
    if (reused && pending + n <= reused.length) {
      const chunk = reused.subarray(0, pending + n);
      if (source.readInto) source.readInto(from, chunk);
      else chunk.set(source.readAt(from, pending + n));
      decoder.pushOwned(chunk);
    } else {
      decoder.pushOwned(source.readAt(from, pending + n));
    }
    this.fed += BigInt(n);
  }
}

/** `LogScanner` as a generator whose return value is the log end. */
export function* scanLog(source: LogSource, fromLsn: bigint, pageSize = 16384, options: ScanOptions = {}): Generator<Mtr, LogEnd> {
  const scanner = new LogScanner(source, fromLsn, pageSize, options);
  for (let m = scanner.next(); m; m = scanner.next()) yield m;
  return scanner.end;
}

/** A `LogSource` over a whole file image held in memory. */
export function memoryLogSource(file: Uint8Array): LogSource {
  const head = parseLogFileHead(file, BigInt(file.length));
  const g = geometryOf(head);
  return { head, readAt: (lsn, length) => readCircular(file, g, lsn, length) };
}
