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
const WILL_INIT_BIT = 0x8000_0000;
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

/** Build a whole layer file from entries already sorted by (key, LSN). */
export function encodeLayer(desc: LayerDesc, entries: readonly LayerEntry[]): Uint8Array {
  assert(desc.lsnEnd > desc.lsnStart, 'empty LSN range');
  let valuesBytes = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    valuesBytes += e.value.length;
    assert(e.value.length <= LAYER_VALUE_BYTES_MAX, 'value too big for a layer');
    assert(compareKeys(e.key, desc.keyStart) >= 0 && compareKeys(e.key, desc.keyEnd) < 0, `key ${keyString(e.key)} outside the layer`);
    assert(e.lsn >= desc.lsnStart && e.lsn < desc.lsnEnd, `LSN ${e.lsn} outside the layer`);
    if (i > 0) {
      const p = entries[i - 1]!;
      const c = compareKeys(p.key, e.key);
      assert(c < 0 || (c === 0 && p.lsn < e.lsn), 'entries not sorted by (key, LSN)');
    }
  }
  const indexOffset = LAYER_HEADER_BYTES + valuesBytes;
  const indexLength = entries.length * LAYER_INDEX_ENTRY_BYTES;
  const out = new Uint8Array(indexOffset + indexLength);
  let off = LAYER_HEADER_BYTES;
  let ip = indexOffset;
  for (const e of entries) {
    out.set(e.value, off);
    writeU32(out, ip, e.key.spaceId);
    writeU32(out, ip + 4, e.key.pageNo);
    writeU64(out, ip + 8, e.lsn);
    writeU64(out, ip + 16, BigInt(off));
    writeU32(out, ip + 24, (e.value.length | (valueWillInit(e.value) ? WILL_INIT_BIT : 0)) >>> 0);
    writeU32(out, ip + 28, crc32c(e.value));
    off += e.value.length;
    ip += LAYER_INDEX_ENTRY_BYTES;
  }
  out.set(MAGIC, 0);
  writeU32(out, 8, VERSION);
  out[12] = desc.kind === 'delta' ? 1 : 2;
  writeU32(out, 16, desc.keyStart.spaceId);
  writeU32(out, 20, desc.keyStart.pageNo);
  writeU32(out, 24, desc.keyEnd.spaceId);
  writeU32(out, 28, desc.keyEnd.pageNo);
  writeU64(out, 32, desc.lsnStart);
  writeU64(out, 40, desc.lsnEnd);
  writeU32(out, 48, entries.length);
  writeU64(out, 52, BigInt(indexOffset));
  writeU64(out, 60, BigInt(indexLength));
  writeU32(out, 68, crc32c(out, indexOffset, indexOffset + indexLength));
  writeU32(out, 124, crc32c(out, 0, 124));
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
      willInit: this.hasWillInit && (raw & WILL_INIT_BIT) !== 0,
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
