/**
 * A layer file on local disk, opened once. Its index stays on disk: a
 * 64 MiB delta layer of small records has an index of ~16 MiB, and a
 * timeline with hundreds of layers cannot hold them all in memory (Neon
 * keeps its delta layer indexes on disk for the same reason). What stays in
 * memory per layer is small:
 *
 * - a directory: the (key, LSN) of every BLOCK_ENTRIES-th index entry, to
 *   find the block holding any (key, LSN) with one binary search;
 * - the page range per tablespace, to skip a layer that cannot hold a key.
 *
 * Index blocks are read with positioned reads through one byte-bounded
 * cache shared by all readers. The whole index is read once at open to
 * check its CRC and that every entry points inside the values; values are
 * checked against their own CRC on every read.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CorruptFrame, redo } from '@strata/core';
import {
  type IndexHit,
  LAYER_HEADER_BYTES,
  LAYER_INDEX_ENTRY_BYTES,
  LAYER_VALUE_BYTES_MAX,
  LAYER_WILL_INIT_BIT,
  type LayerDesc,
  type PageKey,
  parseLayerHeader,
  verifyValue,
} from '@strata/core/layers';

/** Index entries per block: the unit of index reads and of the directory. */
export const INDEX_BLOCK_ENTRIES = 256;
const BLOCK_BYTES = INDEX_BLOCK_ENTRIES * LAYER_INDEX_ENTRY_BYTES;
/** The index is checked at open in pieces of this many blocks. */
const OPEN_SCAN_BLOCKS = 256;

/**
 * Index blocks recently read, least recently used out first, bounded in
 * bytes, shared by every reader of the process (`setIndexCacheBytes`).
 */
class IndexBlockCache {
  private readonly blocks = new Map<string, Uint8Array>();
  private bytes = 0;
  hits = 0;
  misses = 0;
  constructor(public capacityBytes: number) {}

  get(key: string): Uint8Array | undefined {
    const b = this.blocks.get(key);
    if (!b) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Re-insert: a Map iterates in insertion order, so the first key is the least recently used.
    this.blocks.delete(key);
    this.blocks.set(key, b);
    return b;
  }

  put(key: string, block: Uint8Array): void {
    this.blocks.set(key, block);
    this.bytes += block.length;
    while (this.bytes > this.capacityBytes && this.blocks.size > 1) {
      const [k, b] = this.blocks.entries().next().value as [string, Uint8Array];
      this.blocks.delete(k);
      this.bytes -= b.length;
    }
  }

  get sizeBytes(): number {
    return this.bytes;
  }
}

const DEFAULT_INDEX_CACHE_BYTES = 64 << 20;
const blockCache = new IndexBlockCache(DEFAULT_INDEX_CACHE_BYTES);

/** Bound the index block cache (the page server's `--index-cache-bytes`). */
export function setIndexCacheBytes(bytes: number): void {
  blockCache.capacityBytes = bytes;
}

export function indexCacheStats(): { bytes: number; capacityBytes: number; hits: number; misses: number } {
  return { bytes: blockCache.sizeBytes, capacityBytes: blockCache.capacityBytes, hits: blockCache.hits, misses: blockCache.misses };
}

let readerSeq = 0;

export interface IndexEntry {
  readonly key: PageKey;
  readonly hit: IndexHit;
}

export class LayerReader {
  private readonly id = ++readerSeq;

  private constructor(
    readonly path: string,
    readonly desc: LayerDesc,
    private handle: number,
    readonly sizeBytes: number,
    readonly entryCount: number,
    private readonly indexOffset: number,
    private readonly hasWillInit: boolean,
    /** (space, page, LSN) of entry i × INDEX_BLOCK_ENTRIES. */
    private readonly dirSpace: Uint32Array,
    private readonly dirPage: Uint32Array,
    private readonly dirLsn: BigUint64Array,
    /** Per tablespace the lowest and highest page the layer holds. */
    private readonly spaces: ReadonlyMap<number, { readonly min: number; readonly max: number }>,
  ) {}

  static open(path: string): LayerReader {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const head = new Uint8Array(LAYER_HEADER_BYTES);
      readSync(fd, head, 0, head.length, 0);
      const h = parseLayerHeader(head, path);
      if (h.indexOffset + h.indexLength !== size) throw new CorruptFrame(`${path}: file is ${size} bytes, the header says ${h.indexOffset + h.indexLength}`);
      const count = h.entryCount;
      const blocks = Math.ceil(count / INDEX_BLOCK_ENTRIES);
      const dirSpace = new Uint32Array(blocks);
      const dirPage = new Uint32Array(blocks);
      const dirLsn = new BigUint64Array(blocks);
      const spaces = new Map<number, { min: number; max: number }>();
      let crc = 0;
      const piece = new Uint8Array(Math.min(h.indexLength, OPEN_SCAN_BLOCKS * BLOCK_BYTES));
      for (let at = 0; at < h.indexLength; at += piece.length) {
        const n = Math.min(piece.length, h.indexLength - at);
        const got = readSync(fd, piece, 0, n, h.indexOffset + at);
        if (got !== n) throw new CorruptFrame(`${path}: index truncated`);
        crc = redo.crc32c(piece, 0, n, crc);
        const v = new DataView(piece.buffer, piece.byteOffset, n);
        const first = at / LAYER_INDEX_ENTRY_BYTES;
        let cur: { min: number; max: number } | undefined;
        let curSpace = -1;
        for (let o = 0; o < n; o += LAYER_INDEX_ENTRY_BYTES) {
          const i = first + o / LAYER_INDEX_ENTRY_BYTES;
          const space = v.getUint32(o);
          const page = v.getUint32(o + 4);
          const off = Number(v.getBigUint64(o + 16));
          const len = (v.getUint32(o + 24) & LAYER_VALUE_BYTES_MAX) >>> 0;
          if (off < LAYER_HEADER_BYTES || off + len > h.indexOffset) throw new CorruptFrame(`${path}: index entry ${i} points outside the values`);
          if (i % INDEX_BLOCK_ENTRIES === 0) {
            const b = i / INDEX_BLOCK_ENTRIES;
            dirSpace[b] = space;
            dirPage[b] = page;
            dirLsn[b] = v.getBigUint64(o + 8);
          }
          if (space !== curSpace) {
            curSpace = space;
            cur = spaces.get(space);
            if (!cur) spaces.set(space, (cur = { min: page, max: page }));
          }
          if (page < cur!.min) cur!.min = page;
          if (page > cur!.max) cur!.max = page;
        }
      }
      if (crc !== h.indexCrc) throw new CorruptFrame(`${path}: index CRC mismatch`);
      return new LayerReader(path, h.desc, fd, size, count, h.indexOffset, h.hasWillInit, dirSpace, dirPage, dirLsn, spaces);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** For positioned reads of values by the read path; -1 once closed. */
  get fd(): number {
    return this.handle;
  }

  /** Whether the layer may hold `key` (false: it surely does not). */
  mayHold(key: PageKey): boolean {
    const s = this.spaces.get(key.spaceId);
    return s !== undefined && key.pageNo >= s.min && key.pageNo <= s.max;
  }

  /** Whether the layer may hold any page of `spaceId` in [fromPage, toPage]. */
  mayHoldRange(spaceId: number, fromPage: number, toPage: number): boolean {
    const s = this.spaces.get(spaceId);
    return s !== undefined && toPage >= s.min && fromPage <= s.max;
  }

  /** The tablespaces the layer holds pages of. */
  spaceIds(): IterableIterator<number> {
    return this.spaces.keys();
  }

  private block(b: number): DataView {
    const key = `${this.id}:${b}`;
    let bytes = blockCache.get(key);
    if (!bytes) {
      const first = b * INDEX_BLOCK_ENTRIES;
      const n = Math.min(INDEX_BLOCK_ENTRIES, this.entryCount - first) * LAYER_INDEX_ENTRY_BYTES;
      bytes = new Uint8Array(n);
      const got = readSync(this.handle, bytes, 0, n, this.indexOffset + first * LAYER_INDEX_ENTRY_BYTES);
      if (got !== n) throw new CorruptFrame(`${this.path}: short index read of ${got} of ${n} bytes`);
      blockCache.put(key, bytes);
    }
    return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private hitIn(v: DataView, o: number): IndexHit {
    const raw = v.getUint32(o + 24);
    return {
      lsn: v.getBigUint64(o + 8),
      offset: Number(v.getBigUint64(o + 16)),
      length: (raw & LAYER_VALUE_BYTES_MAX) >>> 0,
      crc: v.getUint32(o + 28),
      willInit: this.hasWillInit && (raw & LAYER_WILL_INIT_BIT) !== 0,
    };
  }

  /** -1, 0 or 1 as (space, page, LSN) of directory entry b compares with (key, lsn). */
  private cmpDir(b: number, key: PageKey, lsn: bigint): number {
    const s = this.dirSpace[b]!;
    if (s !== key.spaceId) return s < key.spaceId ? -1 : 1;
    const p = this.dirPage[b]!;
    if (p !== key.pageNo) return p < key.pageNo ? -1 : 1;
    const l = this.dirLsn[b]!;
    return l < lsn ? -1 : l > lsn ? 1 : 0;
  }

  /**
   * What a reconstruction of `key` below `lsnTo` needs from this layer: its
   * entries with LSN in [lsnFrom, lsnTo), newest first, up to and including
   * the first will_init one (returns true: nothing older is needed). Reads
   * only the index blocks holding those entries.
   */
  chain(key: PageKey, lsnFrom: bigint, lsnTo: bigint, out: IndexHit[]): boolean {
    if (this.entryCount === 0 || !this.mayHold(key)) return false;
    // The last block starting below (key, lsnTo).
    let lo = 0;
    let hi = this.dirSpace.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cmpDir(mid, key, lsnTo) < 0) lo = mid + 1;
      else hi = mid;
    }
    let b = lo - 1;
    if (b < 0) return false;
    let v = this.block(b);
    // The last entry of the block below (key, lsnTo).
    let o = v.byteLength - LAYER_INDEX_ENTRY_BYTES;
    for (; o >= 0; o -= LAYER_INDEX_ENTRY_BYTES) {
      const s = v.getUint32(o);
      const p = v.getUint32(o + 4);
      if (s < key.spaceId || (s === key.spaceId && (p < key.pageNo || (p === key.pageNo && v.getBigUint64(o + 8) < lsnTo)))) break;
    }
    for (;;) {
      for (; o >= 0; o -= LAYER_INDEX_ENTRY_BYTES) {
        if (v.getUint32(o) !== key.spaceId || v.getUint32(o + 4) !== key.pageNo) return false;
        const hit = this.hitIn(v, o);
        if (hit.lsn < lsnFrom) return false;
        out.push(hit);
        if (hit.willInit) return true;
      }
      if (--b < 0) return false;
      v = this.block(b);
      o = v.byteLength - LAYER_INDEX_ENTRY_BYTES;
    }
  }

  /** Every index entry in file order, read block by block past the cache (compaction, GC summaries). */
  *indexEntries(): Generator<IndexEntry> {
    const blocks = this.dirSpace.length;
    const buf = new Uint8Array(BLOCK_BYTES);
    for (let b = 0; b < blocks; b++) {
      const first = b * INDEX_BLOCK_ENTRIES;
      const n = Math.min(INDEX_BLOCK_ENTRIES, this.entryCount - first) * LAYER_INDEX_ENTRY_BYTES;
      const got = readSync(this.handle, buf, 0, n, this.indexOffset + first * LAYER_INDEX_ENTRY_BYTES);
      if (got !== n) throw new CorruptFrame(`${this.path}: short index read of ${got} of ${n} bytes`);
      const v = new DataView(buf.buffer, 0, n);
      for (let o = 0; o < n; o += LAYER_INDEX_ENTRY_BYTES) yield { key: { spaceId: v.getUint32(o), pageNo: v.getUint32(o + 4) }, hit: this.hitIn(v, o) };
    }
  }

  /**
   * Every entry in file order with its value, checked against its CRC and
   * read in blocks of about `blockBytes` (compaction copies layers this way).
   * Values are views into a block that is not reused.
   */
  *entries(blockBytes = 1 << 20): Generator<{ key: PageKey; lsn: bigint; value: Uint8Array }> {
    let pending: IndexEntry[] = [];
    let start = 0;
    let end = 0;
    const flush = (): Array<{ key: PageKey; lsn: bigint; value: Uint8Array }> => {
      const block = new Uint8Array(end - start);
      const got = readSync(this.handle, block, 0, block.length, start);
      if (got !== block.length) throw new CorruptFrame(`${this.path}: short read of ${got} of ${block.length} bytes at offset ${start}`);
      const out = pending.map((e) => ({ key: e.key, lsn: e.hit.lsn, value: verifyValue(block.subarray(e.hit.offset - start, e.hit.offset - start + e.hit.length), e.hit, this.path) }));
      pending = [];
      return out;
    };
    for (const e of this.indexEntries()) {
      if (pending.length > 0 && (e.hit.offset !== end || e.hit.offset + e.hit.length - start > blockBytes)) yield* flush();
      if (pending.length === 0) start = e.hit.offset;
      pending.push(e);
      end = e.hit.offset + e.hit.length;
    }
    if (pending.length > 0) yield* flush();
  }

  close(): void {
    if (this.handle >= 0) closeSync(this.handle);
    this.handle = -1;
  }
}
