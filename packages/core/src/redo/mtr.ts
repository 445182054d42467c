/**
 * Mini-transaction framing and record parsing (innodb-redo-format.md §2).
 *
 * Two layers: `frameMtr` finds where an mtr ends and checks its end byte and
 * CRC, which is how the log's end is recognised (a failure there is "no more
 * log", exactly as in MariaDB's recovery); `parseMtrRecords` turns a framed
 * mtr into records and throws `CorruptRedo` for anything impossible inside a
 * CRC-valid mtr.
 */
import { readU64 } from '../bytes.js';
import { CorruptRedo } from '../errors.js';
import { crc32c } from './crc32c.js';
import { type ExtendedSubtype, ExtendedSubtype as X, type PageRecord, type RedoRecord } from './records.js';
import { readVarint, varintLength } from './varint.js';

/** MariaDB refuses any mtr of 1 MiB or more (recv_sys_t::MTR_SIZE_MAX). */
export const MTR_SIZE_MAX = 1 << 20;
/** end byte + CRC-32C, unencrypted format. */
const MTR_TAIL_BYTES = 5;
const FIL_PAGE_TYPE = 24;
const NO_SAME_PAGE = 1;

export type FrameResult =
  | { readonly status: 'ok'; readonly length: number }
  /** The bytes so far are a valid prefix: wait for more. */
  | { readonly status: 'incomplete' }
  /** This is not (yet) an mtr: the log ends here. */
  | { readonly status: 'end'; readonly reason: string };

/** `scanFrame` results below zero: the bytes so far are a valid prefix, or why this is not an mtr. */
export const FRAME_INCOMPLETE = -1;
const FRAME_TOO_LONG = -2;
const FRAME_BAD_LENGTH = -3;
const FRAME_LENGTH_RANGE = -4;
const FRAME_BAD_START = -5;

/**
 * Walk the record lengths of the mtr at `buf[pos, end)` to its end byte.
 * Returns the end byte's position, or a negative `FRAME_*` code; allocates
 * nothing, so the decoder's hot loop can use it directly.
 */
export function scanFrame(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) return FRAME_INCOMPLETE;
  if (buf[pos]! <= 1) return FRAME_BAD_START;
  let p = pos;
  for (;;) {
    if (p - pos >= MTR_SIZE_MAX) return FRAME_TOO_LONG;
    if (p >= end) return FRAME_INCOMPLETE;
    const b = buf[p]!;
    if (b <= 1) return p;
    let rlen = b & 0xf;
    p++;
    if (rlen === 0) {
      if (p >= end) return FRAME_INCOMPLETE;
      const lenlen = varintLength(buf[p]!);
      if (lenlen === 0) return FRAME_BAD_LENGTH;
      if (p + lenlen > end) return FRAME_INCOMPLETE;
      const add = readVarint(buf, p, end);
      if (add < 0 || add >= MTR_SIZE_MAX) return FRAME_LENGTH_RANGE;
      rlen = add + 15;
    }
    p += rlen;
  }
}

/** Why `scanFrame` returned `code` (< -1) for the mtr starting at `buf[pos]`. */
export function frameEndReason(code: number, buf: Uint8Array, pos: number): string {
  switch (code) {
    case FRAME_TOO_LONG:
      return 'mtr exceeds 1 MiB';
    case FRAME_BAD_LENGTH:
      return 'malformed record length';
    case FRAME_LENGTH_RANGE:
      return 'record length out of range';
    case FRAME_BAD_START:
      return `byte 0x0${buf[pos]} cannot start an mtr`;
    default:
      throw new Error(`no end reason for frame code ${code}`);
  }
}

/** The CRC-32C stored after the end byte at `buf[endByte]` matches the mtr from `pos`; needs 5 bytes after `endByte`. */
export function frameCrcMatches(buf: Uint8Array, pos: number, endByte: number): boolean {
  const p = endByte;
  const stored = ((buf[p + 1]! << 24) | (buf[p + 2]! << 16) | (buf[p + 3]! << 8) | buf[p + 4]!) >>> 0;
  return crc32c(buf, pos, p) === stored;
}

/**
 * Frame the mtr at `buf[pos, end)`. `seqBitAt(lsnOffset)` gives the expected
 * end byte for the end byte's distance from `pos`; pass `undefined` to accept
 * either value (a stream detached from its file geometry).
 */
export function frameMtr(
  buf: Uint8Array,
  pos: number,
  end: number,
  seqBitAt?: (distance: number) => number,
): FrameResult {
  const p = scanFrame(buf, pos, end);
  if (p === FRAME_INCOMPLETE) return { status: 'incomplete' };
  if (p < 0) return { status: 'end', reason: frameEndReason(p, buf, pos) };
  const endByte = buf[p]!;
  if (seqBitAt && endByte !== seqBitAt(p - pos)) return { status: 'end', reason: 'sequence bit mismatch' };
  if (p + MTR_TAIL_BYTES > end) return { status: 'incomplete' };
  if (!frameCrcMatches(buf, pos, p)) return { status: 'end', reason: 'CRC-32C mismatch' };
  return { status: 'ok', length: p + MTR_TAIL_BYTES - pos };
}

/**
 * A share of the pages, for replays split over threads: records of other
 * pages are skipped unparsed (their owner checks them). Page 0 of every
 * space belongs to every share (its flags decide all its pages' checksums).
 */
export interface PagePartition {
  readonly index: number;
  readonly count: number;
}

export function ownsPage(part: PagePartition, spaceId: number, pageNo: number): boolean {
  return pageNo === 0 || part.count <= 1 || (pageNo + spaceId) % part.count === part.index;
}

export interface ParseOptions {
  /** innodb_page_size of the server that wrote the log; offsets are checked against it. */
  readonly pageSize: number;
  /** Parse only the records of these pages (and every file record and TRIM_PAGES). */
  readonly partition?: PagePartition | undefined;
  /**
   * Parse only FREE_PAGE and INIT_PAGE records, skipping every other record
   * unparsed: a quick pass that finds where each page's history starts over
   * (see page-resets.ts).
   */
  readonly resetsOnly?: boolean | undefined;
  /**
   * Check every record as a parse would, but build none (returns an empty
   * list): a safekeeper's screening of appends, where building the records
   * cost four times what the checks do.
   */
  readonly checkOnly?: boolean | undefined;
}

/** The error for a malformed record `at` bytes into the mtr that starts at `startLsn`. */
function corruptAt(startLsn: bigint, at: number, reason: string): CorruptRedo {
  return new CorruptRedo(startLsn + BigInt(at), reason);
}

const PAGE_TYPE_NAMES = ['FREE_PAGE', 'INIT_PAGE', 'EXTENDED', 'WRITE', 'MEMSET', 'MEMMOVE', 'RESERVED', 'OPTION'];

/**
 * Parse the records of one framed mtr (`bytes` = the whole mtr including end
 * byte and CRC). Record payloads are views into `bytes`.
 */
export function parseMtrRecords(bytes: Uint8Array, startLsn: bigint, opts: ParseOptions): RedoRecord[] {
  const pageSize = opts.pageSize;
  const part = opts.partition !== undefined && opts.partition.count > 1 ? opts.partition : undefined;
  const resetsOnly = opts.resetsOnly === true;
  const checkOnly = opts.checkOnly === true;
  const records: RedoRecord[] = [];
  let skipPage = false;
  const bodyEnd = bytes.length - MTR_TAIL_BYTES;
  let spaceId = 0;
  let pageNo = 0;
  let cursor = 0;
  let gotPageOp = false;
  let p = 0;
  while (p < bodyEnd) {
    const recStart = p;
    const b = bytes[p]!;
    let rlen = b & 0xf;
    p++;
    if (rlen === 0) {
      const add = readVarint(bytes, p, bodyEnd);
      if (add < 0) throw corruptAt(startLsn, p, 'malformed record length');
      const lenlen = varintLength(bytes[p]!);
      rlen = add + 15 - lenlen;
      p += lenlen;
    }
    const recEnd = p + rlen;
    if (recEnd > bodyEnd) throw corruptAt(startLsn, p, 'record extends past the end of its mtr');
    const kind = b & 0x70;
    if (kind === 0x60) throw corruptAt(startLsn, p, 'unknown record type RESERVED (0x60)');
    const samePage = (b & 0x80) !== 0 && gotPageOp;
    if (samePage) {
      if (kind <= 0x10) throw corruptAt(startLsn, p, `${PAGE_TYPE_NAMES[kind >> 4]} record cannot use the same_page flag`);
    } else {
      cursor = 0;
      const idStart = p;
      spaceId = readVarint(bytes, p, recEnd);
      if (spaceId < 0 || varintLength(bytes[p]!) >= rlen) {
        if (b === 0xf1 && bytes[p] === 0) {
          p = recEnd;
          continue; // one-byte FILE_CHECKPOINT padding
        }
        throw corruptAt(startLsn, p, 'corrupted page identifier (space id)');
      }
      p += varintLength(bytes[p]!);
      pageNo = readVarint(bytes, p, recEnd);
      if (pageNo < 0) throw corruptAt(startLsn, p, 'corrupted page identifier (page number)');
      p += varintLength(bytes[p]!);
      if (p - idStart > rlen) throw corruptAt(startLsn, p, 'corrupted page identifier');
      gotPageOp = (b & 0x80) === 0;
      if (!gotPageOp) {
        if (!resetsOnly) {
          const file = parseFileRecord(bytes, b, spaceId, pageNo, p, recEnd, startLsn + BigInt(recStart));
          if (!checkOnly) records.push(file);
        }
        p = recEnd;
        continue;
      }
      skipPage = part !== undefined && !ownsPage(part, spaceId, pageNo);
    }
    // Another share's page; TRIM_PAGES (an undo tablespace truncation) is everyone's.
    if (skipPage && !(kind === 0x20 && p < recEnd && bytes[p] === X.TRIM_PAGES)) {
      p = recEnd;
      continue;
    }
    if (resetsOnly && kind > 0x10) {
      // The same-page cursor only matters to the WRITE-like records skipped here.
      p = recEnd;
      continue;
    }
    if (recEnd - recStart > pageSize) throw corruptAt(startLsn, p, 'record longer than a page');
    const payloadLen = recEnd - p;
    switch (kind) {
      case 0x00:
      case 0x10:
        if (payloadLen !== 0) throw corruptAt(startLsn, p, `${PAGE_TYPE_NAMES[kind >> 4]} record carries a payload`);
        if (!checkOnly) records.push({ type: kind === 0 ? 'FREE_PAGE' : 'INIT_PAGE', spaceId, pageNo });
        cursor = kind === 0 ? NO_SAME_PAGE : FIL_PAGE_TYPE;
        break;
      case 0x20: {
        if (payloadLen === 0) throw corruptAt(startLsn, p, 'EXTENDED record without a subtype');
        const subtype = bytes[p]!;
        if (subtype > X.TRIM_PAGES) throw corruptAt(startLsn, p, `unknown EXTENDED subtype ${subtype}`);
        if (subtype === X.TRIM_PAGES) {
          if (payloadLen !== 1) throw corruptAt(startLsn, p, 'TRIM_PAGES carries a payload');
          cursor = NO_SAME_PAGE;
        } else {
          cursor = FIL_PAGE_TYPE;
        }
        if (!checkOnly)
          records.push({
          type: 'EXTENDED',
          spaceId,
          pageNo,
          subtype: subtype as ExtendedSubtype,
          payload: bytes.subarray(p + 1, recEnd),
        });
        break;
      }
      case 0x70:
        if (!checkOnly) records.push({ type: 'OPTION', spaceId, pageNo, payload: bytes.subarray(p, recEnd) });
        break;
      default:
        cursor = parseWriteLike(bytes, kind, spaceId, pageNo, p, recEnd, cursor, pageSize, checkOnly ? null : records, startLsn);
    }
    p = recEnd;
  }
  return records;
}

function parseWriteLike(
  bytes: Uint8Array,
  kind: number,
  spaceId: number,
  pageNo: number,
  start: number,
  recEnd: number,
  cursorIn: number,
  pageSize: number,
  out: PageRecord[] | RedoRecord[] | null,
  startLsn: bigint,
): number {
  if (recEnd === start || cursorIn === NO_SAME_PAGE) throw corruptAt(startLsn, start, `malformed ${PAGE_TYPE_NAMES[kind >> 4]} record`);
  let p = start;
  const olen = varintLength(bytes[p]!);
  if (olen === 0 || olen >= recEnd - p || olen > 3) throw corruptAt(startLsn, start, `malformed ${PAGE_TYPE_NAMES[kind >> 4]} offset`);
  const rel = readVarint(bytes, p, recEnd);
  if (rel >= pageSize) throw corruptAt(startLsn, start, `${PAGE_TYPE_NAMES[kind >> 4]} offset ${rel} beyond the page`);
  const offset = cursorIn + rel;
  if (offset < 8 || offset >= pageSize) throw corruptAt(startLsn, start, `${PAGE_TYPE_NAMES[kind >> 4]} target offset ${offset} out of range`);
  p += olen;
  if (kind === 0x30) {
    const len = recEnd - p;
    if (offset + len > pageSize) throw corruptAt(startLsn, start, `WRITE of ${len} bytes at ${offset} overruns the page`);
    if (out) (out as RedoRecord[]).push({ type: 'WRITE', spaceId, pageNo, offset, data: bytes.subarray(p, recEnd) });
    return offset + len;
  }
  const llen = varintLength(bytes[p]!);
  if (llen === 0 || llen > recEnd - p || llen > 3) throw corruptAt(startLsn, start, `malformed ${PAGE_TYPE_NAMES[kind >> 4]} length`);
  const length = readVarint(bytes, p, recEnd);
  if (length < 0 || offset + length > pageSize) throw corruptAt(startLsn, start, `${PAGE_TYPE_NAMES[kind >> 4]} of ${length} bytes at ${offset} overruns the page`);
  p += llen;
  if (kind === 0x40) {
    const fillLen = recEnd - p;
    if (fillLen === 0 || fillLen > length) throw corruptAt(startLsn, start, 'malformed MEMSET fill');
    if (out) (out as RedoRecord[]).push({ type: 'MEMSET', spaceId, pageNo, offset, length, fill: bytes.subarray(p, recEnd) });
    return offset + length;
  }
  const slen = varintLength(bytes[p]!);
  if (slen === 0 || slen !== recEnd - p || slen > 3) throw corruptAt(startLsn, start, 'malformed MEMMOVE source');
  const s = readVarint(bytes, p, recEnd);
  const source = s & 1 ? offset - (s >>> 1) - 1 : offset + (s >>> 1) + 1;
  if (source < 8 || source + length > pageSize) throw corruptAt(startLsn, start, `MEMMOVE source ${source} out of range`);
  if (out) (out as RedoRecord[]).push({ type: 'MEMMOVE', spaceId, pageNo, offset, length, source });
  return offset + length;
}

function decodeAscii(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

function parseFileRecord(
  bytes: Uint8Array,
  b: number,
  spaceId: number,
  pageNo: number,
  p: number,
  recEnd: number,
  lsn: bigint,
): RedoRecord {
  const len = recEnd - p;
  const kind = b & 0xf0;
  if (len === 0) {
    if (spaceId === 0 && pageNo === 0 && b === 0xf2) return { type: 'FILE_CHECKPOINT', checkpointLsn: 0n };
    throw new CorruptRedo(lsn, 'file record without a payload');
  }
  if (pageNo !== 0) throw new CorruptRedo(lsn, 'file record with a nonzero page number');
  if (kind === 0xf0) {
    if (spaceId !== 0) throw new CorruptRedo(lsn, 'FILE_CHECKPOINT with a nonzero space id');
    if (bytes[recEnd]! > 1) throw new CorruptRedo(lsn, 'FILE_CHECKPOINT is not the last record of its mtr');
    if (len !== 8) {
      for (let i = p; i < recEnd; i++) if (bytes[i] !== 0) throw new CorruptRedo(lsn, 'malformed FILE_CHECKPOINT');
      return { type: 'FILE_CHECKPOINT', checkpointLsn: 0n };
    }
    return { type: 'FILE_CHECKPOINT', checkpointLsn: readU64(bytes, p) };
  }
  const type = kind === 0x80 ? 'FILE_CREATE' : kind === 0x90 ? 'FILE_DELETE' : kind === 0xa0 ? 'FILE_RENAME' : kind === 0xb0 ? 'FILE_MODIFY' : undefined;
  if (!type) throw new CorruptRedo(lsn, `unknown file record type 0x${kind.toString(16)}`);
  if (spaceId === 0) throw new CorruptRedo(lsn, `${type} for the system tablespace`);
  let nul = -1;
  for (let i = p; i < recEnd; i++) {
    if (bytes[i] === 0) {
      nul = i;
      break;
    }
  }
  if ((nul >= 0) !== (type === 'FILE_RENAME')) throw new CorruptRedo(lsn, `malformed ${type} file name`);
  const nameEnd = nul >= 0 ? nul : recEnd;
  const path = decodeAscii(bytes, p, nameEnd);
  if (!path.endsWith('.ibd')) throw new CorruptRedo(lsn, `${type} name does not end in .ibd: ${path}`);
  if (type === 'FILE_RENAME') {
    const newPath = decodeAscii(bytes, nameEnd + 1, recEnd);
    if (newPath.includes('\0') || !newPath.endsWith('.ibd')) throw new CorruptRedo(lsn, `malformed FILE_RENAME target ${newPath}`);
    return { type, spaceId, path, newPath };
  }
  return { type, spaceId, path };
}

/** A framed, parsed mini-transaction. */
export interface Mtr {
  readonly startLsn: bigint;
  /** Page LSN after this mtr: start + total bytes (records, end byte, CRC). */
  readonly endLsn: bigint;
  /** The exact bytes as in the log (so they can be shipped unchanged). */
  readonly bytes: Uint8Array;
  readonly records: RedoRecord[];
}

export const MTR_TAIL_LENGTH = MTR_TAIL_BYTES;
