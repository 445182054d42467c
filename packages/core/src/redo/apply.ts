/**
 * The page redo engine: apply one decoded record to a page image.
 *
 * `applyRecord` is pure in the sense that matters here: no I/O, and the
 * result depends only on (page, record). It mutates `page` in place because
 * copying 16 KiB per record would dominate replay. Anything inconsistent
 * throws `CorruptPage`/`CorruptRedo` and leaves the caller to discard the
 * page buffer.
 */
import { readU16, writeU16, writeU32 } from '../bytes.js';
import { CorruptPage, CorruptRedo } from '../errors.js';
import {
  applyDeleteDynamic,
  applyDeleteRedundant,
  applyInitRowFormat,
  applyInsertDynamic,
  applyInsertRedundant,
} from './btree.js';
import { crc32c } from './crc32c.js';
import { FIL_PAGE_DATA_END, FIL_PAGE_OFFSET, FIL_PAGE_PREV, FIL_PAGE_SPACE_ID, FIL_PAGE_TYPE } from './page.js';
import { ExtendedSubtype as X, type PageRecord } from './records.js';

const FIL_PAGE_UNDO_LOG = 2;
const TRX_UNDO_PAGE_HDR = 38;
const TRX_UNDO_PAGE_START = TRX_UNDO_PAGE_HDR + 2;
const TRX_UNDO_PAGE_FREE = TRX_UNDO_PAGE_HDR + 4;
const TRX_UNDO_PAGE_NODE = TRX_UNDO_PAGE_HDR + 6;
const TRX_UNDO_PAGE_HDR_END = TRX_UNDO_PAGE_HDR + 18;
/** The undo segment header (30 bytes after the page header) survives UNDO_INIT. */
const TRX_UNDO_SEG_HDR_END = TRX_UNDO_PAGE_HDR_END + 30;

/** What a record did to the page, beyond its bytes. */
export type ApplyOutcome = 'applied' | 'freed';

export function applyRecord(page: Uint8Array, r: PageRecord, lsn: bigint): ApplyOutcome {
  switch (r.type) {
    case 'FREE_PAGE':
      return 'freed';
    case 'INIT_PAGE':
      page.fill(0);
      writeU32(page, FIL_PAGE_OFFSET, r.pageNo);
      page.fill(0xff, FIL_PAGE_PREV, FIL_PAGE_PREV + 8);
      writeU32(page, FIL_PAGE_SPACE_ID, r.spaceId);
      return 'applied';
    case 'WRITE':
      checkRange(page, r.offset, r.data.length, r, lsn);
      page.set(r.data, r.offset);
      return 'applied';
    case 'MEMSET':
      checkRange(page, r.offset, r.length, r, lsn);
      if (r.fill.length === 1) {
        page.fill(r.fill[0]!, r.offset, r.offset + r.length);
      } else {
        for (let s = 0; s < r.length; s += r.fill.length) {
          page.set(r.fill.subarray(0, Math.min(r.fill.length, r.length - s)), r.offset + s);
        }
      }
      return 'applied';
    case 'MEMMOVE':
      checkRange(page, r.offset, r.length, r, lsn);
      checkRange(page, r.source, r.length, r, lsn);
      page.copyWithin(r.offset, r.source, r.source + r.length);
      return 'applied';
    case 'OPTION':
      checkOption(page, r, lsn);
      return 'applied';
    case 'EXTENDED':
      applyExtended(page, r, lsn);
      return 'applied';
  }
}

function checkRange(page: Uint8Array, offset: number, length: number, r: PageRecord, lsn: bigint): void {
  if (offset < 8 || offset + length > page.length) {
    throw new CorruptRedo(lsn, `${r.type} [${offset}, ${offset + length}) outside page ${r.spaceId}:${r.pageNo} of ${page.length} bytes`);
  }
}

/** OPT_PAGE_CHECKSUM: the writer's CRC of the page after its mtr; a mismatch means we diverged. */
function checkOption(page: Uint8Array, r: PageRecord & { type: 'OPTION' }, lsn: bigint): void {
  const p = r.payload;
  if (p.length !== 5 || p[0] !== 0) return; // unknown options are optional by definition
  const size = page.length;
  let c = crc32c(page, FIL_PAGE_OFFSET, 16);
  c = crc32c(page, FIL_PAGE_TYPE, FIL_PAGE_TYPE + 2, c);
  c = crc32c(page, FIL_PAGE_SPACE_ID, size - 8, c);
  const expected = ((p[1]! << 24) | (p[2]! << 16) | (p[3]! << 8) | p[4]!) >>> 0;
  if (c !== expected) throw new CorruptPage(r.spaceId, r.pageNo, `OPT_PAGE_CHECKSUM mismatch at LSN ${lsn}`);
}

function applyExtended(page: Uint8Array, r: PageRecord & { type: 'EXTENDED' }, lsn: bigint): void {
  // MariaDB only logs these for index and undo pages, which are never pages 0..2.
  if (r.pageNo < 3 && r.subtype !== X.TRIM_PAGES) {
    throw new CorruptRedo(lsn, `EXTENDED record for page ${r.spaceId}:${r.pageNo}`);
  }
  switch (r.subtype) {
    case X.INIT_ROW_FORMAT_REDUNDANT:
    case X.INIT_ROW_FORMAT_DYNAMIC:
      if (r.payload.length !== 0) throw new CorruptRedo(lsn, 'INIT_ROW_FORMAT carries a payload');
      applyInitRowFormat(page, r.subtype === X.INIT_ROW_FORMAT_REDUNDANT);
      return;
    case X.UNDO_INIT:
      if (r.payload.length !== 0) throw new CorruptRedo(lsn, 'UNDO_INIT carries a payload');
      undoPageInit(page);
      return;
    case X.UNDO_APPEND:
      undoAppend(page, r.payload, r.spaceId, r.pageNo);
      return;
    case X.INSERT_HEAP_REDUNDANT:
    case X.INSERT_REUSE_REDUNDANT:
      applyInsertRedundant(page, r.payload, r.subtype === X.INSERT_REUSE_REDUNDANT);
      return;
    case X.INSERT_HEAP_DYNAMIC:
    case X.INSERT_REUSE_DYNAMIC:
      applyInsertDynamic(page, r.payload, r.subtype === X.INSERT_REUSE_DYNAMIC);
      return;
    case X.DELETE_ROW_FORMAT_REDUNDANT:
      applyDeleteRedundant(page, r.payload);
      return;
    case X.DELETE_ROW_FORMAT_DYNAMIC:
      applyDeleteDynamic(page, r.payload);
      return;
    case X.TRIM_PAGES:
      // A tablespace-level operation; the tablespace layer handles it.
      return;
  }
}

function undoPageInit(page: Uint8Array): void {
  writeU16(page, FIL_PAGE_TYPE, FIL_PAGE_UNDO_LOG);
  writeU16(page, TRX_UNDO_PAGE_HDR, 0);
  writeU16(page, TRX_UNDO_PAGE_START, TRX_UNDO_PAGE_HDR_END);
  writeU16(page, TRX_UNDO_PAGE_FREE, TRX_UNDO_PAGE_HDR_END);
  writeU32(page, TRX_UNDO_PAGE_NODE, 0xffffffff);
  writeU16(page, TRX_UNDO_PAGE_NODE + 4, 0);
  writeU32(page, TRX_UNDO_PAGE_NODE + 6, 0xffffffff);
  writeU16(page, TRX_UNDO_PAGE_NODE + 10, 0);
  page.fill(0, TRX_UNDO_SEG_HDR_END, page.length - FIL_PAGE_DATA_END);
}

function undoAppend(page: Uint8Array, data: Uint8Array, spaceId: number, pageNo: number): void {
  if (data.length <= 2) throw new CorruptPage(spaceId, pageNo, 'UNDO_APPEND record too short');
  const free = readU16(page, TRX_UNDO_PAGE_FREE);
  if (free < TRX_UNDO_PAGE_HDR_END || free + data.length + 6 >= page.length - FIL_PAGE_DATA_END) {
    throw new CorruptPage(spaceId, pageNo, `UNDO_APPEND of ${data.length} bytes at free offset ${free} does not fit`);
  }
  const next = free + 4 + data.length;
  writeU16(page, TRX_UNDO_PAGE_FREE, next);
  writeU16(page, free, next);
  page.set(data, free + 2);
  writeU16(page, free + 2 + data.length, free);
}
