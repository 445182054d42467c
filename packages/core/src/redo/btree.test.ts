import { describe, expect, it } from 'vitest';
import { readU16, writeU16, writeU32 } from '../bytes.js';
import { CorruptPage } from '../errors.js';
import {
  applyDeleteDynamic,
  applyDeleteRedundant,
  applyInitRowFormat,
  applyInsertDynamic,
  applyInsertRedundant,
} from './btree.js';
import { crc32c } from './crc32c.js';
import { writeVarint } from './varint.js';

// Page header fields (absolute offsets) as laid out in page0page.h.
const N_DIR_SLOTS = 38;
const HEAP_TOP = 40;
const N_HEAP = 42;
const FREE = 44;
const GARBAGE = 46;
const LAST_INSERT = 48;
const DIRECTION = 51;
const N_DIRECTION = 52;
const N_RECS = 54;
const LEVEL = 64;

const NEW_INFIMUM = 99;
const NEW_SUPREMUM = 112;
const OLD_INFIMUM = 101;
const OLD_SUPREMUM = 116;
const NO_DIRECTION = 5;
const LEFT = 1;
const RIGHT = 2;

const SPACE = 7;
const PAGE_NO = 42;

function blankPage(size = 16384): Uint8Array {
  const page = new Uint8Array(size);
  writeU32(page, 4, PAGE_NO);
  writeU32(page, 34, SPACE);
  return page;
}

function compactPage(size = 16384): Uint8Array {
  const page = blankPage(size);
  applyInitRowFormat(page, false);
  return page;
}

function redundantPage(size = 16384): Uint8Array {
  const page = blankPage(size);
  applyInitRowFormat(page, true);
  return page;
}

const u16 = readU16;

function slots(page: Uint8Array): number[] {
  const n = u16(page, N_DIR_SLOTS);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(u16(page, page.length - 10 - 2 * i));
  return out;
}

/** User records in list order; COMPACT links are relative, REDUNDANT ones absolute. */
function recordList(page: Uint8Array, comp = true): number[] {
  const out: number[] = [];
  let rec = comp ? NEW_INFIMUM : OLD_INFIMUM;
  const supremum = comp ? NEW_SUPREMUM : OLD_SUPREMUM;
  for (let i = 0; i < 10000; i++) {
    rec = comp ? (rec + u16(page, rec - 2)) & 0xffff : u16(page, rec - 2);
    if (rec === supremum) return out;
    out.push(rec);
  }
  throw new Error('record list does not end');
}

function nOwned(page: Uint8Array, rec: number, comp = true): number {
  return page[rec - (comp ? 5 : 6)]! & 0x0f;
}
function heapNo(page: Uint8Array, rec: number, comp = true): number {
  return u16(page, rec - (comp ? 4 : 5)) >>> 3;
}

function freeList(page: Uint8Array, comp = true): number[] {
  const out: number[] = [];
  let rec = u16(page, FREE);
  for (let i = 0; rec !== 0 && i < 1000; i++) {
    out.push(rec);
    const next = u16(page, rec - 2);
    rec = next === 0 ? 0 : comp ? (rec + next) & 0xffff : next;
  }
  return out;
}

function concat(parts: (number | Uint8Array | number[])[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === 'number') {
      const tmp = new Uint8Array(5);
      out.push(...tmp.subarray(0, writeVarint(tmp, 0, p)));
    } else {
      out.push(...p);
    }
  }
  return Uint8Array.from(out);
}

interface DynamicRecord {
  /** Origin of the predecessor. */
  prevRec: number;
  data: Uint8Array | number[];
  /** Header bytes not shared with prev, in page order. */
  hdr?: number[];
  hdrC?: number;
  dataC?: number;
  info?: number;
  instant?: boolean;
  /** Encoded shift, for INSERT_REUSE_DYNAMIC. */
  shift?: number;
}

function dynamicPayload(r: DynamicRecord): Uint8Array {
  const hdr = r.hdr ?? [];
  const enc = (hdr.length << 3) | (r.instant ? 4 : 0) | ((r.info ?? 0) >> 4);
  const shift = r.shift === undefined ? [] : [r.shift];
  return concat([r.prevRec - NEW_INFIMUM, ...shift, enc, r.hdrC ?? 0, r.dataC ?? 0, hdr, r.data]);
}

/** An 8-byte record keyed by `key`, no variable-length header: 13 bytes on the page. */
function row(key: number): number[] {
  return [0, 0, key >> 8, key & 0xff, 0x5a, 0x5a, 0x5a, key & 0xff];
}
function keyAt(page: Uint8Array, rec: number): number {
  return u16(page, rec + 2);
}

/** Insert `row(key)` after `prevRec` from the heap; returns the new record's origin. */
function insert(page: Uint8Array, prevRec: number, key: number): number {
  applyInsertDynamic(page, dynamicPayload({ prevRec, data: row(key) }), false);
  return u16(page, LAST_INSERT);
}

/** Insert keys 1..n in ascending order; returns their origins. */
function ascending(page: Uint8Array, n: number): number[] {
  const recs: number[] = [];
  let prev = NEW_INFIMUM;
  for (let k = 1; k <= n; k++) recs.push((prev = insert(page, prev, k)));
  return recs;
}

function predecessor(page: Uint8Array, rec: number, comp = true): number {
  const list = recordList(page, comp);
  const i = list.indexOf(rec);
  expect(i).toBeGreaterThanOrEqual(0);
  return i === 0 ? (comp ? NEW_INFIMUM : OLD_INFIMUM) : list[i - 1]!;
}

function deleteDynamic(page: Uint8Array, rec: number, hdrSize = 0, dataSize = 8): void {
  applyDeleteDynamic(page, concat([predecessor(page, rec) - NEW_INFIMUM, hdrSize, dataSize]));
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
function unhex(s: string): Uint8Array {
  return Uint8Array.from(s.match(/../g) ?? [], (x) => parseInt(x, 16));
}

function expectCorrupt(f: () => void): CorruptPage {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CorruptPage);
    const c = e as CorruptPage;
    expect(c.spaceId).toBe(SPACE);
    expect(c.pageNo).toBe(PAGE_NO);
    return c;
  }
  throw new Error('expected CorruptPage');
}

describe('INIT_ROW_FORMAT', () => {
  it('creates an empty COMPACT page: infimum 99, supremum 112, two slots, heap from 120', () => {
    const page = compactPage();
    expect(u16(page, 24)).toBe(17855);
    expect(u16(page, N_DIR_SLOTS)).toBe(2);
    expect(u16(page, HEAP_TOP)).toBe(120);
    expect(u16(page, N_HEAP)).toBe(0x8002);
    expect(page[DIRECTION]).toBe(NO_DIRECTION);
    expect(hex(page.subarray(94, 120))).toBe('010002000d' + '696e66696d756d00' + '01000b0000' + '73757072656d756d');
    expect(slots(page)).toEqual([NEW_INFIMUM, NEW_SUPREMUM]);
    expect(recordList(page)).toEqual([]);
  });

  it('creates an empty REDUNDANT page: infimum 101, supremum 116, heap from 125, no COMPACT flag', () => {
    const page = redundantPage();
    expect(u16(page, N_HEAP)).toBe(2);
    expect(u16(page, HEAP_TOP)).toBe(125);
    expect(hex(page.subarray(94, 125))).toBe(
      '08010000030074' + '696e66696d756d00' + '09010008030000' + '73757072656d756d00',
    );
    expect(slots(page)).toEqual([OLD_INFIMUM, OLD_SUPREMUM]);
    expect(recordList(page, false)).toEqual([]);
  });

  it('resets the header up to PAGE_LEVEL and the heap, keeping level, index id and segment headers', () => {
    const page = blankPage();
    page.fill(0xee, 38, page.length);
    applyInitRowFormat(page, false);
    expect(page.subarray(38, 64).filter((b) => b === 0xee).length).toBe(0);
    expect(page.subarray(64, 94).every((b) => b === 0xee)).toBe(true);
    expect(page.subarray(120, page.length - 12).every((b) => b === 0)).toBe(true);
    expect(page.subarray(page.length - 8).every((b) => b === 0xee)).toBe(true);
  });

  it('puts the directory at the end of 4 KiB and 64 KiB pages alike', () => {
    for (const size of [4096, 65536]) {
      const page = compactPage(size);
      expect(u16(page, size - 10)).toBe(NEW_INFIMUM);
      expect(u16(page, size - 12)).toBe(NEW_SUPREMUM);
    }
  });
});

describe('INSERT_HEAP_DYNAMIC', () => {
  it('places the record at PAGE_HEAP_TOP with the next heap number and links it after prev', () => {
    const page = compactPage();
    applyInsertDynamic(page, dynamicPayload({ prevRec: NEW_INFIMUM, data: row(1) }), false);
    // 5 header bytes at 120: info/n_owned, heap_no 2 with status 0, next = 112 - 125.
    expect(hex(page.subarray(120, 133))).toBe('000010fff3' + '00000001' + '5a5a5a01');
    expect(u16(page, NEW_INFIMUM - 2)).toBe(125 - NEW_INFIMUM);
    expect(u16(page, HEAP_TOP)).toBe(133);
    expect(u16(page, N_HEAP)).toBe(0x8003);
    expect(u16(page, N_RECS)).toBe(1);
    expect(u16(page, LAST_INSERT)).toBe(125);
    expect(nOwned(page, NEW_SUPREMUM)).toBe(2);
  });

  it('keeps the record list in the order given by prev, whatever the heap order', () => {
    const page = compactPage();
    const r5 = insert(page, NEW_INFIMUM, 5);
    const r1 = insert(page, NEW_INFIMUM, 1);
    const r3 = insert(page, r1, 3);
    insert(page, r5, 9);
    insert(page, r3, 4);
    expect(recordList(page).map((r) => keyAt(page, r))).toEqual([1, 3, 4, 5, 9]);
    expect(recordList(page).map((r) => heapNo(page, r))).toEqual([3, 4, 6, 2, 5]);
  });

  it('ascending inserts set PAGE_DIRECTION right and count PAGE_N_DIRECTION', () => {
    const page = compactPage();
    ascending(page, 1);
    // The first insert finds PAGE_LAST_INSERT = 0: no direction.
    expect(page[DIRECTION]).toBe(NO_DIRECTION);
    expect(u16(page, N_DIRECTION)).toBe(0);
    const more = compactPage();
    ascending(more, 6);
    expect(more[DIRECTION]).toBe(RIGHT);
    expect(u16(more, N_DIRECTION)).toBe(5);
  });

  it('inserts just before the last insert set PAGE_DIRECTION left', () => {
    const page = compactPage();
    for (let k = 6; k >= 1; k--) insert(page, NEW_INFIMUM, k);
    expect(page[DIRECTION]).toBe(LEFT);
    expect(u16(page, N_DIRECTION)).toBe(5);
    expect(recordList(page).map((r) => keyAt(page, r))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('an insert away from the last insert, or against the direction, resets it', () => {
    const page = compactPage();
    const [r1, , r3] = ascending(page, 3);
    insert(page, r1!, 2); // neither after nor before r3
    expect(page[DIRECTION]).toBe(NO_DIRECTION);
    expect(u16(page, N_DIRECTION)).toBe(0);

    const left = compactPage();
    const a = insert(left, NEW_INFIMUM, 5);
    insert(left, NEW_INFIMUM, 4); // left of a
    expect(left[DIRECTION]).toBe(LEFT);
    insert(left, u16(left, LAST_INSERT), 4); // right after the last insert, but the direction was left
    expect(left[DIRECTION]).toBe(NO_DIRECTION);
    expect(a).toBe(125);
    expect(r3).toBe(151);

    const right = compactPage();
    const [, s2] = ascending(right, 3);
    expect(right[DIRECTION]).toBe(RIGHT);
    insert(right, s2!, 25); // just before the last insert, but the direction was right
    expect(right[DIRECTION]).toBe(NO_DIRECTION);
    expect(u16(right, N_DIRECTION)).toBe(0);
  });

  it('keeps the direction bits above the low three of PAGE_DIRECTION_B', () => {
    const page = compactPage();
    page[DIRECTION] = 0xf8 | NO_DIRECTION;
    ascending(page, 3);
    expect(page[DIRECTION]).toBe(0xf8 | RIGHT);
  });

  it('does not track the direction on R-tree pages', () => {
    const page = compactPage();
    writeU16(page, 24, 17854);
    ascending(page, 4);
    expect(page[DIRECTION]).toBe(NO_DIRECTION);
    expect(u16(page, N_DIRECTION)).toBe(0);
  });

  it('splits a slot that reaches 9 owned records into 4 and 5', () => {
    const page = compactPage();
    const recs = ascending(page, 7);
    expect(slots(page)).toEqual([NEW_INFIMUM, NEW_SUPREMUM]);
    expect(nOwned(page, NEW_SUPREMUM)).toBe(8);
    recs.push(insert(page, recs[6]!, 8));
    expect(u16(page, N_DIR_SLOTS)).toBe(3);
    expect(slots(page)).toEqual([NEW_INFIMUM, recs[3], NEW_SUPREMUM]);
    expect(nOwned(page, recs[3]!)).toBe(4);
    expect(nOwned(page, NEW_SUPREMUM)).toBe(5);
    expect(nOwned(page, NEW_INFIMUM)).toBe(1);
    expect(recs.filter((r) => r !== recs[3]).every((r) => nOwned(page, r) === 0)).toBe(true);
  });

  it('splits a middle slot and shifts the slots below it', () => {
    const page = compactPage();
    const recs = ascending(page, 8); // slots: infimum, recs[3] (4), supremum (5)
    // Inserting after recs[0] five times fills the slot of recs[3] to 9.
    for (let k = 0; k < 5; k++) recs.push(insert(page, recs[0]!, 100 + k));
    expect(u16(page, N_DIR_SLOTS)).toBe(4);
    const list = recordList(page);
    // The split slot keeps the first 4 records, the new slot below it owns the old owner and 4 before it.
    expect(slots(page)).toEqual([NEW_INFIMUM, list[3], recs[3], NEW_SUPREMUM]);
    expect(nOwned(page, list[3]!)).toBe(4);
    expect(nOwned(page, recs[3]!)).toBe(5);
    expect(list.indexOf(recs[3]!) - list.indexOf(list[3]!)).toBe(5);
  });

  it('copies hdr_c header bytes and data_c data bytes from prev', () => {
    const page = compactPage();
    applyInsertDynamic(page, dynamicPayload({ prevRec: NEW_INFIMUM, hdr: [0x07, 0x08], data: [1, 2, 3, 4, 5, 6] }), false);
    const r1 = u16(page, LAST_INSERT);
    expect(r1).toBe(127);
    applyInsertDynamic(
      page,
      dynamicPayload({ prevRec: r1, hdr: [0x09], hdrC: 1, dataC: 4, data: [0x15, 0x16] }),
      false,
    );
    const r2 = u16(page, LAST_INSERT);
    expect(r2).toBe(r1 + 6 + 7);
    expect(hex(page.subarray(r2 - 7, r2 - 5))).toBe('0908');
    expect(hex(page.subarray(r2, r2 + 6))).toBe('010203041516');
    expect(u16(page, HEAP_TOP)).toBe(r2 + 6);
  });

  it('takes the info bits from enc_hdr_l and the status from the page level', () => {
    const leaf = compactPage();
    applyInsertDynamic(leaf, dynamicPayload({ prevRec: NEW_INFIMUM, data: row(1), info: 0x10, instant: true }), false);
    expect(leaf[120]).toBe(0x10);
    expect(leaf[122]! & 7).toBe(4);
    applyInsertDynamic(leaf, dynamicPayload({ prevRec: 125, data: row(2), info: 0x20 }), false);
    expect(leaf[133]).toBe(0x20);
    expect(leaf[135]! & 7).toBe(0);

    const nonLeaf = compactPage();
    writeU16(nonLeaf, LEVEL, 1);
    applyInsertDynamic(nonLeaf, dynamicPayload({ prevRec: NEW_INFIMUM, data: row(1) }), false);
    expect(nonLeaf[122]! & 7).toBe(1);
  });

  it('refuses the instant status on a non-leaf page', () => {
    const page = compactPage();
    writeU16(page, LEVEL, 1);
    expectCorrupt(() =>
      applyInsertDynamic(page, dynamicPayload({ prevRec: NEW_INFIMUM, data: row(1), instant: true }), false),
    );
  });

  it('refuses a record that does not fit between PAGE_HEAP_TOP and the directory', () => {
    const page = compactPage(4096);
    let prev = NEW_INFIMUM;
    let inserted = 0;
    const before = new Uint8Array(4096);
    for (;;) {
      before.set(page);
      try {
        prev = insert(page, prev, inserted + 1);
      } catch (e) {
        expect(e).toBeInstanceOf(CorruptPage);
        break;
      }
      inserted++;
      expect(inserted).toBeLessThan(4096 / 13);
    }
    // The failed insert left the page unchanged, and the heap stops short of the directory.
    expect(page).toEqual(before);
    const lastSlot = 4096 - 10 - 2 * (u16(page, N_DIR_SLOTS) - 1);
    expect(u16(page, HEAP_TOP) + 13).toBeGreaterThan(lastSlot);
    expect(recordList(page).length).toBe(inserted);
  });
});

describe('DELETE_ROW_FORMAT_DYNAMIC', () => {
  it('pushes a record below the heap top on PAGE_FREE and zeroes its data, keeping its header', () => {
    const page = compactPage();
    const recs = ascending(page, 8);
    const r2 = recs[1]!;
    const header = hex(page.subarray(r2 - 5, r2 - 2));
    deleteDynamic(page, r2);
    expect(u16(page, FREE)).toBe(r2);
    expect(u16(page, GARBAGE)).toBe(13);
    expect(u16(page, N_RECS)).toBe(7);
    expect(u16(page, LAST_INSERT)).toBe(0);
    expect(u16(page, HEAP_TOP)).toBe(120 + 8 * 13);
    expect(u16(page, N_HEAP)).toBe(0x8000 | 10);
    expect(hex(page.subarray(r2 - 5, r2 - 2))).toBe(header);
    expect(u16(page, r2 - 2)).toBe(0);
    expect(page.subarray(r2, r2 + 8).every((b) => b === 0)).toBe(true);
    expect(recordList(page).map((r) => keyAt(page, r))).toEqual([1, 3, 4, 5, 6, 7, 8]);
  });

  it('links PAGE_FREE as a stack with relative next offsets', () => {
    const page = compactPage();
    const recs = ascending(page, 8);
    deleteDynamic(page, recs[1]!);
    deleteDynamic(page, recs[4]!);
    expect(freeList(page)).toEqual([recs[4], recs[1]]);
    expect(u16(page, recs[4]! - 2)).toBe((recs[1]! - recs[4]!) & 0xffff);
    expect(u16(page, GARBAGE)).toBe(26);
  });

  it('gives the newest heap record back to the heap: PAGE_HEAP_TOP and PAGE_N_HEAP drop', () => {
    const page = compactPage();
    const recs = ascending(page, 8);
    deleteDynamic(page, recs[7]!);
    expect(u16(page, HEAP_TOP)).toBe(recs[7]! - 5);
    expect(u16(page, N_HEAP)).toBe(0x8000 | 9);
    expect(u16(page, FREE)).toBe(0);
    expect(u16(page, GARBAGE)).toBe(0);
    expect(page.subarray(recs[7]! - 5, recs[7]! + 8).every((b) => b === 0)).toBe(true);
    expect(nOwned(page, NEW_SUPREMUM)).toBe(4);
  });

  it('when the newest heap record does not reach PAGE_HEAP_TOP, the bytes after it stop counting as garbage', () => {
    const page = compactPage();
    const [, r2, r3] = ascending(page, 3);
    deleteDynamic(page, r2!); // r2 (heap_no 3) goes on PAGE_FREE
    deleteDynamic(page, r3!); // r3 (heap_no 4) is the top: the heap ends at r2's end now
    expect(u16(page, HEAP_TOP)).toBe(r2! + 8);
    // Reuse r2's 13 bytes for an 11-byte record; 2 bytes of garbage remain after it.
    applyInsertDynamic(page, dynamicPayload({ prevRec: 125, data: [9, 9, 9, 9, 9, 9], shift: 0 }), true);
    const reused = u16(page, LAST_INSERT);
    expect(reused).toBe(r2);
    expect(heapNo(page, reused)).toBe(3);
    expect(u16(page, GARBAGE)).toBe(2);
    deleteDynamic(page, reused, 0, 6);
    expect(u16(page, HEAP_TOP)).toBe(reused - 5);
    expect(u16(page, N_HEAP)).toBe(0x8003);
    expect(u16(page, GARBAGE)).toBe(0);
  });

  it('moves the slot of a deleted owner to its predecessor', () => {
    const page = compactPage();
    const recs = ascending(page, 8);
    insert(page, recs[2]!, 30); // the slot of recs[3] owns 5 now
    const before = predecessor(page, recs[3]!);
    deleteDynamic(page, recs[3]!);
    expect(slots(page)).toEqual([NEW_INFIMUM, before, NEW_SUPREMUM]);
    expect(nOwned(page, before)).toBe(4);
  });

  it('a slot left with 3 records takes one from the next slot when that owns more than 4', () => {
    const page = compactPage();
    const recs = ascending(page, 8); // slot 1 = recs[3] owns 4, supremum owns 5
    deleteDynamic(page, recs[1]!);
    expect(slots(page)).toEqual([NEW_INFIMUM, recs[4], NEW_SUPREMUM]);
    expect(nOwned(page, recs[3]!)).toBe(0);
    expect(nOwned(page, recs[4]!)).toBe(4);
    expect(nOwned(page, NEW_SUPREMUM)).toBe(4);
  });

  it('a slot left with 3 records merges into the next slot when that owns 4 or fewer', () => {
    const page = compactPage();
    const recs = ascending(page, 8);
    deleteDynamic(page, recs[7]!); // supremum owns 4
    deleteDynamic(page, recs[1]!);
    expect(u16(page, N_DIR_SLOTS)).toBe(2);
    expect(slots(page)).toEqual([NEW_INFIMUM, NEW_SUPREMUM]);
    expect(u16(page, page.length - 14)).toBe(0); // the vacated slot is zeroed
    expect(nOwned(page, recs[3]!)).toBe(0);
    expect(nOwned(page, NEW_SUPREMUM)).toBe(7);
  });

  it('never balances the supremum slot', () => {
    const page = compactPage();
    const recs = ascending(page, 8);
    for (const r of [recs[7]!, recs[6]!, recs[5]!]) deleteDynamic(page, r);
    expect(nOwned(page, NEW_SUPREMUM)).toBe(2);
    expect(slots(page)).toEqual([NEW_INFIMUM, recs[3], NEW_SUPREMUM]);
  });

  it('deletes every record in any order down to an empty list', () => {
    const page = compactPage();
    const recs = ascending(page, 30);
    const order = [17, 3, 29, 0, 11, 12, 13, 25, 6, 1, 2, 28, 4, 5, 27, 7, 8, 9, 10, 14, 15, 16, 18, 19, 20, 21, 22, 23, 24, 26];
    for (const i of order) {
      deleteDynamic(page, recs[i]!);
      const list = recordList(page);
      const owned = [NEW_INFIMUM, ...list, NEW_SUPREMUM].reduce((s, r) => s + nOwned(page, r), 0);
      expect(owned).toBe(list.length + 2);
      expect(slots(page).every((s, k, all) => k === 0 || s !== all[k - 1])).toBe(true);
    }
    expect(u16(page, N_RECS)).toBe(0);
    expect(slots(page)).toEqual([NEW_INFIMUM, NEW_SUPREMUM]);
  });
});

describe('INSERT_REUSE_DYNAMIC', () => {
  it('takes the head of PAGE_FREE with its heap number and lowers PAGE_GARBAGE', () => {
    const page = compactPage();
    const recs = ascending(page, 4);
    deleteDynamic(page, recs[1]!);
    deleteDynamic(page, recs[2]!);
    const heapTop = u16(page, HEAP_TOP);
    applyInsertDynamic(page, dynamicPayload({ prevRec: recs[0]!, data: row(2), shift: 0 }), true);
    expect(u16(page, LAST_INSERT)).toBe(recs[2]);
    expect(heapNo(page, recs[2]!)).toBe(4);
    expect(freeList(page)).toEqual([recs[1]]);
    expect(u16(page, GARBAGE)).toBe(13);
    expect(u16(page, HEAP_TOP)).toBe(heapTop);
    expect(u16(page, N_HEAP)).toBe(0x8006);
    expect(recordList(page).map((r) => keyAt(page, r))).toEqual([1, 2, 4]);
  });

  it('shift moves the record by the header size difference, the sign in bit 0', () => {
    // A freed 13-byte record with 2 header bytes, reused by a record with none: shift -2 (encoded 5).
    const page = compactPage();
    applyInsertDynamic(page, dynamicPayload({ prevRec: NEW_INFIMUM, hdr: [1, 2], data: [1, 2, 3, 4, 5, 6] }), false);
    const r1 = u16(page, LAST_INSERT);
    insert(page, r1, 2);
    applyDeleteDynamic(page, concat([0, 2, 6]));
    expect(u16(page, FREE)).toBe(r1);
    applyInsertDynamic(page, dynamicPayload({ prevRec: NEW_INFIMUM, data: row(1), shift: 5 }), true);
    expect(u16(page, LAST_INSERT)).toBe(r1 - 2);
    expect(u16(page, GARBAGE)).toBe(0);

    // And back: a record with 2 header bytes into the 13 bytes of one with none: shift +2 (encoded 4).
    const other = compactPage();
    const [a] = ascending(other, 2);
    deleteDynamic(other, a!);
    applyInsertDynamic(other, dynamicPayload({ prevRec: NEW_INFIMUM, hdr: [1, 2], data: [1, 2, 3, 4, 5, 6], shift: 4 }), true);
    expect(u16(other, LAST_INSERT)).toBe(a! + 2);
    expect(hex(other.subarray(a! - 5, a! - 3))).toBe('0102');
  });

  it('refuses to reuse when PAGE_FREE is empty or the record does not fit', () => {
    const page = compactPage();
    const recs = ascending(page, 3);
    expectCorrupt(() => applyInsertDynamic(page, dynamicPayload({ prevRec: recs[0]!, data: row(9), shift: 0 }), true));
    deleteDynamic(page, recs[1]!);
    const big = [...row(9), 1, 2, 3, 4];
    expectCorrupt(() => applyInsertDynamic(page, dynamicPayload({ prevRec: recs[0]!, data: big, shift: 0 }), true));
  });
});

/** A REDUNDANT record with two 4-byte fields and 1-byte offsets: field ends 4 and 8, stored backwards. */
function redundantPayload(prevRec: number, key: number, opts: { hdrC?: number; dataC?: number; info?: number } = {}): Uint8Array {
  const nFields = 2;
  const encHdr = ((nFields - 1) << 3) | (1 << 2) | ((opts.info ?? 0) >> 4);
  const hdrC = opts.hdrC ?? 0;
  const dataC = opts.dataC ?? 0;
  const hdr = [8, 4].slice(0, 2 - hdrC);
  const data = [0, 0, key >> 8, key & 0xff, 0xa5, 0xa5, 0xa5, key & 0xff].slice(dataC);
  return concat([prevRec - OLD_INFIMUM, encHdr, hdrC, dataC, hdr, data]);
}

function insertRedundant(page: Uint8Array, prevRec: number, key: number, reuse = false): number {
  applyInsertRedundant(page, redundantPayload(prevRec, key), reuse);
  return u16(page, LAST_INSERT);
}

function deleteRedundant(page: Uint8Array, rec: number): void {
  applyDeleteRedundant(page, concat([predecessor(page, rec, false) - OLD_INFIMUM]));
}

describe('ROW_FORMAT=REDUNDANT', () => {
  it('inserts with absolute next pointers, the heap number and the field count in the header', () => {
    const page = redundantPage();
    const r1 = insertRedundant(page, OLD_INFIMUM, 1);
    expect(r1).toBe(125 + 8);
    // Field ends 8,4; info/n_owned 0; heap_no 2 | n_fields 2 | short; next = supremum.
    expect(hex(page.subarray(125, r1 + 8))).toBe('0804' + '00' + '0010' + '05' + '0074' + '00000001a5a5a501');
    expect(u16(page, OLD_INFIMUM - 2)).toBe(r1);
    expect(u16(page, N_HEAP)).toBe(3);
    expect(u16(page, HEAP_TOP)).toBe(141);
    expect(nOwned(page, OLD_SUPREMUM, false)).toBe(2);
    const r0 = insertRedundant(page, OLD_INFIMUM, 0);
    expect(recordList(page, false)).toEqual([r0, r1]);
    expect(heapNo(page, r0, false)).toBe(3);
  });

  it('copies shared header and data bytes from prev', () => {
    const page = redundantPage();
    const r1 = insertRedundant(page, OLD_INFIMUM, 1);
    applyInsertRedundant(page, redundantPayload(r1, 2, { hdrC: 2, dataC: 2, info: 0x20 }), false);
    const r2 = u16(page, LAST_INSERT);
    expect(hex(page.subarray(r2 - 8, r2 + 8))).toBe('0804' + '20' + '0018' + '05' + '0074' + '00000002a5a5a502');
    expect(u16(page, r1 - 2)).toBe(r2);
  });

  it('splits at 9 owned records and deletes, frees and reuses like COMPACT', () => {
    const page = redundantPage();
    const recs: number[] = [];
    let prev = OLD_INFIMUM;
    for (let k = 1; k <= 8; k++) recs.push((prev = insertRedundant(page, prev, k)));
    expect(slots(page)).toEqual([OLD_INFIMUM, recs[3], OLD_SUPREMUM]);
    expect(nOwned(page, recs[3]!, false)).toBe(4);
    expect(nOwned(page, OLD_SUPREMUM, false)).toBe(5);
    expect(page[DIRECTION]).toBe(RIGHT);
    expect(u16(page, N_DIRECTION)).toBe(7);

    deleteRedundant(page, recs[1]!);
    expect(u16(page, FREE)).toBe(recs[1]);
    expect(u16(page, GARBAGE)).toBe(16);
    expect(slots(page)).toEqual([OLD_INFIMUM, recs[4], OLD_SUPREMUM]);
    expect(page.subarray(recs[1]!, recs[1]! + 8).every((b) => b === 0)).toBe(true);
    deleteRedundant(page, recs[5]!);
    expect(freeList(page, false)).toEqual([recs[5], recs[1]]);
    // REDUNDANT free list links are absolute.
    expect(u16(page, recs[5]! - 2)).toBe(recs[1]);

    insertRedundant(page, recs[4]!, 6, true);
    expect(u16(page, LAST_INSERT)).toBe(recs[5]);
    expect(heapNo(page, recs[5]!, false)).toBe(7);
    expect(freeList(page, false)).toEqual([recs[1]]);
    expect(u16(page, GARBAGE)).toBe(16);

    deleteRedundant(page, recs[7]!);
    expect(u16(page, HEAP_TOP)).toBe(recs[7]! - 8);
    expect(u16(page, N_HEAP)).toBe(9);
    expect(recordList(page, false).map((r) => u16(page, r + 2))).toEqual([1, 3, 4, 5, 6, 7]);
  });

  it('refuses COMPACT records on a REDUNDANT page and the other way round', () => {
    const red = redundantPage();
    insertRedundant(red, OLD_INFIMUM, 1);
    expectCorrupt(() => applyInsertDynamic(red, dynamicPayload({ prevRec: NEW_INFIMUM, data: row(1) }), false));
    expectCorrupt(() => applyDeleteDynamic(red, concat([2, 0, 8])));
    const comp = compactPage();
    insert(comp, NEW_INFIMUM, 1);
    expectCorrupt(() => applyInsertRedundant(comp, redundantPayload(OLD_INFIMUM, 1), false));
    expectCorrupt(() => applyDeleteRedundant(comp, concat([0])));
  });
});

describe('page sizes', () => {
  it('on 64 KiB pages next offsets wrap modulo 65536 in both directions', () => {
    const page = compactPage(65536);
    // 2600 records push the heap past 32 KiB; then link a high record first in the list.
    ascending(page, 2600);
    expect(u16(page, HEAP_TOP)).toBeGreaterThan(32768);
    const high = insert(page, NEW_INFIMUM, 0);
    expect(high).toBeGreaterThan(32768);
    expect(u16(page, NEW_INFIMUM - 2)).toBe(high - NEW_INFIMUM);
    expect(u16(page, high - 2)).toBe((125 - high) & 0xffff);
    expect(heapNo(page, high)).toBe(2602);
    const list = recordList(page);
    expect(list.length).toBe(2601);
    expect(keyAt(page, list[0]!)).toBe(0);
    expect(keyAt(page, list[1]!)).toBe(1);
    deleteDynamic(page, high);
    expect(recordList(page).length).toBe(2600);
    expect(u16(page, N_HEAP)).toBe(0x8000 | 2602);
  });
});

/**
 * Real payloads from MariaDB 10.11.19 (fixtures/innodb-10.11, mtrs 50841..55516,
 * page 5:3 = lab.t's clustered index root). The base page held rows 1..40 of
 * `(id INT PRIMARY KEY, v VARCHAR(64), n INT)`, inserted in order; we rebuild
 * its layout with our own inserts of the same sizes, then apply the server's
 * 20 inserts, two delete+insert updates and 5 purge deletes.
 */
describe('real MariaDB 10.11.19 B-tree records', () => {
  // INSERT_HEAP_DYNAMIC payloads (after the subtype byte) of rows 41..60, in log order.
  const inserts41to60 = [
    '8499080003062900000000001d830000012d0110726f772d34318000019a',
    '84ba080003062a00000000001d830000012d011c726f772d3432800001a4',
    '84db080003062b00000000001d830000012d0128726f772d3433800001ae',
    '84fc080003062c00000000001d830000012d0134726f772d3434800001b8',
    '851d080003062d00000000001d830000012d0140726f772d3435800001c2',
    '853e080003062e00000000001d830000012d014c726f772d3436800001cc',
    '855f080003062f00000000001d830000012d0158726f772d3437800001d6',
    '8580080003063000000000001d830000012d0164726f772d3438800001e0',
    '85a1080003063100000000001d830000012d0170726f772d3439800001ea',
    '85c2080003063200000000001d830000012d017c726f772d3530800001f4',
    '85e3080003063300000000001d830000012d0188726f772d3531800001fe',
    '8604080003063400000000001d830000012d0194726f772d353280000208',
    '8625080003063500000000001d830000012d01a0726f772d353380000212',
    '8646080003063600000000001d830000012d01ac726f772d35348000021c',
    '8667080003063700000000001d830000012d01b8726f772d353580000226',
    '8688080003063800000000001d830000012d01c4726f772d353680000230',
    '86a9080003063900000000001d830000012d01d0726f772d35378000023a',
    '86ca080003063a00000000001d830000012d01dc726f772d353880000244',
    '86eb080003063b00000000001d830000012d01e8726f772d35398000024e',
    '870c080003063c00000000001d830000012d01f4726f772d363080000258',
  ];
  const updates = [
    ['81e4011b', '81e4080003131400000000002306000001350110726f772d32302d6c6f6e6765722d76616c7565800000c8'],
    ['874e011b', '874e080003131500000000002306000001350133726f772d32312d6c6f6e6765722d76616c7565800000d2'],
  ] as const;
  const purge = '832e011b';

  function labRow(id: number): { hdr: number[]; data: number[] } {
    const v = Array.from(`row-${id}`, (c) => c.charCodeAt(0));
    const n = id * 10;
    return { hdr: [v.length], data: [0x80, 0, 0, id, 0, 0, 0, 0, 0, 0x16, 0x83, 0, 0, 1, 0x2d, 1, id, ...v, 0x80, 0, n >> 8, n & 0xff] };
  }

  function baseReplica(): Uint8Array {
    const page = blankPage();
    writeU32(page, 4, 3);
    writeU32(page, 34, 5);
    applyInitRowFormat(page, false);
    let prev = NEW_INFIMUM;
    for (let id = 1; id <= 40; id++) {
      applyInsertDynamic(page, dynamicPayload({ prevRec: prev, ...labRow(id) }), false);
      prev = u16(page, LAST_INSERT);
    }
    return page;
  }

  it('our inserts reproduce the base page layout that MariaDB built', () => {
    const page = baseReplica();
    expect(slots(page)).toEqual([99, 222, 350, 480, 612, 744, 876, 1008, 1140, 1272, 112]);
    expect(u16(page, HEAP_TOP)).toBe(1431);
    expect(u16(page, N_HEAP)).toBe(32810);
    expect(u16(page, LAST_INSERT)).toBe(1404);
    expect(page[DIRECTION]).toBe(RIGHT);
    expect(u16(page, N_DIRECTION)).toBe(39);
  });

  it('applying the server records gives the header, directory and new records MariaDB flushed', () => {
    const page = baseReplica();
    for (const p of inserts41to60) applyInsertDynamic(page, unhex(p), false);
    for (const [del, ins] of updates) {
      applyDeleteDynamic(page, unhex(del));
      applyInsertDynamic(page, unhex(ins), false);
    }
    for (let i = 0; i < 5; i++) applyDeleteDynamic(page, unhex(purge));

    // Expected values read from expected-pages/space5-page3.bin.
    expect(hex(page.subarray(38, 56))).toBe('000d0887804004b600e70000000500000037');
    expect(hex(page.subarray(16384 - 8 - 26, 16384 - 8))).toBe(
      '0070078c070806840600057c03f0036c026401e0015e00de0063',
    );
    expect(freeList(page)).toEqual([1206, 1173, 1140, 1107, 1074, 777, 744]);
    expect(hex(page.subarray(1431, 1431 + 33))).toBe(
      '0600015000218000002900000000001d830000012d0110726f772d34318000019a',
    );
    expect(hex(page.subarray(2091, 2097 + 40))).toBe(
      '130001f0002e8000001400000000002306000001350110726f772d32302d6c6f6e6765722d76616c7565800000c8',
    );
    // Every byte of rows 41..60 and the two re-inserted rows, as flushed by the server.
    expect(crc32c(page, 1431, 2183).toString(16)).toBe('772b8d14');
    expect(page.subarray(2183, 16384 - 8 - 26).every((b) => b === 0)).toBe(true);
  });
});

describe('corruption is reported as CorruptPage', () => {
  it('names the page from its header', () => {
    const page = compactPage();
    const e = expectCorrupt(() => applyDeleteDynamic(page, concat([0, 0, 8])));
    expect(e.code).toBe('CORRUPT_PAGE');
  });

  it('refuses pages that are not index pages', () => {
    const page = compactPage();
    insert(page, NEW_INFIMUM, 1);
    writeU16(page, 24, 2);
    expectCorrupt(() => insert(page, NEW_INFIMUM, 2));
    expectCorrupt(() => applyDeleteDynamic(page, concat([0, 0, 8])));
  });

  it('refuses a prev outside the heap, or whose successor is outside it', () => {
    const page = compactPage();
    const [r1, r2] = ascending(page, 2);
    expectCorrupt(() => insert(page, u16(page, HEAP_TOP) + 1, 9));
    expectCorrupt(() => insert(page, 110, 9));
    writeU16(page, r1! - 2, 0x4000);
    expectCorrupt(() => insert(page, r1!, 9));
    expectCorrupt(() => applyDeleteDynamic(page, concat([r1! - NEW_INFIMUM, 0, 8])));
    expect(r2).toBe(138);
  });

  it('refuses a delete whose sizes reach past the directory or below the heap', () => {
    const page = compactPage();
    ascending(page, 2);
    expectCorrupt(() => applyDeleteDynamic(page, concat([0, 0, 20000])));
    expectCorrupt(() => applyDeleteDynamic(page, concat([0, 100, 8])));
  });

  it('refuses to delete from an empty page', () => {
    expectCorrupt(() => applyDeleteDynamic(compactPage(), concat([0, 0, 8])));
    expectCorrupt(() => applyDeleteRedundant(redundantPage(), concat([0])));
  });

  it('stops on a cyclic record list instead of looping', () => {
    const page = compactPage();
    const recs = ascending(page, 6);
    // recs[5] points back to recs[2]; nobody on the cycle owns records.
    writeU16(page, recs[5]! - 2, (recs[2]! - recs[5]!) & 0xffff);
    expectCorrupt(() => insert(page, recs[3]!, 99));
    expectCorrupt(() => applyDeleteDynamic(page, concat([recs[2]! - NEW_INFIMUM, 0, 8])));
    const red = redundantPage();
    let prev = OLD_INFIMUM;
    const rr: number[] = [];
    for (let k = 1; k <= 6; k++) rr.push((prev = insertRedundant(red, prev, k)));
    writeU16(red, rr[5]! - 2, rr[2]!);
    expectCorrupt(() => insertRedundant(red, rr[3]!, 99));
    expectCorrupt(() => applyDeleteRedundant(red, concat([rr[2]! - OLD_INFIMUM])));
  });

  it('refuses an owner that no directory slot points to', () => {
    const page = compactPage();
    ascending(page, 3);
    writeU16(page, page.length - 12, 125);
    expectCorrupt(() => insert(page, NEW_INFIMUM, 0));
  });

  it('refuses malformed payload varints and truncated headers', () => {
    const page = compactPage();
    ascending(page, 2);
    const bad = [
      [], // nothing
      [0x00], // prev only
      [0x00, 0x00, 0x00], // no data_c
      [0xf0, 0, 0, 0, 0, 0, 0, 0, 0], // 5-byte prev
      [0xe0, 0, 0, 0, 0, 0, 0, 0, 0], // 4-byte prev
      [0x00, 0xe0, 0, 0, 0, 0, 0, 0], // 4-byte enc_hdr_l
      [0x00, 0x00, 0xc0, 0, 0, 0, 0], // 3-byte hdr_c
      [0x00, 0x00, 0x00, 0xe0, 0, 0, 0], // 4-byte data_c
      [0x00, 0x80], // 2-byte enc_hdr_l cut short
      [0x00, 0x10, 0x00, 0x00, 0x01], // hdr_l 2 but one byte follows
    ];
    for (const b of bad) expectCorrupt(() => applyInsertDynamic(page, Uint8Array.from(b), false));
    for (const b of [[], [0, 0], [0, 0, 8, 0], [0, 0xc0, 0, 0, 8], [0, 0, 0xe0, 0, 0, 0]]) {
      expectCorrupt(() => applyDeleteDynamic(page, Uint8Array.from(b)));
    }
    const red = redundantPage();
    insertRedundant(red, OLD_INFIMUM, 1);
    for (const b of [[], [0, 0], [0x80], [0xe0, 0, 0, 0]]) {
      expectCorrupt(() => applyDeleteRedundant(red, Uint8Array.from(b)));
    }
    for (const b of [[], [0], [0, 0x0c, 0], [0, 0xc0, 0, 0, 0, 0], [0, 0x0c, 0, 0xc0, 0, 0, 0]]) {
      expectCorrupt(() => applyInsertRedundant(red, Uint8Array.from(b), false));
    }
  });

  it('refuses REDUNDANT header sizes that disagree with the payload', () => {
    const red = redundantPage();
    const r1 = insertRedundant(red, OLD_INFIMUM, 1);
    const good = redundantPayload(r1, 2);
    expectCorrupt(() => applyInsertRedundant(red, good.subarray(0, good.length - 1), false));
    expectCorrupt(() => applyInsertRedundant(red, concat([good, [0]]), false));
    expectCorrupt(() => applyInsertRedundant(red, redundantPayload(r1, 2, { hdrC: 3 }), false));
  });

  it('random damage to page and payload never escapes as anything but CorruptPage', () => {
    const ops = buildFuzzBases();
    let seed = 0x2545f491;
    const rand = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    for (let iter = 0; iter < 3000; iter++) {
      const startSeed = seed;
      const base = ops[rand(ops.length)]!;
      const page = base.page.slice();
      const payload = base.payload.slice();
      for (let k = rand(4); k-- > 0; ) {
        const hot = [38 + rand(20), 94 + rand(400), page.length - 40 + rand(32)];
        page[hot[rand(3)]!] = rand(256);
      }
      for (let k = rand(3); k-- > 0; ) if (payload.length > 0) payload[rand(payload.length)] = rand(256);
      try {
        base.apply(page, payload);
      } catch (e) {
        if (!(e instanceof CorruptPage)) throw new Error(`seed ${startSeed} (iteration ${iter}): ${String(e)}`);
      }
      expect(page.length).toBe(base.page.length);
    }
  });
});

interface FuzzBase {
  page: Uint8Array;
  payload: Uint8Array;
  apply: (page: Uint8Array, payload: Uint8Array) => void;
}

function buildFuzzBases(): FuzzBase[] {
  const comp = compactPage(4096);
  const recs = ascending(comp, 20);
  deleteDynamic(comp, recs[4]!);
  deleteDynamic(comp, recs[9]!);
  const red = redundantPage(4096);
  const rr: number[] = [];
  let prev = OLD_INFIMUM;
  for (let k = 1; k <= 20; k++) rr.push((prev = insertRedundant(red, prev, k)));
  deleteRedundant(red, rr[4]!);
  deleteRedundant(red, rr[9]!);
  return [
    { page: comp, payload: dynamicPayload({ prevRec: recs[2]!, data: row(50), hdrC: 0, dataC: 2 }), apply: (p, b) => applyInsertDynamic(p, b, false) },
    { page: comp, payload: dynamicPayload({ prevRec: recs[2]!, data: row(50), shift: 0 }), apply: (p, b) => applyInsertDynamic(p, b, true) },
    { page: comp, payload: concat([recs[6]! - NEW_INFIMUM, 0, 8]), apply: applyDeleteDynamic },
    { page: red, payload: redundantPayload(rr[2]!, 50, { hdrC: 1, dataC: 2 }), apply: (p, b) => applyInsertRedundant(p, b, false) },
    { page: red, payload: redundantPayload(rr[2]!, 50), apply: (p, b) => applyInsertRedundant(p, b, true) },
    { page: red, payload: concat([rr[6]! - OLD_INFIMUM]), apply: applyDeleteRedundant },
  ];
}
