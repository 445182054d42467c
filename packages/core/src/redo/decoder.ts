/**
 * Incremental mtr decoder: feed it redo bytes as they arrive (a tailed live
 * file, a WAL stream), take whole verified mtrs out; a partial tail stays
 * buffered until the rest arrives.
 */
import { assert } from '../assert.js';
import { CorruptRedo } from '../errors.js';
import { type LogGeometry, logCapacity } from './log-file.js';
import { FRAME_INCOMPLETE, frameCrcMatches, frameEndReason, type Mtr, MTR_SIZE_MAX, MTR_TAIL_LENGTH, type PagePartition, type ParseOptions, parseMtrRecords, scanFrame } from './mtr.js';

export interface DecoderOptions {
  /** LSN of the first byte that will be pushed. */
  readonly startLsn: bigint;
  readonly pageSize?: number;
  /** Parse only the records of these pages (see `PagePartition`). */
  readonly partition?: PagePartition | undefined;
  /** Parse only FREE_PAGE and INIT_PAGE records (see `ParseOptions.resetsOnly`). */
  readonly resetsOnly?: boolean | undefined;
  /** When the bytes come from a log file, its geometry: enables the sequence-bit check. */
  readonly geometry?: LogGeometry;
}

/** LSNs are kept as numbers on the hot path; a log would need 8 PiB of writes to leave that range. */
const LSN_NUMBER_MAX = Number.MAX_SAFE_INTEGER;
const BUFFER_BYTES_MIN = 64 * 1024;

/**
 * Returned mtrs are views into the buffer they were decoded from. A buffer
 * is only ever appended to past its `tail`, never rewritten: when a push does
 * not fit, the partial tail moves to a fresh buffer and the old one stays as
 * it is for as long as some mtr still refers to it.
 */
export class MtrDecoder {
  private buf: Uint8Array = new Uint8Array(0);
  private head = 0;
  private tail = 0;
  /** LSN of `buf[head]`, as a number. */
  private headLsn: number;
  /** The LSN where the next mtr starts, or undefined until `lsn` or `next` needs it. */
  private nextLsnBig: bigint | undefined;
  /** One options object for every mtr: parsing runs per mtr, and the decoder's hot loop allocates as little as it can. */
  private readonly parseOptions: ParseOptions;
  private readonly geometry: LogGeometry | undefined;
  /** Expected end byte of mtrs whose end byte lies below `passEndLsn`; -1 before the first use. */
  private seqBit = -1;
  private passEndLsn = 0;
  private readonly capacity: number;
  private readonly firstLsn: number;
  private endReasonValue: string | undefined;

  constructor(opts: DecoderOptions) {
    assert(opts.startLsn >= 0n && opts.startLsn <= BigInt(LSN_NUMBER_MAX), `start LSN ${opts.startLsn} beyond 2^53`);
    this.headLsn = Number(opts.startLsn);
    this.nextLsnBig = opts.startLsn;
    this.parseOptions = { pageSize: opts.pageSize ?? 16384, partition: opts.partition, resetsOnly: opts.resetsOnly };
    this.geometry = opts.geometry;
    this.capacity = opts.geometry ? Number(logCapacity(opts.geometry)) : 0;
    this.firstLsn = opts.geometry ? Number(opts.geometry.firstLsn) : 0;
  }

  /** LSN where the next mtr starts. */
  get lsn(): bigint {
    return (this.nextLsnBig ??= BigInt(this.headLsn));
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
    const live = this.tail - this.head;
    assert(this.headLsn + live + chunk.length <= LSN_NUMBER_MAX, 'LSN beyond 2^53');
    if (this.tail + chunk.length > this.buf.length) {
      // A fresh buffer: the old one may still back mtrs handed out.
      const needed = live + chunk.length;
      const grown = new Uint8Array(Math.max(needed, BUFFER_BYTES_MIN, 2 * live));
      grown.set(this.buf.subarray(this.head, this.tail));
      this.buf = grown;
      this.head = 0;
      this.tail = live;
    }
    this.buf.set(chunk, this.tail);
    this.tail += chunk.length;
    this.endReasonValue = undefined;
  }

  /**
   * Like `push`, but the decoder keeps `chunk` itself instead of copying it
   * when nothing is pending: the caller hands it over and must not change it.
   */
  pushOwned(chunk: Uint8Array): void {
    if (this.head !== this.tail || chunk.length === 0) {
      this.push(chunk);
      return;
    }
    assert(this.headLsn + chunk.length <= LSN_NUMBER_MAX, 'LSN beyond 2^53');
    this.buf = chunk;
    this.head = 0;
    this.tail = chunk.length;
    this.endReasonValue = undefined;
  }

  /** Forget buffered bytes past the last returned mtr (the caller re-reads them from its source). */
  discardPending(): void {
    // Appending continues past the old tail: returned mtrs keep their bytes.
    this.head = this.tail;
    this.endReasonValue = undefined;
  }

  /**
   * The next whole mtr, or undefined when more bytes are needed or the log
   * ends here (then `endReason` says why). Records inside a CRC-valid mtr
   * that cannot be parsed raise `CorruptRedo`.
   */
  next(): Mtr | undefined {
    const buf = this.buf;
    const head = this.head;
    const tail = this.tail;
    if (head === tail) return undefined;
    const endByte = scanFrame(buf, head, tail);
    if (endByte < 0) {
      if (endByte !== FRAME_INCOMPLETE) this.endReasonValue = frameEndReason(endByte, buf, head);
      else if (tail - head > MTR_SIZE_MAX + 16) this.endReasonValue = 'mtr exceeds 1 MiB';
      return undefined;
    }
    if (this.geometry && buf[endByte] !== this.expectedSeqBit(endByte - head)) {
      this.endReasonValue = 'sequence bit mismatch';
      return undefined;
    }
    if (endByte + MTR_TAIL_LENGTH > tail) {
      if (tail - head > MTR_SIZE_MAX + 16) this.endReasonValue = 'mtr exceeds 1 MiB';
      return undefined;
    }
    if (!frameCrcMatches(buf, head, endByte)) {
      this.endReasonValue = 'CRC-32C mismatch';
      return undefined;
    }
    const length = endByte + MTR_TAIL_LENGTH - head;
    // A view: this buffer is never written again below `tail`.
    const bytes = buf.subarray(head, head + length);
    const startLsn = this.lsn;
    const records = parseMtrRecords(bytes, startLsn, this.parseOptions);
    this.head = head + length;
    this.headLsn += length;
    const endLsn = BigInt(this.headLsn);
    this.nextLsnBig = endLsn;
    return { startLsn, endLsn, bytes, records };
  }

  /** Like `next`, but a log end within the buffered bytes is an error: for streams that must hold only whole valid mtrs. */
  nextStrict(): Mtr | undefined {
    const m = this.next();
    if (!m && this.endReasonValue) throw new CorruptRedo(this.lsn, this.endReasonValue);
    return m;
  }

  /** The end byte expected `distance` bytes after the next mtr's start: it flips at each pass over the file. */
  private expectedSeqBit(distance: number): number {
    const lsn = this.headLsn;
    if (this.seqBit < 0 || lsn >= this.passEndLsn || lsn < this.passEndLsn - this.capacity) {
      const offset = lsn - this.firstLsn;
      assert(offset >= 0, `LSN ${lsn} below the log's first LSN ${this.firstLsn}`);
      // Exact integer division: the products stay below 2^53.
      let pass = Math.floor(offset / this.capacity);
      if (pass * this.capacity > offset) pass--;
      else if ((pass + 1) * this.capacity <= offset) pass++;
      this.passEndLsn = this.firstLsn + (pass + 1) * this.capacity;
      this.seqBit = pass % 2 === 0 ? 1 : 0;
    }
    return lsn + distance < this.passEndLsn ? this.seqBit : this.seqBit ^ 1;
  }
}
