/**
 * The B-tree EXTENDED redo records (innodb-redo-format.md §2.5): create an
 * empty index page, insert a record, delete a record, on an uncompressed page
 * of either row format. MariaDB logs these logically and re-runs the page
 * manipulation during recovery (page_create_low, page_apply_insert_*,
 * page_apply_delete_* in page0page.cc/page0cur.cc); the result has to match
 * byte for byte, so the order of checks and writes below follows the server.
 *
 * Every inconsistency MariaDB's recovery reports as corruption throws
 * `CorruptPage`. Where the server would read or write outside the frame of a
 * corrupted page (undefined behaviour there), we throw `CorruptPage` too:
 * every page access goes through a bounds-checked view.
 */
import { readU16, readU32, writeU16 } from '../bytes.js';
import { assert } from '../assert.js';
import { CorruptPage } from '../errors.js';
import { varintLength, readVarint } from './varint.js';

// FIL header.
const FIL_PAGE_OFFSET = 4;
const FIL_PAGE_TYPE = 24;
const FIL_PAGE_SPACE_ID = 34;
const FIL_PAGE_DATA_END = 8;
const FIL_PAGE_INDEX = 17855;
const FIL_PAGE_RTREE = 17854;
const FIL_PAGE_TYPE_INSTANT = 18;

// Index page header fields, as absolute page offsets (PAGE_HEADER = 38).
const PAGE_HEADER = 38;
const PAGE_N_DIR_SLOTS = PAGE_HEADER + 0;
const PAGE_HEAP_TOP = PAGE_HEADER + 2;
const PAGE_N_HEAP = PAGE_HEADER + 4;
const PAGE_FREE = PAGE_HEADER + 6;
const PAGE_GARBAGE = PAGE_HEADER + 8;
const PAGE_LAST_INSERT = PAGE_HEADER + 10;
const PAGE_DIRECTION_B = PAGE_HEADER + 13;
const PAGE_N_DIRECTION = PAGE_HEADER + 14;
const PAGE_N_RECS = PAGE_HEADER + 16;
/** Bytes of the header that page creation resets (up to PAGE_LEVEL). */
const PAGE_HEADER_PRIV_END = 26;
const PAGE_LEVEL = PAGE_HEADER + 26;
const PAGE_DATA = 94;

const REC_N_NEW_EXTRA_BYTES = 5;
const REC_N_OLD_EXTRA_BYTES = 6;
const PAGE_NEW_INFIMUM = PAGE_DATA + REC_N_NEW_EXTRA_BYTES; // 99
const PAGE_NEW_SUPREMUM = PAGE_DATA + 2 * REC_N_NEW_EXTRA_BYTES + 8; // 112
const PAGE_NEW_SUPREMUM_END = PAGE_NEW_SUPREMUM + 8; // 120
const PAGE_OLD_INFIMUM = PAGE_DATA + 1 + REC_N_OLD_EXTRA_BYTES; // 101
const PAGE_OLD_SUPREMUM = PAGE_DATA + 2 + 2 * REC_N_OLD_EXTRA_BYTES + 8; // 116
const PAGE_OLD_SUPREMUM_END = PAGE_OLD_SUPREMUM + 9; // 125

const PAGE_HEAP_NO_USER_LOW = 2;
const PAGE_DIR_SLOT_SIZE = 2;
const PAGE_DIR_SLOT_MAX_N_OWNED = 8;
const PAGE_DIR_SLOT_MIN_N_OWNED = 4;
const REC_MAX_N_FIELDS = 1023;

const PAGE_LEFT = 1;
const PAGE_RIGHT = 2;
const PAGE_NO_DIRECTION = 5;

const REC_STATUS_NODE_PTR = 1;
const REC_STATUS_INSTANT = 4;
const REC_NEXT = 2;

/** Empty-page infimum and supremum records of ROW_FORMAT=COMPACT/DYNAMIC, written at PAGE_DATA. */
const INFIMUM_SUPREMUM_COMPACT = Uint8Array.of(
  0x01, 0x00, 0x02, 0x00, 0x0d, 0x69, 0x6e, 0x66, 0x69, 0x6d, 0x75, 0x6d, 0x00,
  0x01, 0x00, 0x0b, 0x00, 0x00, 0x73, 0x75, 0x70, 0x72, 0x65, 0x6d, 0x75, 0x6d,
);
/** The same for ROW_FORMAT=REDUNDANT: each record has a 1-byte field end offset before its 6-byte header. */
const INFIMUM_SUPREMUM_REDUNDANT = Uint8Array.of(
  0x08, 0x01, 0x00, 0x00, 0x03, 0x00, 0x74, 0x69, 0x6e, 0x66, 0x69, 0x6d, 0x75, 0x6d, 0x00,
  0x09, 0x01, 0x00, 0x08, 0x03, 0x00, 0x00, 0x73, 0x75, 0x70, 0x72, 0x65, 0x6d, 0x75, 0x6d, 0x00,
);

/**
 * A bounds-checked view of the page. A corrupted page may hold offsets that
 * point anywhere; reaching outside the frame is reported as corruption
 * rather than silently ignored by the typed array.
 */
class PageView {
  readonly size: number;

  constructor(readonly b: Uint8Array) {
    this.size = b.length;
    // The message is built only on failure: a view is made for every record applied.
    if (!(this.size >= 4096 && this.size <= 65536 && (this.size & (this.size - 1)) === 0)) {
      assert(false, `page size ${this.size} is not a power of two in 4..64 KiB`);
    }
  }

  corrupt(reason: string): CorruptPage {
    return new CorruptPage(readU32(this.b, FIL_PAGE_SPACE_ID), readU32(this.b, FIL_PAGE_OFFSET), reason);
  }

  private check(off: number, len: number): void {
    if (!(off >= 0 && off + len <= this.size)) throw this.corrupt(`access at ${off} outside the page`);
  }

  u8(off: number): number {
    this.check(off, 1);
    return this.b[off]!;
  }
  u16(off: number): number {
    this.check(off, 2);
    return readU16(this.b, off);
  }
  set8(off: number, v: number): void {
    this.check(off, 1);
    this.b[off] = v & 0xff;
  }
  /** Stores the low 16 bits, as mach_write_to_2 does. */
  set16(off: number, v: number): void {
    this.check(off, 2);
    writeU16(this.b, off, v & 0xffff);
  }
  /** memmove within the page. */
  move(to: number, from: number, len: number): void {
    if (len === 0) return;
    this.check(to, len);
    this.check(from, len);
    this.b.copyWithin(to, from, from + len);
  }
  put(to: number, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.check(to, bytes.length);
    this.b.set(bytes, to);
  }
  /** `put(to, src.subarray(from, end))` without making the view (most record parts are a few bytes). */
  putRange(to: number, src: Uint8Array, from: number, end: number): void {
    const len = end - from;
    if (len <= 0) return;
    this.check(to, len);
    if (len > 64) {
      this.b.set(src.subarray(from, end), to);
      return;
    }
    const b = this.b;
    for (let i = 0; i < len; i++) b[to + i] = src[from + i]!;
  }
  zero(from: number, to: number): void {
    if (to <= from) return;
    this.check(from, to - from);
    this.b.fill(0, from, to);
  }

  isComp(): boolean {
    return (this.u8(PAGE_N_HEAP) & 0x80) !== 0;
  }
  isLeaf(): boolean {
    return this.u16(PAGE_LEVEL) === 0;
  }
  isIndex(): boolean {
    const t = this.u16(FIL_PAGE_TYPE);
    return t === FIL_PAGE_INDEX || t === FIL_PAGE_RTREE || t === FIL_PAGE_TYPE_INSTANT;
  }
  /** Offset of directory slot `n` (slot 0 points to the infimum, at the page end). */
  slot(n: number): number {
    return this.size - (FIL_PAGE_DATA_END + PAGE_DIR_SLOT_SIZE) - n * PAGE_DIR_SLOT_SIZE;
  }

  nOwned(rec: number, comp: boolean): number {
    return this.u8(rec - (comp ? REC_N_NEW_EXTRA_BYTES : REC_N_OLD_EXTRA_BYTES)) & 0x0f;
  }
  setNOwned(rec: number, n: number, comp: boolean): void {
    const at = rec - (comp ? REC_N_NEW_EXTRA_BYTES : REC_N_OLD_EXTRA_BYTES);
    this.set8(at, (this.u8(at) & 0xf0) | n);
  }
  /** The 13-bit heap number; the field sits 4 bytes before the origin in COMPACT and 5 in REDUNDANT. */
  heapNo(rec: number, comp: boolean): number {
    return (this.u16(rec - (comp ? 4 : 5)) & 0xfff8) >>> 3;
  }

  /**
   * The successor of `rec` the way page_rec_get_next_low() computes it:
   * COMPACT next pointers are relative modulo the page size; anything before
   * the supremum or past PAGE_HEAP_TOP means "no valid successor".
   */
  nextRec(rec: number, comp: boolean): number | null {
    const field = this.u16(rec - REC_NEXT);
    let offs = field;
    if (comp) offs = field === 0 ? 0 : (rec + field) & (this.size - 1);
    if (offs < (comp ? PAGE_NEW_SUPREMUM : PAGE_OLD_SUPREMUM)) return null;
    if (offs > this.u16(PAGE_HEAP_TOP)) return null;
    return offs;
  }
}

/** The corruption error of a `what` record on the page of `p`: a module function, not a closure per call. */
function failIn(p: PageView, what: string, why: string): CorruptPage {
  return p.corrupt(`${what}: ${why}`);
}

/** ROW_FORMAT=REDUNDANT field count and header size of the record at `rec`. */
function oldNFields(b: Uint8Array, rec: number): number {
  return (readU16(b, rec - 4) & 0x7fe) >>> 1;
}
function oldIsShort(b: Uint8Array, rec: number): boolean {
  return (b[rec - 3]! & 1) !== 0;
}
function oldExtraSize(nFields: number, short: boolean): number {
  return REC_N_OLD_EXTRA_BYTES + (short ? nFields : 2 * nFields);
}
/**
 * rec_get_data_size_old(): the end offset of the last field, read from the
 * field end array just below the 6 header bytes. The caller guarantees that
 * the array lies inside `b` (checked by PageView for page records).
 */
function oldDataSize(b: Uint8Array, rec: number): number {
  const n = oldNFields(b, rec);
  if (n === 0) return 0;
  if (oldIsShort(b, rec)) return b[rec - (REC_N_OLD_EXTRA_BYTES + n)]! & 0x7f;
  return readU16(b, rec - (REC_N_OLD_EXTRA_BYTES + 2 * n)) & 0x3fff;
}
function pageOldDataSize(p: PageView, rec: number): number {
  const n = oldNFields(p.b, rec);
  const extra = oldExtraSize(n, oldIsShort(p.b, rec));
  if (rec - extra < 0) throw p.corrupt(`record ${rec} has its header before the page start`);
  return oldDataSize(p.b, rec);
}

/**
 * Reads the varints at the start of an EXTENDED payload with the length
 * rules of log_phys_t::apply(): each varint has a maximum length, and
 * whether it may be the last thing in the record.
 */
class PayloadReader {
  pos = 0;

  constructor(
    private readonly page: PageView,
    private readonly payload: Uint8Array,
    private readonly what: string,
  ) {}

  /**
   * `follow`: 'more' = at least one byte must follow; 'any' = may end the
   * payload; 'end' = must end the payload exactly.
   */
  varint(name: string, maxBytes: number, follow: 'more' | 'any' | 'end'): number {
    const left = this.payload.length - this.pos;
    if (left <= 0) throw this.page.corrupt(`${this.what}: payload ends before ${name}`);
    const len = varintLength(this.payload[this.pos]!);
    const bad =
      len === 0 ||
      len > maxBytes ||
      (follow === 'more' && len >= left) ||
      (follow === 'any' && len > left) ||
      (follow === 'end' && len !== left);
    if (bad) throw this.page.corrupt(`${this.what}: malformed ${name}`);
    const v = readVarint(this.payload, this.pos, this.payload.length);
    assert(v >= 0, 'a varint of at most 3 bytes inside the payload decodes');
    this.pos += len;
    return v;
  }

  rest(): Uint8Array {
    return this.payload.subarray(this.pos);
  }

  /** Where the unread bytes start. */
  get position(): number {
    return this.pos;
  }
}

/**
 * INIT_ROW_FORMAT_REDUNDANT / INIT_ROW_FORMAT_DYNAMIC: make the page an empty
 * index page (page_create_low). PAGE_LEVEL, PAGE_INDEX_ID and the segment
 * headers are left alone; they arrive as WRITE records.
 */
export function applyInitRowFormat(page: Uint8Array, redundant: boolean): void {
  const p = new PageView(page);
  const size = p.size;
  writeU16(page, FIL_PAGE_TYPE, FIL_PAGE_INDEX);
  page.fill(0, PAGE_HEADER, PAGE_HEADER + PAGE_HEADER_PRIV_END);
  page[PAGE_N_DIR_SLOTS + 1] = 2;
  page[PAGE_DIRECTION_B] = PAGE_NO_DIRECTION;
  const infimum = redundant ? PAGE_OLD_INFIMUM : PAGE_NEW_INFIMUM;
  const supremum = redundant ? PAGE_OLD_SUPREMUM : PAGE_NEW_SUPREMUM;
  const heapBottom = redundant ? PAGE_OLD_SUPREMUM_END : PAGE_NEW_SUPREMUM_END;
  if (!redundant) page[PAGE_N_HEAP] = 0x80;
  page[PAGE_N_HEAP + 1] = PAGE_HEAP_NO_USER_LOW;
  page[PAGE_HEAP_TOP + 1] = heapBottom;
  page.set(redundant ? INFIMUM_SUPREMUM_REDUNDANT : INFIMUM_SUPREMUM_COMPACT, PAGE_DATA);
  page.fill(0, heapBottom, size - FIL_PAGE_DATA_END);
  // Both offsets are below 256: only the low bytes of the two slots are set.
  page[p.slot(1) + 1] = supremum;
  page[p.slot(0) + 1] = infimum;
}

/** The decoded fields of an INSERT_*_DYNAMIC payload. */
interface DynamicInsert {
  prev: number;
  shift: number;
  encHdrL: number;
  hdrC: number;
  dataC: number;
  /** The payload; the logged header and data bytes are `payload[start, payload.length)` (no view made per insert). */
  payload: Uint8Array;
  start: number;
}

/** The decoded fields of an INSERT_*_REDUNDANT payload. */
interface RedundantInsert {
  prev: number;
  encHdr: number;
  hdrC: number;
  dataC: number;
  data: Uint8Array;
}

/** Where an insert goes: the neighbours, and the directory slot that will own the new record. */
interface InsertPosition {
  prevRec: number;
  nextRec: number;
  ownerRec: number;
  ownerSlot: number;
  nOwned: number;
}

/**
 * INSERT_HEAP_DYNAMIC (`reuse` false) / INSERT_REUSE_DYNAMIC (`reuse` true)
 * on a ROW_FORMAT=COMPACT or DYNAMIC page. `payload` = bytes after the
 * subtype: prev, [shift], enc_hdr_l, hdr_c, data_c, header bytes, data bytes.
 */
export function applyInsertDynamic(page: Uint8Array, payload: Uint8Array, reuse: boolean): void {
  const p = new PageView(page);
  const what = reuse ? 'INSERT_REUSE_DYNAMIC' : 'INSERT_HEAP_DYNAMIC';
  const r = new PayloadReader(p, payload, what);
  const rec: DynamicInsert = {
    prev: r.varint('prev', 3, 'more'),
    shift: reuse ? r.varint('shift', 3, 'more') : 0,
    encHdrL: r.varint('enc_hdr_l', 3, 'more'),
    hdrC: r.varint('hdr_c', 2, 'more'),
    dataC: r.varint('data_c', 3, 'any'),
    payload,
    // Properties are evaluated in order: the rest follows the last varint.
    start: r.position,
  };
  insertDynamic(p, rec, reuse, what);
}

function insertDynamic(p: PageView, rec: DynamicInsert, reuse: boolean, what: string): void {
  const nSlots = p.u16(PAGE_N_DIR_SLOTS);
  let h = p.u16(PAGE_N_HEAP);
  const hdrL = rec.encHdrL >>> 3;
  const logged = rec.payload.length - rec.start;
  if (
    nSlots < 2 ||
    h < (PAGE_HEAP_NO_USER_LOW | 0x8000) ||
    (h & 0x7fff) >= Math.floor(p.size / REC_N_NEW_EXTRA_BYTES) ||
    (h & 0x7fff) < nSlots ||
    !p.isIndex() ||
    p.u16(PAGE_NEW_SUPREMUM - REC_NEXT) !== 0 ||
    ((rec.encHdrL & REC_STATUS_INSTANT) !== 0 && !p.isLeaf()) ||
    hdrL > logged
  ) {
    throw failIn(p, what, 'page header inconsistent with the record');
  }
  const pos = findInsertPosition(p, rec.prev, true, what);

  const heapTop = p.u16(PAGE_HEAP_TOP);
  const extraSize = REC_N_NEW_EXTRA_BYTES + rec.hdrC + hdrL;
  const dataSize = rec.dataC + logged - hdrL;
  // The server would read outside the frame here; we refuse before changing anything.
  if (pos.prevRec - REC_N_NEW_EXTRA_BYTES - rec.hdrC < 0 || pos.prevRec + rec.dataC > p.size) {
    throw failIn(p, what, 'shared prefix reaches outside the page');
  }

  let buf: number;
  if (reuse) {
    const freeRec = p.u16(PAGE_FREE);
    if (PAGE_NEW_SUPREMUM_END + REC_N_NEW_EXTRA_BYTES > freeRec || freeRec > heapTop) {
      throw failIn(p, what, 'PAGE_FREE out of range');
    }
    buf = freeRec - extraSize;
    buf += rec.shift & 1 ? -(rec.shift >>> 1) : rec.shift >>> 1;
    if (PAGE_NEW_SUPREMUM_END > buf || buf + extraSize + dataSize > heapTop) throw failIn(p, what, 'record does not fit in the free space');
    const garbage = p.u16(PAGE_GARBAGE);
    if (garbage < extraSize + dataSize) throw failIn(p, what, 'PAGE_GARBAGE smaller than the record');
    let n = p.u16(freeRec - REC_NEXT);
    if (n !== 0) {
      n = (n + freeRec) & 0xffff;
      if (n < PAGE_NEW_SUPREMUM_END + REC_N_NEW_EXTRA_BYTES || heapTop < n) throw failIn(p, what, 'free list link out of range');
    }
    p.set16(PAGE_FREE, n);
    p.set16(PAGE_GARBAGE, garbage - (extraSize + dataSize));
    h = p.heapNo(freeRec, true);
  } else {
    if (heapTop + extraSize + dataSize > p.slot(nSlots - 1)) throw failIn(p, what, 'record does not fit in the heap');
    p.set16(PAGE_N_HEAP, h + 1);
    h &= 0x7fff;
    p.set16(PAGE_HEAP_TOP, heapTop + extraSize + dataSize);
    buf = heapTop;
  }

  // Record header: the logged bytes, the bytes shared with prev, then the 5 fixed bytes.
  p.putRange(buf, rec.payload, rec.start, rec.start + hdrL);
  buf += hdrL;
  p.move(buf, pos.prevRec - REC_N_NEW_EXTRA_BYTES - rec.hdrC, rec.hdrC);
  buf += rec.hdrC;
  p.set8(buf++, (rec.encHdrL & 3) << 4); // info bits; n_owned = 0
  p.set8(buf++, h >>> 5);
  const status = p.isLeaf() ? rec.encHdrL & REC_STATUS_INSTANT : REC_STATUS_NODE_PTR;
  p.set8(buf++, ((h & 0x1f) << 3) | status);
  buf += REC_NEXT;
  p.set16(buf - REC_NEXT, pos.nextRec - buf);
  const lastInsert = p.u16(PAGE_LAST_INSERT);
  p.set16(PAGE_LAST_INSERT, buf);
  p.set16(pos.prevRec - REC_NEXT, buf - pos.prevRec);
  p.move(buf, pos.prevRec, rec.dataC);
  p.putRange(buf + rec.dataC, rec.payload, rec.start + hdrL, rec.payload.length);

  finishInsert(p, pos, lastInsert, true, what);
}

/**
 * Validates the predecessor, its successor and the owner of the successor,
 * and finds the owner's directory slot. Walking to the owner is bounded by
 * the most records a slot may own.
 */
function findInsertPosition(
  p: PageView,
  prev: number,
  comp: boolean,
  what: string,
): InsertPosition {
  const lastSlot = p.slot(p.u16(PAGE_N_DIR_SLOTS) - 1);
  const heapTop = p.u16(PAGE_HEAP_TOP);
  const heapBottom = comp ? PAGE_NEW_SUPREMUM_END : PAGE_OLD_SUPREMUM_END;
  const infimum = comp ? PAGE_NEW_INFIMUM : PAGE_OLD_INFIMUM;
  const supremum = comp ? PAGE_NEW_SUPREMUM : PAGE_OLD_SUPREMUM;
  const extraBytes = comp ? REC_N_NEW_EXTRA_BYTES : REC_N_OLD_EXTRA_BYTES;
  if (heapBottom > heapTop || heapTop > lastSlot) throw failIn(p, what, 'PAGE_HEAP_TOP out of range');
  if (p.u16(lastSlot) !== supremum) throw failIn(p, what, 'last directory slot does not point to the supremum');
  if (p.u16(p.slot(0)) !== infimum) throw failIn(p, what, 'first directory slot does not point to the infimum');

  // COMPACT offsets wrap at 16 bits like the server's uint16_t arithmetic.
  const prevRec = comp ? (infimum + prev) & 0xffff : infimum + prev;
  const prevLow = comp ? heapBottom + REC_N_NEW_EXTRA_BYTES : heapBottom + REC_N_OLD_EXTRA_BYTES + 1;
  if (prev !== 0 && (prevLow > prevRec || prevRec > heapTop)) throw failIn(p, what, `prev record ${prevRec} out of range`);
  if (!comp) checkRedundantPrev(p, prevRec, heapTop, what);

  const nextRec = link(p, prevRec, comp);
  if (!inHeap(nextRec, supremum, heapBottom + extraBytes, heapTop)) throw failIn(p, what, `next record ${nextRec} out of range`);

  let ownerRec = nextRec;
  let nOwned: number;
  for (let ns = PAGE_DIR_SLOT_MAX_N_OWNED; (nOwned = p.nOwned(ownerRec, comp)) === 0; ) {
    ownerRec = link(p, ownerRec, comp);
    if (!inHeap(ownerRec, supremum, heapBottom + extraBytes, heapTop)) throw failIn(p, what, `record ${ownerRec} in the list out of range`);
    if (ns-- === 0) throw failIn(p, what, 'no owner within 9 records (cyclic record list?)');
  }
  if (nOwned > PAGE_DIR_SLOT_MAX_N_OWNED) throw failIn(p, what, `record ${ownerRec} owns ${nOwned} records`);

  const ownerSlot = findSlot(p, lastSlot, ownerRec, what);
  return { prevRec, nextRec, ownerRec, ownerSlot, nOwned };
}

/** The successor of `rec` as the next-record field says, without range checks. */
function link(p: PageView, rec: number, comp: boolean): number {
  return comp ? (rec + p.u16(rec - REC_NEXT)) & 0xffff : p.u16(rec - REC_NEXT);
}

/** `rec` is the supremum or a user record origin within [low, heapTop]. */
function inHeap(rec: number, supremum: number, low: number, heapTop: number): boolean {
  return rec === supremum || (low <= rec && rec <= heapTop);
}

/** The REDUNDANT-only checks on the predecessor's header and data. */
function checkRedundantPrev(p: PageView, prevRec: number, heapTop: number, what: string): void {
  const nFields = oldNFields(p.b, prevRec);
  if (nFields === 0 || nFields > REC_MAX_N_FIELDS) throw failIn(p, what, 'prev record has no fields');
  const extra = oldExtraSize(nFields, oldIsShort(p.b, prevRec));
  if (prevRec !== PAGE_OLD_INFIMUM && prevRec - extra < PAGE_OLD_SUPREMUM_END) throw failIn(p, what, 'prev record header out of range');
  if (prevRec + pageOldDataSize(p, prevRec) > heapTop) throw failIn(p, what, 'prev record data past PAGE_HEAP_TOP');
}

/** The directory slot, at or above `lastSlot` and below slot 0, that points to `rec`. */
function findSlot(p: PageView, lastSlot: number, rec: number, what: string): number {
  const firstSlot = p.slot(0);
  // Every slot from the last to the first then lies in the page: read them unchecked.
  if (!(lastSlot >= 0 && lastSlot <= firstSlot)) throw failIn(p, what, `directory slot ${lastSlot} outside the page`);
  const b = p.b;
  let slot = lastSlot;
  while (((b[slot]! << 8) | b[slot + 1]!) !== rec) {
    slot += PAGE_DIR_SLOT_SIZE;
    if (slot === firstSlot) throw failIn(p, what, `no directory slot points to record ${rec}`);
  }
  return slot;
}

/** The common tail of both inserts: owner count, direction, PAGE_N_RECS, slot split. */
function finishInsert(
  p: PageView,
  pos: InsertPosition,
  lastInsert: number,
  comp: boolean,
  what: string,
): void {
  p.setNOwned(pos.ownerRec, pos.nOwned + 1, comp);

  // R-tree pages keep no insert direction; only the low byte of the type is compared.
  if (p.u8(FIL_PAGE_TYPE + 1) !== (FIL_PAGE_RTREE & 0xff)) {
    const dir = p.u8(PAGE_DIRECTION_B);
    if (lastInsert === 0) setDirection(p, dir, PAGE_NO_DIRECTION, false);
    else if (lastInsert === pos.prevRec && (dir & 7) !== PAGE_LEFT) setDirection(p, dir, PAGE_RIGHT, true);
    else if (lastInsert === pos.nextRec && (dir & 7) !== PAGE_RIGHT) setDirection(p, dir, PAGE_LEFT, true);
    else setDirection(p, dir, PAGE_NO_DIRECTION, false);
  }

  p.set16(PAGE_N_RECS, p.u16(PAGE_N_RECS) + 1);
  if (pos.nOwned === PAGE_DIR_SLOT_MAX_N_OWNED) splitSlot(p, pos.ownerSlot, what);
}

function setDirection(p: PageView, dir: number, d: number, count: boolean): void {
  p.set8(PAGE_DIRECTION_B, (dir & ~7) | d);
  p.set16(PAGE_N_DIRECTION, count ? p.u16(PAGE_N_DIRECTION) + 1 : 0);
}

/**
 * The slot at `slot` owns 9 records: give its first 4 to itself and the
 * last 5 to a new slot inserted just below it (page_dir_split_slot).
 */
function splitSlot(p: PageView, slot: number, what: string): void {
  const nOwned = PAGE_DIR_SLOT_MAX_N_OWNED + 1;
  const half = nOwned >>> 1;
  const comp = p.isComp();
  const heapTop = p.u16(PAGE_HEAP_TOP);
  // The walk starts at the previous slot's record, which slot_get_rec_validate() range-checks loosely.
  const start = p.u16(slot + PAGE_DIR_SLOT_SIZE);
  let rec: number | null = start >= PAGE_NEW_INFIMUM && start <= heapTop ? start : null;
  for (let i = half; i-- > 0; ) {
    if (rec === null) break;
    rec = p.nextRec(rec, comp);
  }
  if (rec === null) throw failIn(p, what, 'record list broken while splitting a directory slot');

  const nSlots = p.u16(PAGE_N_DIR_SLOTS);
  const newSlot = p.slot(nSlots);
  if (slot < newSlot) throw failIn(p, what, 'directory slot below the directory');
  p.move(newSlot, newSlot + PAGE_DIR_SLOT_SIZE, slot - newSlot);
  p.set16(PAGE_N_DIR_SLOTS, nSlots + 1);
  p.set16(slot, rec);
  p.setNOwned(p.u16(slot), half, comp);
  p.setNOwned(p.u16(slot - PAGE_DIR_SLOT_SIZE), nOwned - half, comp);
}

/**
 * Slot `s` fell to 3 owned records: merge it into the next slot if that one
 * owns at most 4, else take one record from it (page_dir_balance_slot).
 */
function balanceSlot(p: PageView, s: number): void {
  const comp = p.isComp();
  const nSlots = p.u16(PAGE_N_DIR_SLOTS);
  // The supremum's slot may own fewer than the minimum.
  if (s + 1 === nSlots) return;
  const slot = p.slot(s);
  const upRec = p.u16(slot - PAGE_DIR_SLOT_SIZE);
  const slotRec = p.u16(slot);
  const upNOwned = p.nOwned(upRec, comp);

  if (upNOwned <= PAGE_DIR_SLOT_MIN_N_OWNED) {
    p.setNOwned(slotRec, 0, comp);
    p.setNOwned(upRec, upNOwned + (PAGE_DIR_SLOT_MIN_N_OWNED - 1), comp);
    const lastSlot = p.slot(nSlots - 1);
    p.move(lastSlot + PAGE_DIR_SLOT_SIZE, lastSlot, slot - lastSlot);
    p.set16(lastSlot, 0);
    p.set16(PAGE_N_DIR_SLOTS, nSlots - 1);
    return;
  }

  // The server gives up silently (debug assertion only) when the link is broken.
  const newRec = p.nextRec(slotRec, comp);
  if (newRec === null) return;
  p.setNOwned(slotRec, 0, comp);
  p.setNOwned(newRec, PAGE_DIR_SLOT_MIN_N_OWNED, comp);
  p.setNOwned(upRec, upNOwned - 1, comp);
  p.set16(slot, newRec);
}

/**
 * INSERT_HEAP_REDUNDANT (`reuse` false) / INSERT_REUSE_REDUNDANT (`reuse`
 * true) on a ROW_FORMAT=REDUNDANT page. `payload` = bytes after the subtype:
 * prev, enc_hdr (n_fields-1 << 3 | short flag << 2 | info bits >> 4), hdr_c,
 * data_c, then the header bytes not shared with prev and the data bytes.
 */
export function applyInsertRedundant(page: Uint8Array, payload: Uint8Array, reuse: boolean): void {
  const p = new PageView(page);
  const what = reuse ? 'INSERT_REUSE_REDUNDANT' : 'INSERT_HEAP_REDUNDANT';
  const r = new PayloadReader(p, payload, what);
  const rec: RedundantInsert = {
    prev: r.varint('prev', 3, 'more'),
    encHdr: r.varint('enc_hdr', 2, 'more'),
    hdrC: r.varint('hdr_c', 2, 'more'),
    dataC: r.varint('data_c', 2, 'any'),
    data: r.rest(),
  };
  insertRedundant(p, rec, reuse, what);
}

function insertRedundant(p: PageView, rec: RedundantInsert, reuse: boolean, what: string): void {
  const nSlots = p.u16(PAGE_N_DIR_SLOTS);
  const h = p.u16(PAGE_N_HEAP);
  if (
    nSlots < 2 ||
    h < nSlots ||
    h < PAGE_HEAP_NO_USER_LOW ||
    h >= Math.floor(p.size / REC_N_OLD_EXTRA_BYTES) ||
    !p.isIndex() ||
    p.u16(PAGE_OLD_SUPREMUM - REC_NEXT) !== 0
  ) {
    throw failIn(p, what, 'page header inconsistent with the record');
  }
  const pos = findInsertPositionRedundant(p, rec, what);

  const isShort = (rec.encHdr >>> 2) & 1;
  const nFields = (rec.encHdr >>> 3) + 1;
  if (nFields > REC_MAX_N_FIELDS) throw failIn(p, what, `${nFields} fields`);
  const extraSize = oldExtraSize(nFields, isShort !== 0);
  const hdrC = rec.hdrC + REC_N_OLD_EXTRA_BYTES;
  if (hdrC > extraSize) throw failIn(p, what, 'more shared header bytes than the header has');
  const hdrL = extraSize - hdrC;
  if (hdrL > rec.data.length) throw failIn(p, what, 'payload shorter than the record header');

  // Build the header off-page so that nothing changes before all checks pass.
  const header = new Uint8Array(extraSize);
  header.set(rec.data.subarray(0, hdrL), 0);
  header.set(p.b.subarray(pos.prevRec - hdrC, pos.prevRec), hdrL);
  const o = extraSize; // the record origin within `header`
  header[o - 6] = (header[o - 6]! & 0x0f) | ((rec.encHdr & 3) << 4); // info bits
  header[o - 3] = (header[o - 3]! & 0xfe) | isShort;
  writeU16(header, o - 4, (readU16(header, o - 4) & ~0x7fe) | (nFields << 1));
  header[o - 6] = header[o - 6]! & 0xf0; // n_owned = 0
  const dataSize = oldDataSize(header, o);
  if (rec.dataC > dataSize) throw failIn(p, what, 'more shared data bytes than the record has');
  if (hdrL + dataSize - rec.dataC !== rec.data.length) throw failIn(p, what, 'payload length does not match the record');
  if (pos.prevRec + rec.dataC > p.size) throw failIn(p, what, 'shared prefix reaches outside the page');

  const heapTop = p.u16(PAGE_HEAP_TOP);
  let buf: number;
  let heapNo: number;
  if (reuse) {
    const freeRec = p.u16(PAGE_FREE);
    if (PAGE_OLD_SUPREMUM_END + REC_N_OLD_EXTRA_BYTES > freeRec || freeRec > heapTop) throw failIn(p, what, 'PAGE_FREE out of range');
    const fExtra = oldExtraSize(oldNFields(p.b, freeRec), oldIsShort(p.b, freeRec));
    if (freeRec - fExtra < PAGE_OLD_SUPREMUM_END) throw failIn(p, what, 'free record header out of range');
    const fSize = fExtra + oldDataSize(p.b, freeRec);
    if (freeRec - fExtra + fSize > heapTop) throw failIn(p, what, 'free record data past PAGE_HEAP_TOP');
    if (extraSize + dataSize > fSize) throw failIn(p, what, 'record larger than the free record');
    const garbage = p.u16(PAGE_GARBAGE);
    if (garbage < fSize) throw failIn(p, what, 'PAGE_GARBAGE smaller than the free record');
    buf = freeRec - fExtra;
    const nextFree = p.u16(freeRec - REC_NEXT);
    if (nextFree !== 0 && (nextFree < PAGE_OLD_SUPREMUM_END + REC_N_OLD_EXTRA_BYTES + 1 || heapTop < nextFree)) {
      throw failIn(p, what, 'free list link out of range');
    }
    p.set16(PAGE_GARBAGE, garbage - extraSize - dataSize);
    heapNo = p.heapNo(freeRec, false);
    p.set16(PAGE_FREE, nextFree);
  } else {
    if (heapTop + extraSize + dataSize > p.slot(nSlots - 1)) throw failIn(p, what, 'record does not fit in the heap');
    heapNo = h;
    p.set16(PAGE_N_HEAP, h + 1);
    p.set16(PAGE_HEAP_TOP, heapTop + extraSize + dataSize);
    buf = heapTop;
  }
  writeU16(header, o - 5, ((readU16(header, o - 5) & 7) | (heapNo << 3)) & 0xffff);

  const lastInsert = p.u16(PAGE_LAST_INSERT);
  p.put(buf, header);
  buf += extraSize;
  p.set16(PAGE_LAST_INSERT, buf);
  // REDUNDANT next pointers are absolute; the new record kept prev's old one in the shared header bytes.
  p.set16(pos.prevRec - REC_NEXT, buf);
  p.move(buf, pos.prevRec, rec.dataC);
  p.put(buf + rec.dataC, rec.data.subarray(hdrL));

  finishInsert(p, pos, lastInsert, false, what);
}

function findInsertPositionRedundant(
  p: PageView,
  rec: RedundantInsert,
  what: string,
): InsertPosition {
  const pos = findInsertPosition(p, rec.prev, false, what);
  if (rec.hdrC !== 0 && pos.prevRec - rec.hdrC < PAGE_OLD_SUPREMUM_END) throw failIn(p, what, 'shared header bytes out of range');
  return pos;
}

/**
 * DELETE_ROW_FORMAT_DYNAMIC: remove the successor of prev from a COMPACT or
 * DYNAMIC page. `payload` = bytes after the subtype: prev, hdr_size (header
 * bytes beyond the fixed 5), data_size.
 */
export function applyDeleteDynamic(page: Uint8Array, payload: Uint8Array): void {
  const p = new PageView(page);
  const what = 'DELETE_ROW_FORMAT_DYNAMIC';
  const r = new PayloadReader(p, payload, what);
  const prev = r.varint('prev', 3, 'more');
  const hdrSize = r.varint('hdr_size', 2, 'more');
  const dataSize = r.varint('data_size', 3, 'end');
  deleteRecord(p, prev, { hdrSize, dataSize }, what);
}

/**
 * DELETE_ROW_FORMAT_REDUNDANT: remove the successor of prev from a
 * REDUNDANT page; the record's sizes come from its own header.
 */
export function applyDeleteRedundant(page: Uint8Array, payload: Uint8Array): void {
  const p = new PageView(page);
  const what = 'DELETE_ROW_FORMAT_REDUNDANT';
  if (payload.length < 1 || payload.length > 3) throw p.corrupt(`${what}: payload of ${payload.length} bytes`);
  const prev = new PayloadReader(p, payload, what).varint('prev', 3, 'end');
  deleteRecord(p, prev, null, what);
}

/** COMPACT deletes log the record's sizes; REDUNDANT records describe themselves. */
interface LoggedSizes {
  hdrSize: number;
  dataSize: number;
}

/**
 * The shared body of both deletes (page_apply_delete_*): unlink the record,
 * hand its slot ownership to the neighbours, free its space, rebalance.
 */
function deleteRecord(p: PageView, prev: number, logged: LoggedSizes | null, what: string): void {
  const comp = logged !== null;
  const nSlots = p.u16(PAGE_N_DIR_SLOTS);
  const nRecs = p.u16(PAGE_N_RECS);
  const supremum = comp ? PAGE_NEW_SUPREMUM : PAGE_OLD_SUPREMUM;
  const heapBottom = comp ? PAGE_NEW_SUPREMUM_END : PAGE_OLD_SUPREMUM_END;
  const extraBytes = comp ? REC_N_NEW_EXTRA_BYTES : REC_N_OLD_EXTRA_BYTES;
  if (nRecs === 0 || nSlots < 2 || !p.isIndex() || p.u16(supremum - REC_NEXT) !== 0 || p.isComp() !== comp) {
    throw failIn(p, what, 'page header inconsistent with the record');
  }

  let slot = p.slot(nSlots - 1);
  const prevRec = comp ? (PAGE_NEW_INFIMUM + prev) & 0xffff : PAGE_OLD_INFIMUM + prev;
  if (prevRec > slot) throw failIn(p, what, `prev record ${prevRec} past the directory`);
  const rec = link(p, prevRec, comp);
  if (rec < heapBottom + extraBytes || slot < rec) throw failIn(p, what, `record ${rec} out of range`);
  const extraSize = logged
    ? REC_N_NEW_EXTRA_BYTES + logged.hdrSize
    : oldExtraSize(oldNFields(p.b, rec), oldIsShort(p.b, rec));
  if (rec < heapBottom + extraSize) throw failIn(p, what, `record ${rec} header out of range`);
  // A REDUNDANT record's data size is read from its header, now known to lie inside the heap.
  const dataSize = logged ? logged.dataSize : oldDataSize(p.b, rec);
  if (slot < rec + dataSize) throw failIn(p, what, `record ${rec} data past the directory`);
  const next = link(p, rec, comp);
  if (next !== supremum && (next < heapBottom + extraBytes || slot < next)) throw failIn(p, what, `next record ${next} out of range`);

  // Find the owner of the deleted record; the walk is bounded by PAGE_N_RECS.
  let s = rec;
  let slotOwned: number;
  for (let i = nRecs; (slotOwned = p.nOwned(s, comp)) === 0; ) {
    if (comp) {
      const rel = p.u16(s - REC_NEXT);
      if (rel < REC_N_NEW_EXTRA_BYTES || rel > 0x10000 - REC_N_NEW_EXTRA_BYTES) throw failIn(p, what, 'record link out of range');
    }
    s = link(p, s, comp);
    if (s !== supremum && (s < heapBottom + extraBytes || slot < s)) throw failIn(p, what, `record ${s} in the list out of range`);
    if (i-- === 0) throw failIn(p, what, 'no owner found (cyclic record list?)');
  }
  slotOwned--;

  slot = findSlot(p, slot, s, what);
  if (rec === s) {
    s = prevRec;
    p.set16(slot, s);
  }
  if (comp) p.set16(prevRec - REC_NEXT, next - prevRec);
  else p.move(prevRec - REC_NEXT, rec - REC_NEXT, 2);
  p.setNOwned(s, slotOwned, comp);
  memFree(p, rec, dataSize, extraSize);

  if (slotOwned < PAGE_DIR_SLOT_MIN_N_OWNED) balanceSlot(p, (p.slot(0) - slot) / PAGE_DIR_SLOT_SIZE);
}

/**
 * Give a deleted record's space back (page_mem_free): lower the heap top if
 * it is the newest heap record, else push it on PAGE_FREE. Its data bytes
 * are zeroed; a record left on the free list keeps its header.
 */
function memFree(p: PageView, rec: number, dataSize: number, extraSize: number): void {
  const free = p.u16(PAGE_FREE);
  const nHeap = (p.u16(PAGE_N_HEAP) - 1) & 0xffff;
  const compHeap = (nHeap & 0x8000) !== 0;
  const deletingTop = nHeap === (compHeap ? p.heapNo(rec, true) | 0x8000 : p.heapNo(rec, false));

  if (deletingTop) {
    const heapTop = p.u16(PAGE_HEAP_TOP);
    // Bytes between the record end and the heap top were garbage already; they stop counting.
    const extraSavings = heapTop - (rec + dataSize);
    p.set16(PAGE_HEAP_TOP, rec - extraSize);
    p.set16(PAGE_N_HEAP, nHeap);
    if (extraSavings !== 0) p.set16(PAGE_GARBAGE, p.u16(PAGE_GARBAGE) - extraSavings);
  } else {
    p.set16(PAGE_FREE, rec);
    p.set16(PAGE_GARBAGE, p.u16(PAGE_GARBAGE) + extraSize + dataSize);
  }
  p.set16(PAGE_LAST_INSERT, 0);
  p.set16(PAGE_N_RECS, p.u16(PAGE_N_RECS) - 1);

  const end = rec + dataSize;
  if (deletingTop) {
    p.zero(rec - extraSize, end);
    return;
  }
  p.set16(rec - REC_NEXT, free === 0 ? 0 : compHeap ? free - rec : free);
  p.zero(rec, end);
}
