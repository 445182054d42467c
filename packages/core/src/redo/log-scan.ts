/**
 * Read every mtr of an `ib_logfile0` from a start LSN to the end of the log,
 * following the circular layout. The bytes come through `readAt`, so the
 * same loop serves an in-memory image and positioned reads of a file.
 */
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
 * Yield mtrs from `fromLsn` to the end of the log; the generator's return
 * value says where and why the log ended. `fromLsn` may lie before the
 * checkpoint (replaying from an older base) as long as the file can still
 * hold it: within one capacity of the checkpoint.
 */
export function* scanLog(source: LogSource, fromLsn: bigint, pageSize = 16384, options: ScanOptions = {}): Generator<Mtr, LogEnd> {
  const g = geometryOf(source.head);
  const capacity = logCapacity(g);
  if (fromLsn < g.firstLsn || fromLsn + capacity < source.head.checkpoint.endLsn) {
    throw new LsnOutOfRange(fromLsn, `no longer in the log (checkpoint end ${source.head.checkpoint.endLsn}, capacity ${capacity})`);
  }
  const decoder = new MtrDecoder({ startLsn: fromLsn, pageSize, geometry: g, partition: options.partition });
  const limit = fromLsn + capacity;
  let fed = fromLsn;
  // Room for a chunk and the partial mtr before it (the decoder gives up on more than 1 MiB + 16).
  const reused = options.reuseBuffer === true ? new Uint8Array(CHUNK_BYTES + MTR_SIZE_MAX + 16) : undefined;
  for (;;) {
    for (let m = decoder.next(); m; m = decoder.next()) yield m;
    if (decoder.endReason !== undefined) return { endLsn: decoder.lsn, reason: decoder.endReason };
    if (fed >= limit) return { endLsn: decoder.lsn, reason: 'read one full capacity of log' };
    const n = Number(limit - fed < BigInt(CHUNK_BYTES) ? limit - fed : BigInt(CHUNK_BYTES));
    // Read the partial mtr at the end of the last chunk again with the next one (at most 1 MiB):
    // the decoder then keeps the fresh buffer as it is instead of copying it.
    const pending = decoder.pendingBytes;
    const from = fed - BigInt(pending);
    decoder.discardPending();
    if (reused && pending + n <= reused.length) {
      const chunk = reused.subarray(0, pending + n);
      if (source.readInto) source.readInto(from, chunk);
      else chunk.set(source.readAt(from, pending + n));
      decoder.pushOwned(chunk);
    } else {
      decoder.pushOwned(source.readAt(from, pending + n));
    }
    fed += BigInt(n);
  }
}

/** A `LogSource` over a whole file image held in memory. */
export function memoryLogSource(file: Uint8Array): LogSource {
  const head = parseLogFileHead(file, BigInt(file.length));
  const g = geometryOf(head);
  return { head, readAt: (lsn, length) => readCircular(file, g, lsn, length) };
}
