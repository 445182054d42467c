/**
 * What a layer stores for one page at one LSN: either a whole page image, or
 * the records one mtr applied to the page (a `PageChange`), in a compact,
 * self-contained encoding (offsets already resolved, no page id: the key
 * says which page).
 */
import { readU16, readU32, readU64, writeU16, writeU32, writeU64 } from '../bytes.js';
import { CorruptFrame } from '../errors.js';
import type { PageChange } from '../redo/replay.js';
import { type ExtendedSubtype, ExtendedSubtype as X, type PageRecord } from '../redo/records.js';
import type { PageKey } from './key.js';

export type PageValue =
  | { readonly kind: 'image'; readonly lsn: bigint; readonly page: Uint8Array }
  | { readonly kind: 'delta'; readonly change: PageChange };

const KIND_IMAGE = 0;
const KIND_DELTA = 1;
const T = { FREE_PAGE: 0, INIT_PAGE: 1, WRITE: 2, MEMSET: 3, MEMMOVE: 4, EXTENDED: 5, OPTION: 6 } as const;

/** Whether applying this change makes the earlier history of the page irrelevant (INIT or FREE first). */
export function changeWillInit(change: PageChange): boolean {
  const first = change.records[0];
  return first !== undefined && (first.type === 'INIT_PAGE' || first.type === 'FREE_PAGE');
}

/**
 * The same as `changeWillInit` (or an image) read from encoded value bytes,
 * without decoding: layer writers mark such values in their index.
 */
export function valueWillInit(b: Uint8Array): boolean {
  if (b.length >= 9 && b[0] === KIND_IMAGE) return true;
  if (b.length < 22 || b[0] !== KIND_DELTA) return false;
  if (b[17] === 0 && b[18] === 0 && b[19] === 0 && b[20] === 0) return false;
  return b[21] === T.FREE_PAGE || b[21] === T.INIT_PAGE;
}

function recordSize(r: PageRecord): number {
  switch (r.type) {
    case 'FREE_PAGE':
    case 'INIT_PAGE':
      return 1;
    case 'WRITE':
      return 1 + 2 + 4 + r.data.length;
    case 'MEMSET':
      return 1 + 2 + 4 + 4 + r.fill.length;
    case 'MEMMOVE':
      return 1 + 2 + 4 + 2;
    case 'EXTENDED':
      return 1 + 1 + 4 + r.payload.length;
    case 'OPTION':
      return 1 + 4 + r.payload.length;
  }
}

/**
 * Encode `v`. `alloc` supplies the output buffer (every byte of it is
 * written): the page server passes a pooled allocator so the millions of
 * small values an open layer holds do not each own a backing store.
 */
export function encodePageValue(v: PageValue, alloc: (bytes: number) => Uint8Array = (n) => new Uint8Array(n)): Uint8Array {
  if (v.kind === 'image') {
    const out = alloc(1 + 8 + v.page.length);
    out[0] = KIND_IMAGE;
    writeU64(out, 1, v.lsn);
    out.set(v.page, 9);
    return out;
  }
  const c = v.change;
  let size = 1 + 8 + 8 + 4;
  for (const r of c.records) size += recordSize(r);
  const out = alloc(size);
  out[0] = KIND_DELTA;
  writeU64(out, 1, c.startLsn);
  writeU64(out, 9, c.endLsn);
  writeU32(out, 17, c.records.length);
  let p = 21;
  for (const r of c.records) {
    out[p++] = T[r.type];
    switch (r.type) {
      case 'FREE_PAGE':
      case 'INIT_PAGE':
        break;
      case 'WRITE':
        writeU16(out, p, r.offset);
        writeU32(out, p + 2, r.data.length);
        out.set(r.data, p + 6);
        p += 6 + r.data.length;
        break;
      case 'MEMSET':
        writeU16(out, p, r.offset);
        writeU32(out, p + 2, r.length);
        writeU32(out, p + 6, r.fill.length);
        out.set(r.fill, p + 10);
        p += 10 + r.fill.length;
        break;
      case 'MEMMOVE':
        writeU16(out, p, r.offset);
        writeU32(out, p + 2, r.length);
        writeU16(out, p + 6, r.source);
        p += 8;
        break;
      case 'EXTENDED':
        out[p] = r.subtype;
        writeU32(out, p + 1, r.payload.length);
        out.set(r.payload, p + 5);
        p += 5 + r.payload.length;
        break;
      case 'OPTION':
        writeU32(out, p, r.payload.length);
        out.set(r.payload, p + 4);
        p += 4 + r.payload.length;
        break;
    }
  }
  return out;
}

/**
 * Decode a value stored under `key`; record payloads are views into `b`.
 * No closures in here: it runs for every value a page is rebuilt from.
 */
export function decodePageValue(b: Uint8Array, key: PageKey): PageValue {
  if (b.length < 9) failValue(key, 'truncated');
  if (b[0] === KIND_IMAGE) return { kind: 'image', lsn: readU64(b, 1), page: b.subarray(9) };
  if (b[0] !== KIND_DELTA) failValue(key, `unknown kind ${b[0]}`);
  if (b.length < 21) failValue(key, 'truncated delta header');
  const startLsn = readU64(b, 1);
  const endLsn = readU64(b, 9);
  const n = readU32(b, 17);
  if (endLsn <= startLsn) failValue(key, 'empty LSN range');
  if (n > b.length) failValue(key, `impossible record count ${n}`);
  const { spaceId, pageNo } = key;
  const records: PageRecord[] = [];
  let p = 21;
  for (let i = 0; i < n; i++) {
    need(b, p + 1, key);
    const t = b[p++];
    switch (t) {
      case T.FREE_PAGE:
        records.push({ type: 'FREE_PAGE', spaceId, pageNo });
        break;
      case T.INIT_PAGE:
        records.push({ type: 'INIT_PAGE', spaceId, pageNo });
        break;
      case T.WRITE: {
        need(b, p + 6, key);
        const offset = readU16(b, p);
        const len = readU32(b, p + 2);
        need(b, p + 6 + len, key);
        records.push({ type: 'WRITE', spaceId, pageNo, offset, data: b.subarray(p + 6, p + 6 + len) });
        p += 6 + len;
        break;
      }
      case T.MEMSET: {
        need(b, p + 10, key);
        const offset = readU16(b, p);
        const length = readU32(b, p + 2);
        const fl = readU32(b, p + 6);
        need(b, p + 10 + fl, key);
        records.push({ type: 'MEMSET', spaceId, pageNo, offset, length, fill: b.subarray(p + 10, p + 10 + fl) });
        p += 10 + fl;
        break;
      }
      case T.MEMMOVE:
        need(b, p + 8, key);
        records.push({ type: 'MEMMOVE', spaceId, pageNo, offset: readU16(b, p), length: readU32(b, p + 2), source: readU16(b, p + 6) });
        p += 8;
        break;
      case T.EXTENDED: {
        need(b, p + 5, key);
        const subtype = b[p]!;
        if (subtype > X.TRIM_PAGES) failValue(key, `unknown EXTENDED subtype ${subtype}`);
        const len = readU32(b, p + 1);
        need(b, p + 5 + len, key);
        records.push({ type: 'EXTENDED', spaceId, pageNo, subtype: subtype as ExtendedSubtype, payload: b.subarray(p + 5, p + 5 + len) });
        p += 5 + len;
        break;
      }
      case T.OPTION: {
        need(b, p + 4, key);
        const len = readU32(b, p);
        need(b, p + 4 + len, key);
        records.push({ type: 'OPTION', spaceId, pageNo, payload: b.subarray(p + 4, p + 4 + len) });
        p += 4 + len;
        break;
      }
      default:
        failValue(key, `unknown record type ${t}`);
    }
  }
  if (p !== b.length) failValue(key, `${b.length - p} trailing bytes`);
  return { kind: 'delta', change: { startLsn, endLsn, records } };
}

function failValue(key: PageKey, why: string): never {
  throw new CorruptFrame(`page value of ${key.spaceId}:${key.pageNo}: ${why}`);
}

/** The value must hold bytes up to `end`. */
function need(b: Uint8Array, end: number, key: PageKey): void {
  if (end > b.length) failValue(key, 'truncated record');
}
