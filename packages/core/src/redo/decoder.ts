/**
 * Incremental mtr decoder: feed it redo bytes as they arrive (a tailed live
 * file, a WAL stream), take whole verified mtrs out; a partial tail stays
 * buffered until the rest arrives.
 */
import { assert } from '../assert.js';
import { CorruptRedo } from '../errors.js';
import { type LogGeometry, logCapacity } from './log-file.js';
import { frameMtr, type Mtr, MTR_SIZE_MAX, parseMtrRecords } from './mtr.js';

export interface DecoderOptions {
  /** LSN of the first byte that will be pushed. */
  readonly startLsn: bigint;
  readonly pageSize?: number;
  /** When the bytes come from a log file, its geometry: enables the sequence-bit check. */
  readonly geometry?: LogGeometry;
}

export class MtrDecoder {
  private buf = new Uint8Array(64 * 1024);
  private head = 0;
  private tail = 0;
  private nextLsn: bigint;
  private readonly pageSize: number;
  private readonly geometry: LogGeometry | undefined;
  private endReasonValue: string | undefined;

  constructor(opts: DecoderOptions) {
    this.nextLsn = opts.startLsn;
    this.pageSize = opts.pageSize ?? 16384;
    this.geometry = opts.geometry;
  }

  /** LSN where the next mtr starts. */
  get lsn(): bigint {
    return this.nextLsn;
  }

  get pendingBytes(): number {
    return this.tail - this.head;
  }

  /** Why the buffered bytes are not an mtr (end of log), or undefined while waiting for more. */
  get endReason(): string | undefined {
    return this.endReasonValue;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.tail + chunk.length > this.buf.length) this.makeRoom(chunk.length);
    this.buf.set(chunk, this.tail);
    this.tail += chunk.length;
    this.endReasonValue = undefined;
  }

  /** Forget buffered bytes past the last returned mtr (the caller re-reads them from its source). */
  discardPending(): void {
    this.head = 0;
    this.tail = 0;
    this.endReasonValue = undefined;
  }

  /**
   * The next whole mtr, or undefined when more bytes are needed or the log
   * ends here (then `endReason` says why). Records inside a CRC-valid mtr
   * that cannot be parsed raise `CorruptRedo`.
   */
  next(): Mtr | undefined {
    if (this.head === this.tail) return undefined;
    const startLsn = this.nextLsn;
    const framed = frameMtr(this.buf, this.head, this.tail, this.seqBitFn(startLsn));
    if (framed.status === 'incomplete') {
      if (this.tail - this.head > MTR_SIZE_MAX + 16) {
        this.endReasonValue = 'mtr exceeds 1 MiB';
      }
      return undefined;
    }
    if (framed.status === 'end') {
      this.endReasonValue = framed.reason;
      return undefined;
    }
    // Copy so the mtr outlives this decoder's buffer.
    const bytes = this.buf.slice(this.head, this.head + framed.length);
    const records = parseMtrRecords(bytes, startLsn, { pageSize: this.pageSize });
    this.head += framed.length;
    this.nextLsn = startLsn + BigInt(framed.length);
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
    }
    return { startLsn, endLsn: this.nextLsn, bytes, records };
  }

  /** Like `next`, but a log end within the buffered bytes is an error: for streams that must hold only whole valid mtrs. */
  nextStrict(): Mtr | undefined {
    const m = this.next();
    if (!m && this.endReasonValue) throw new CorruptRedo(this.nextLsn, this.endReasonValue);
    return m;
  }

  private seqBitFn(startLsn: bigint): ((distance: number) => number) | undefined {
    const g = this.geometry;
    if (!g) return undefined;
    const capacity = logCapacity(g);
    const pass = (startLsn - g.firstLsn) / capacity;
    const passEnd = g.firstLsn + (pass + 1n) * capacity;
    const bitHere = pass % 2n === 0n ? 1 : 0;
    const toPassEnd = passEnd - startLsn;
    return (distance) => (BigInt(distance) < toPassEnd ? bitHere : bitHere ^ 1);
  }

  private makeRoom(extra: number): void {
    const live = this.tail - this.head;
    const needed = live + extra;
    if (needed <= this.buf.length && this.head > 0) {
      this.buf.copyWithin(0, this.head, this.tail);
    } else {
      let size = this.buf.length;
      while (size < needed) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.buf.subarray(this.head, this.tail));
      this.buf = grown;
    }
    this.head = 0;
    this.tail = live;
    assert(this.tail <= this.buf.length, 'decoder buffer overflow');
  }
}
