/**
 * The layer file format shared by delta and image layers: an immutable file
 * covering a key range × LSN range, holding values sorted by (key, LSN),
 * with an index block for random access. Everything is checksummed so a
 * damaged download is detected, never applied.
 *
 *   header (128 bytes) | values ... | index (32 bytes per entry)
 *
 * Header: magic "STRATALY", u32 version, u8 kind, 3 pad, key start/end
 * (2×u32 each), LSN start/end (u64 each), u32 entry count, u64 index offset,
 * u64 index length, u32 index CRC-32C, ..., u32 header CRC-32C at 124.
 * Index entry: u32 space, u32 page, u64 LSN, u64 value offset, u32 value
 * length (top bit: will_init, version 2), u32 value CRC-32C.
 *
 * will_init marks a value that needs nothing older to rebuild its page: a
 * page image, or a delta whose first record is INIT_PAGE or FREE_PAGE. A
 * reconstruction walks a key's values from the newest down and stops at the
 * first one so marked (Neon's `will_init`), so what it reads is bounded by
 * how often images are written, not by the page's history. Version 1 files
 * carry no marks: their images still stop a walk (the value says so), their
 * deltas never do.
 */
import { assert } from '../assert.js';
import { readU32, readU64, writeU32, writeU64 } from '../bytes.js';
import { CorruptFrame } from '../errors.js';
import { crc32c } from '../redo/crc32c.js';
import { compareKeys, keyString, type PageKey, parseKeyString } from './key.js';
import { valueWillInit } from './page-value.js';

export const LAYER_HEADER_BYTES = 128;
export const LAYER_INDEX_ENTRY_BYTES = 32;
const MAGIC = [0x53, 0x54, 0x52, 0x41, 0x54, 0x41, 0x4c, 0x59]; // STRATALY
const VERSION = 2;
const VERSION_NO_FLAGS = 1;
/** Set in an index entry's length word for a will_init value (version 2 files). */
export const LAYER_WILL_INIT_BIT = 0x8000_0000;
/** A value's length must leave the will_init bit free. */
export const LAYER_VALUE_BYTES_MAX = 0x7fff_ffff;

export type LayerKind = 'delta' | 'image';

/** What a layer covers: keys [keyStart, keyEnd) × LSNs [lsnStart, lsnEnd). An image layer at L is [L, L+1). */
export interface LayerDesc {
  readonly kind: LayerKind;
  readonly keyStart: PageKey;
  readonly keyEnd: PageKey;
  readonly lsnStart: bigint;
  readonly lsnEnd: bigint;
}

export interface LayerEntry {
  readonly key: PageKey;
  readonly lsn: bigint;
  readonly value: Uint8Array;
}

function lsnHex(l: bigint): string {
  return l.toString(16).padStart(16, '0');
}

export function layerFileName(d: LayerDesc): string {
  return `${keyString(d.keyStart)}-${keyString(d.keyEnd)}__${lsnHex(d.lsnStart)}-${lsnHex(d.lsnEnd)}.${d.kind}`;
}

export function parseLayerFileName(name: string): LayerDesc | undefined {
  const m = /^([0-9a-f]{16})-([0-9a-f]{16})__([0-9a-f]{16})-([0-9a-f]{16})\.(delta|image)$/.exec(name);
  if (!m) return undefined;
  const keyStart = parseKeyString(m[1]!);
  const keyEnd = parseKeyString(m[2]!);
  if (!keyStart || !keyEnd) return undefined;
  return { kind: m[5] as LayerKind, keyStart, keyEnd, lsnStart: BigInt(`0x${m[3]}`), lsnEnd: BigInt(`0x${m[4]}`) };
}

/**
 * A layer file's index and header, built entry by entry as the values are
 * written out (a layer writer streams values to disk; only the 32-byte index
 * entries stay in memory). Checks what `encodeLayer` promises: entries in
 * (key, LSN) order, inside the layer's ranges.
 */
export class LayerIndexBuilder {
  private index = new Uint8Array(64 * LAYER_INDEX_ENTRY_BYTES);
  private count = 0;
  private valuesEnd = LAYER_HEADER_BYTES;
  private lastKey: PageKey | undefined;
  private lastLsn = 0n;

  constructor(readonly desc: LayerDesc) {
    assert(desc.lsnEnd > desc.lsnStart, 'empty LSN range');
  }

  get entryCount(): number {
    return this.count;
  }

  /** Where the next value goes in the file. */
  get nextValueOffset(): number {
    return this.valuesEnd;
  }

  /** Record `value`, to be written at `nextValueOffset` (before this call). */
  add(key: PageKey, lsn: bigint, value: Uint8Array): void {
    const d = this.desc;
    assert(value.length <= LAYER_VALUE_BYTES_MAX, 'value too big for a layer');
    assert(compareKeys(key, d.keyStart) >= 0 && compareKeys(key, d.keyEnd) < 0, `key ${keyString(key)} outside the layer`);
    assert(lsn >= d.lsnStart && lsn < d.lsnEnd, `LSN ${lsn} outside the layer`);
    if (this.lastKey) {
      const c = compareKeys(this.lastKey, key);
      assert(c < 0 || (c === 0 && this.lastLsn < lsn), 'entries not sorted by (key, LSN)');
    }
    this.lastKey = key;
    this.lastLsn = lsn;
    if ((this.count + 1) * LAYER_INDEX_ENTRY_BYTES > this.index.length) {
      const grown = new Uint8Array(this.index.length * 2);
      grown.set(this.index);
      this.index = grown;
    }
    const ip = this.count * LAYER_INDEX_ENTRY_BYTES;
    writeU32(this.index, ip, key.spaceId);
    writeU32(this.index, ip + 4, key.pageNo);
    writeU64(this.index, ip + 8, lsn);
    writeU64(this.index, ip + 16, BigInt(this.valuesEnd));
    writeU32(this.index, ip + 24, (value.length | (valueWillInit(value) ? LAYER_WILL_INIT_BIT : 0)) >>> 0);
    writeU32(this.index, ip + 28, crc32c(value));
    this.count++;
    this.valuesEnd += value.length;
  }

  /** The index block (written right after the values) and the header (written at offset 0). */
  finish(): { index: Uint8Array; header: Uint8Array; fileBytes: number } {
    const d = this.desc;
    const index = this.index.subarray(0, this.count * LAYER_INDEX_ENTRY_BYTES);
    const header = new Uint8Array(LAYER_HEADER_BYTES);
    header.set(MAGIC, 0);
    writeU32(header, 8, VERSION);
    header[12] = d.kind === 'delta' ? 1 : 2;
    writeU32(header, 16, d.keyStart.spaceId);
    writeU32(header, 20, d.keyStart.pageNo);
    writeU32(header, 24, d.keyEnd.spaceId);
    writeU32(header, 28, d.keyEnd.pageNo);
    writeU64(header, 32, d.lsnStart);
    writeU64(header, 40, d.lsnEnd);
    writeU32(header, 48, this.count);
    writeU64(header, 52, BigInt(this.valuesEnd));
    writeU64(header, 60, BigInt(index.length));
    writeU32(header, 68, crc32c(index));
    writeU32(header, 124, crc32c(header, 0, 124));
    return { index, header, fileBytes: this.valuesEnd + index.length };
  }
}

/** Build a whole layer file in memory from entries already sorted by (key, LSN). */
export function encodeLayer(desc: LayerDesc, entries: readonly LayerEntry[]): Uint8Array {
  const b = new LayerIndexBuilder(desc);
  let valuesBytes = 0;
  for (const e of entries) valuesBytes += e.value.length;
  const values = new Uint8Array(valuesBytes);
  let off = 0;
  for (const e of entries) {
    b.add(e.key, e.lsn, e.value);
    values.set(e.value, off);
    off += e.value.length;
  }
  const { index, header, fileBytes } = b.finish();
  const out = new Uint8Array(fileBytes);
  out.set(header, 0);
  out.set(values, LAYER_HEADER_BYTES);
  out.set(index, LAYER_HEADER_BYTES + valuesBytes);
  return out;
}

export interface LayerHeader {
  readonly desc: LayerDesc;
  readonly entryCount: number;
  readonly indexOffset: number;
  readonly indexLength: number;
  readonly indexCrc: number;
  /** Index entries carry the will_init bit (version 2). */
  readonly hasWillInit: boolean;
}

export function parseLayerHeader(b: Uint8Array, what = 'layer'): LayerHeader {
  const fail = (why: string): never => {
    throw new CorruptFrame(`${what}: ${why}`);
  };
  if (b.length < LAYER_HEADER_BYTES) fail('truncated header');
  for (let i = 0; i < MAGIC.length; i++) if (b[i] !== MAGIC[i]) fail('not a Strata layer file');
  if (crc32c(b, 0, 124) !== readU32(b, 124)) fail('header CRC mismatch');
  const version = readU32(b, 8);
  if (version !== VERSION && version !== VERSION_NO_FLAGS) fail(`unsupported layer version ${version}`);
  const kind = b[12] === 1 ? 'delta' : b[12] === 2 ? 'image' : fail(`unknown layer kind ${b[12]}`);
  const entryCount = readU32(b, 48);
  const indexOffset = Number(readU64(b, 52));
  const indexLength = Number(readU64(b, 60));
  if (indexLength !== entryCount * LAYER_INDEX_ENTRY_BYTES) fail('index length does not match the entry count');
  return {
    desc: {
      kind,
      keyStart: { spaceId: readU32(b, 16), pageNo: readU32(b, 20) },
      keyEnd: { spaceId: readU32(b, 24), pageNo: readU32(b, 28) },
      lsnStart: readU64(b, 32),
      lsnEnd: readU64(b, 40),
    },
    entryCount,
    indexOffset,
    indexLength,
    indexCrc: readU32(b, 68),
    hasWillInit: version === VERSION,
  };
}

export interface IndexHit {
  readonly lsn: bigint;
  readonly offset: number;
  readonly length: number;
  readonly crc: number;
  /** Nothing older is needed to rebuild the page from this value (see the file comment). */
  readonly willInit: boolean;
}

/** The index block of a layer, searchable by key. */
export class LayerIndex {
  private readonly view: DataView;
  readonly count: number;
  private readonly hasWillInit: boolean;

  constructor(
    private readonly bytes: Uint8Array,
    header: LayerHeader,
    what = 'layer',
  ) {
    if (bytes.length !== header.indexLength) throw new CorruptFrame(`${what}: index truncated`);
    if (crc32c(bytes) !== header.indexCrc) throw new CorruptFrame(`${what}: index CRC mismatch`);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.count = header.entryCount;
    this.hasWillInit = header.hasWillInit;
    const valuesEnd = header.indexOffset;
    for (let i = 0; i < this.count; i++) {
      const off = Number(this.view.getBigUint64(i * LAYER_INDEX_ENTRY_BYTES + 16));
      const len = this.lengthAt(i);
      if (off < LAYER_HEADER_BYTES || off + len > valuesEnd) throw new CorruptFrame(`${what}: index entry ${i} points outside the values`);
    }
  }

  private lengthAt(i: number): number {
    return (this.view.getUint32(i * LAYER_INDEX_ENTRY_BYTES + 24) & LAYER_VALUE_BYTES_MAX) >>> 0;
  }

  private cmp(i: number, key: PageKey): number {
    const base = i * LAYER_INDEX_ENTRY_BYTES;
    const s = this.view.getUint32(base);
    if (s !== key.spaceId) return s - key.spaceId;
    return this.view.getUint32(base + 4) - key.pageNo;
  }

  /** The first entry whose key is at or above `key` (`count` if none). */
  lowerBound(key: PageKey): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cmp(mid, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The first entry of `key` at or after `from` whose LSN is at or above `lsn` (the end of the key's run if none). */
  private lsnLowerBound(from: number, runEnd: number, lsn: bigint): number {
    let lo = from;
    let hi = runEnd;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.lsnAt(mid) < lsn) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The end of the run of entries starting at `i` that share its key (galloping: runs are usually short, a hot page's can be huge). */
  runEnd(i: number): number {
    if (i >= this.count) return i;
    const key = this.keyAt(i);
    let step = 1;
    let lo = i + 1;
    let hi = i + 1;
    while (hi < this.count && this.cmp(hi, key) === 0) {
      lo = hi + 1;
      hi = Math.min(this.count, hi + step);
      step *= 2;
    }
    // The run ends in [lo, hi]: the first entry in there with a greater key.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cmp(mid, key) === 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  keyAt(i: number): PageKey {
    const base = i * LAYER_INDEX_ENTRY_BYTES;
    return { spaceId: this.view.getUint32(base), pageNo: this.view.getUint32(base + 4) };
  }

  lsnAt(i: number): bigint {
    return this.view.getBigUint64(i * LAYER_INDEX_ENTRY_BYTES + 8);
  }

  hitAt(i: number): IndexHit {
    const base = i * LAYER_INDEX_ENTRY_BYTES;
    const raw = this.view.getUint32(base + 24);
    return {
      lsn: this.view.getBigUint64(base + 8),
      offset: Number(this.view.getBigUint64(base + 16)),
      length: (raw & LAYER_VALUE_BYTES_MAX) >>> 0,
      crc: this.view.getUint32(base + 28),
      willInit: this.hasWillInit && (raw & LAYER_WILL_INIT_BIT) !== 0,
    };
  }

  /** Entries of `key` with LSN in [lsnFrom, lsnTo), ascending by LSN. */
  find(key: PageKey, lsnFrom: bigint, lsnTo: bigint): IndexHit[] {
    const lo = this.lowerBound(key);
    const end = this.runEnd(lo);
    const hits: IndexHit[] = [];
    for (let i = this.lsnLowerBound(lo, end, lsnFrom); i < end; i++) {
      const h = this.hitAt(i);
      if (h.lsn >= lsnTo) break;
      hits.push(h);
    }
    return hits;
  }

  /**
   * What a reconstruction of `key` below `lsnTo` needs from this layer: its
   * entries with LSN in [lsnFrom, lsnTo), newest first, up to and including
   * the first will_init one (`complete`: nothing older is needed). The walk
   * never touches entries older than that, however long the key's run.
   */
  chain(key: PageKey, lsnFrom: bigint, lsnTo: bigint, out: IndexHit[]): boolean {
    const lo = this.lowerBound(key);
    if (lo >= this.count || this.cmp(lo, key) !== 0) return false;
    return this.chainInRun(lo, this.runEnd(lo), lsnFrom, lsnTo, out);
  }

  /** `chain` over the run [runStart, runEnd) of one key. */
  chainInRun(runStart: number, runEnd: number, lsnFrom: bigint, lsnTo: bigint, out: IndexHit[]): boolean {
    for (let i = this.lsnLowerBound(runStart, runEnd, lsnTo) - 1; i >= runStart; i--) {
      const h = this.hitAt(i);
      if (h.lsn < lsnFrom) return false;
      out.push(h);
      if (h.willInit) return true;
    }
    return false;
  }

  /** Every distinct key in the layer, in order (for compaction and image creation). */
  *keys(): Generator<PageKey> {
    let prev: PageKey | undefined;
    for (let i = 0; i < this.count; i++) {
      const base = i * LAYER_INDEX_ENTRY_BYTES;
      const k = { spaceId: this.view.getUint32(base), pageNo: this.view.getUint32(base + 4) };
      if (!prev || compareKeys(prev, k) !== 0) yield k;
      prev = k;
    }
  }

  get rawBytes(): Uint8Array {
    return this.bytes;
  }
}

/** Check a value read from a layer against its index entry. */
export function verifyValue(value: Uint8Array, hit: IndexHit, what = 'layer'): Uint8Array {
  if (value.length !== hit.length || crc32c(value) !== hit.crc) throw new CorruptFrame(`${what}: value at offset ${hit.offset} fails its CRC`);
  return value;
}
