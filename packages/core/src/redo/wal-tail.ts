/**
 * Where valid WAL ends: the safekeeper's WAL is the redo stream itself, a
 * sequence of mtrs each closed by an end byte and a CRC-32C, so the stream
 * says on its own how far it is whole (neon `find_end_of_wal`, re-derived
 * for mtr framing). Pure: the caller reads the bytes, this only judges them.
 *
 * The judgement, for bytes that start at an mtr boundary:
 *   - whole mtrs with a matching CRC are WAL;
 *   - after the last whole mtr, an incomplete mtr whose bytes so far are a
 *     valid prefix (framing walks to the end of the bytes) is WAL too: a
 *     write cut short, not a wrong one. Appends are whole mtrs now (a
 *     safekeeper refuses others, `wholeMtrsError`), but WAL written before
 *     that rule may have acknowledged ends inside an mtr, which a recovery
 *     must keep;
 *   - anything else (a complete frame with a wrong CRC, a byte that cannot
 *     start or continue an mtr, an mtr over 1 MiB) is torn: the valid WAL
 *     ends at the last whole mtr before it.
 */
import { assert } from '../assert.js';
import { CorruptRedo } from '../errors.js';
import { FRAME_INCOMPLETE, frameCrcMatches, frameEndReason, MTR_SIZE_MAX, MTR_TAIL_LENGTH, parseMtrRecords, scanFrame } from './mtr.js';

/**
 * Which CRCs `MtrStreamCheck` verifies. 'all': every mtr (recovery).
 * 'edges': the first and the last mtr completed by each push (the append
 * path, where a full CRC pass would cost more CPU than the rest of the
 * append; a stream that is not redo, or a discontinuity between two
 * appends, still shows at once).
 */
export type CrcCheck = 'all' | 'edges';

export interface WalEnd {
  /** End of the last whole mtr. */
  readonly wholeEndLsn: bigint;
  /** End of the valid WAL: `wholeEndLsn` plus a trailing valid prefix of an mtr, if any. */
  readonly endLsn: bigint;
  /** Why the bytes past `endLsn` are not WAL; undefined when all of them are. */
  readonly tornReason: string | undefined;
}

/**
 * Follows a redo stream pushed in pieces of any size from an mtr boundary,
 * and knows at every point where its valid part ends. Holds at most one
 * incomplete mtr (under `MTR_SIZE_MAX` + its tail) between pushes.
 */
export class MtrStreamCheck {
  private pending: Uint8Array = new Uint8Array(0);
  private wholeEnd: bigint;
  private failure: string | undefined;

  /** `startLsn` must be an mtr boundary; `crc` may change between pushes (recovery hands its check to the append path). */
  constructor(
    readonly startLsn: bigint,
    public crc: CrcCheck,
  ) {
    assert(startLsn >= 0n, 'negative start LSN');
    this.wholeEnd = startLsn;
  }

  /** Whether every byte pushed so far is valid WAL. */
  get ok(): boolean {
    return this.failure === undefined;
  }

  /** Why the stream stopped being WAL (undefined while `ok`). */
  get reason(): string | undefined {
    return this.failure;
  }

  /** End of the last whole mtr seen (verified as `crc` says). */
  get wholeEndLsn(): bigint {
    return this.wholeEnd;
  }

  /** End of the valid WAL pushed: the whole mtrs, plus the pending prefix while `ok`. */
  get endLsn(): bigint {
    return this.wholeEnd + BigInt(this.pending.length);
  }

  get result(): WalEnd {
    return { wholeEndLsn: this.wholeEnd, endLsn: this.endLsn, tornReason: this.failure };
  }

  /** Feeds the next bytes of the stream; returns `ok`. Once torn, later bytes are ignored. */
  push(chunk: Uint8Array): boolean {
    if (this.failure !== undefined || chunk.length === 0) return this.failure === undefined;
    let buf = chunk;
    if (this.pending.length > 0) {
      buf = new Uint8Array(this.pending.length + chunk.length);
      buf.set(this.pending);
      buf.set(chunk, this.pending.length);
    }
    const end = buf.length;
    let pos = 0;
    // The last whole mtr not yet CRC-checked ('edges' checks it after the loop).
    let uncheckedStart = -1;
    let uncheckedEndByte = -1;
    let first = true;
    // Each pass consumes one whole mtr (at least 6 bytes), so the loop is bounded by end / 6.
    while (pos < end) {
      const p = scanFrame(buf, pos, end);
      if (p === FRAME_INCOMPLETE || (p >= 0 && p + MTR_TAIL_LENGTH > end)) break;
      if (p < 0) return this.fail(buf, pos, frameEndReason(p, buf, pos));
      if (this.crc === 'all' || first) {
        if (!frameCrcMatches(buf, pos, p)) return this.fail(buf, pos, 'CRC-32C mismatch');
        uncheckedStart = -1;
      } else {
        uncheckedStart = pos;
        uncheckedEndByte = p;
      }
      first = false;
      pos = p + MTR_TAIL_LENGTH;
    }
    if (uncheckedStart >= 0 && !frameCrcMatches(buf, uncheckedStart, uncheckedEndByte)) {
      return this.fail(buf, uncheckedStart, 'CRC-32C mismatch');
    }
    assert(end - pos <= MTR_SIZE_MAX + MTR_TAIL_LENGTH, 'pending mtr beyond the size limit');
    this.wholeEnd += BigInt(pos);
    // A copy: the caller may reuse its buffer.
    this.pending = pos === end ? new Uint8Array(0) : buf.slice(pos);
    return true;
  }

  private fail(buf: Uint8Array, at: number, reason: string): false {
    // `at` is an mtr start within `buf`, which begins at the old whole end.
    assert(at >= 0 && at <= buf.length, 'failure outside the buffer');
    this.wholeEnd += BigInt(at);
    this.pending = new Uint8Array(0);
    this.failure = `${reason} at LSN ${this.wholeEnd}`;
    return false;
  }
}

/** Where valid WAL ends in `bytes`, which start at the mtr boundary `startLsn`; every CRC is verified. */
export function findEndOfWal(bytes: Uint8Array, startLsn: bigint): WalEnd {
  const check = new MtrStreamCheck(startLsn, 'all');
  check.push(bytes);
  return check.result;
}

/**
 * Why `buf[start, end)` is not a sequence of whole mtrs, each with a valid
 * CRC-32C, that ends exactly at `end`; undefined when it is. This is what a
 * safekeeper requires of every append (the proposer cuts appends at mtr
 * ends): a byte that cannot start an mtr, a wrong CRC, or an mtr cut by the
 * end of the append is refused before anything is stored. Allocates nothing;
 * the CRCs go through `crc32c`, so a native accelerator speeds them up.
 */
export function wholeMtrsError(buf: Uint8Array, start = 0, end = buf.length, records?: RecordCheck): string | undefined {
  assert(start >= 0 && start <= end && end <= buf.length, `range ${start}..${end} outside ${buf.length} bytes`);
  let pos = start;
  // Each pass consumes one whole mtr (at least 6 bytes): bounded by (end - start) / 6.
  while (pos < end) {
    const p = scanFrame(buf, pos, end);
    if (p === FRAME_INCOMPLETE || (p >= 0 && p + MTR_TAIL_LENGTH > end)) return `the mtr at byte ${pos - start} is cut by the end of the bytes`;
    if (p < 0) return `${frameEndReason(p, buf, pos)} at byte ${pos - start}`;
    if (!frameCrcMatches(buf, pos, p)) return `CRC-32C mismatch in the mtr at byte ${pos - start}`;
    const next = p + MTR_TAIL_LENGTH;
    if (records) {
      const why = mtrRecordsError(buf.subarray(pos, next), records.pageSize);
      if (why !== undefined) return `${why} in the mtr at byte ${pos - start}`;
    }
    pos = next;
  }
  return undefined;
}

/** Parse every record too, as the page server's ingest will (`pageSize` bounds their offsets). */
export interface RecordCheck {
  readonly pageSize: number;
}

/**
 * Why the records of one CRC-valid mtr cannot be parsed, undefined when
 * they can: the same parser the page server ingests with, so WAL a
 * safekeeper takes is WAL the page server can read. A CRC only says the
 * bytes arrived as sent; a hostile sender computes it over garbage.
 */
export function mtrRecordsError(mtr: Uint8Array, pageSize: number): string | undefined {
  try {
    parseMtrRecords(mtr, 0n, { pageSize, checkOnly: true });
    return undefined;
  } catch (e) {
    if (e instanceof CorruptRedo) return `${e.reason} (byte ${e.lsn} of the mtr)`;
    throw e;
  }
}

/**
 * Where to cut `buf[start, end)`, which starts at an mtr boundary, so that
 * the piece holds whole mtrs only and at most `bytesMax` bytes: the end of
 * the last whole mtr that fits, or, when even the first one is longer, the
 * end of the first (a piece always makes progress). Returns an offset into
 * `buf`; `start` when the bytes end before the first mtr does (it continues
 * past `end`). Framing only, no CRC: the receiver verifies those. Returns
 * -1 when the bytes are not redo at all (no boundary can be found).
 */
export function mtrCut(buf: Uint8Array, start: number, end: number, bytesMax: number): number {
  assert(start >= 0 && start <= end && end <= buf.length, `range ${start}..${end} outside ${buf.length} bytes`);
  assert(bytesMax > 0, 'a cut needs room for some bytes');
  let pos = start;
  // Bounded by (end - start) / 6, as above.
  while (pos < end) {
    const p = scanFrame(buf, pos, end);
    if (p === FRAME_INCOMPLETE || (p >= 0 && p + MTR_TAIL_LENGTH > end)) return pos;
    if (p < 0) return pos === start ? -1 : pos;
    const next = p + MTR_TAIL_LENGTH;
    if (next - start > bytesMax && pos > start) return pos;
    pos = next;
  }
  return pos;
}
