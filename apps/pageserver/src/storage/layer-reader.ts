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
import { fstat, open, read } from 'node:fs';
import { promisify } from 'node:util';
import { CorruptFrame, redo } from '@strata/core';
import {
  type IndexHit,
  LAYER_HEADER_BYTES,
  LAYER_INDEX_ENTRY_BYTES,
  LAYER_VALUE_BYTES_MAX,
  LAYER_WILL_INIT_BIT,
  type LayerDesc,
  type LayerHeader,
  type PageKey,
  parseLayerHeader,
  verifyValue,
} from '@strata/core/layers';

/** Index entries per block: the unit of index reads and of the directory. */
export const INDEX_BLOCK_ENTRIES = 256;
const BLOCK_BYTES = INDEX_BLOCK_ENTRIES * LAYER_INDEX_ENTRY_BYTES;
/** The index is checked at open in pieces of this many blocks. */
const OPEN_SCAN_BLOCKS = 32;

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

/**
 * Index block reads that missed the cache, and the milliseconds they took,
 * since the process started: a read path takes the difference around a read
 * to tell time blocked on the disk from time spent computing.
 */
export const indexBlockReads = { count: 0, ms: 0 };

const DEFAULT_INDEX_CACHE_BYTES = 64 << 20;
const blockCache = new IndexBlockCache(DEFAULT_INDEX_CACHE_BYTES);

/** Bound the index block cache (the page server's `--index-cache-bytes`). */
export function setIndexCacheBytes(bytes: number): void {
  blockCache.capacityBytes = bytes;
}

export function indexCacheStats(): { bytes: number; capacityBytes: number; hits: number; misses: number } {
  return { bytes: blockCache.sizeBytes, capacityBytes: blockCache.capacityBytes, hits: blockCache.hits, misses: blockCache.misses };
}

const fdOpen = promisify(open);
const fdStat = promisify(fstat);
function fdRead(fd: number, buf: Uint8Array, off: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n))));
}

type ReaderParts = [
  desc: LayerDesc,
  handle: number,
  sizeBytes: number,
  entryCount: number,
  indexOffset: number,
  hasWillInit: boolean,
  dirSpace: Uint32Array,
  dirPage: Uint32Array,
  dirLsn: BigUint64Array,
  spaces: ReadonlyMap<number, { readonly min: number; readonly max: number }>,
];

/**
 * The one pass over a layer's index at open, fed piece by piece (by sync or
 * async reads): CRC, every entry inside the values, the block directory and
 * the page range per tablespace.
 */
class IndexScan {
  private readonly h: LayerHeader;
  private readonly dirSpace: Uint32Array;
  private readonly dirPage: Uint32Array;
  private readonly dirLsn: BigUint64Array;
  private readonly spaces = new Map<number, { min: number; max: number }>();
  private crc = 0;
  private at = 0;
  private readonly buf: Uint8Array;

  constructor(
    private readonly path: string,
    head: Uint8Array,
    private readonly size: number,
  ) {
    this.h = parseLayerHeader(head, path);
    if (this.h.indexOffset + this.h.indexLength !== size) throw new CorruptFrame(`${path}: file is ${size} bytes, the header says ${this.h.indexOffset + this.h.indexLength}`);
    const blocks = Math.ceil(this.h.entryCount / INDEX_BLOCK_ENTRIES);
    this.dirSpace = new Uint32Array(blocks);
    this.dirPage = new Uint32Array(blocks);
    this.dirLsn = new BigUint64Array(blocks);
    this.buf = new Uint8Array(Math.min(this.h.indexLength, OPEN_SCAN_BLOCKS * BLOCK_BYTES));
  }

  /** Where to read the next piece into, or undefined when the index is done. */
  nextPiece(): { buf: Uint8Array; length: number; position: number } | undefined {
    if (this.at >= this.h.indexLength) return undefined;
    return { buf: this.buf, length: Math.min(this.buf.length, this.h.indexLength - this.at), position: this.h.indexOffset + this.at };
  }

  consume(piece: Uint8Array, n: number): void {
    const h = this.h;
    this.crc = redo.crc32c(piece, 0, n, this.crc);
    const v = new DataView(piece.buffer, piece.byteOffset, n);
    const first = this.at / LAYER_INDEX_ENTRY_BYTES;
    let cur: { min: number; max: number } | undefined;
    let curSpace = -1;
    for (let o = 0; o < n; o += LAYER_INDEX_ENTRY_BYTES) {
      const i = first + o / LAYER_INDEX_ENTRY_BYTES;
      const space = v.getUint32(o);
      const page = v.getUint32(o + 4);
      const off = Number(v.getBigUint64(o + 16));
      const len = (v.getUint32(o + 24) & LAYER_VALUE_BYTES_MAX) >>> 0;
      if (off < LAYER_HEADER_BYTES || off + len > h.indexOffset) throw new CorruptFrame(`${this.path}: index entry ${i} points outside the values`);
      if (i % INDEX_BLOCK_ENTRIES === 0) {
        const b = i / INDEX_BLOCK_ENTRIES;
        this.dirSpace[b] = space;
        this.dirPage[b] = page;
        this.dirLsn[b] = v.getBigUint64(o + 8);
      }
      if (space !== curSpace) {
        curSpace = space;
        cur = this.spaces.get(space);
        if (!cur) this.spaces.set(space, (cur = { min: page, max: page }));
      }
      if (page < cur!.min) cur!.min = page;
      if (page > cur!.max) cur!.max = page;
    }
    this.at += n;
  }

  finish<T>(make: (...parts: ReaderParts) => T, handle: number): T {
    if (this.crc !== this.h.indexCrc) throw new CorruptFrame(`${this.path}: index CRC mismatch`);
    const h = this.h;
    return make(h.desc, handle, this.size, h.entryCount, h.indexOffset, h.hasWillInit, this.dirSpace, this.dirPage, this.dirLsn, this.spaces);
  }
}

let readerSeq = 0;

export interface IndexEntry {
  readonly key: PageKey;
  readonly hit: IndexHit;
}

export class LayerReader {
  private readonly id = ++readerSeq;

  constructor(
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

  /** Open a layer file, checking its whole index (synchronous: tests, tools, a read that cannot wait). */
  static open(path: string): LayerReader {
    const fd = openSync(path, 'r');
    try {
      const head = new Uint8Array(LAYER_HEADER_BYTES);
      readSync(fd, head, 0, head.length, 0);
      const scan = new IndexScan(path, head, fstatSync(fd).size);
      for (let piece = scan.nextPiece(); piece; piece = scan.nextPiece()) {
        const got = readSync(fd, piece.buf, 0, piece.length, piece.position);
        if (got !== piece.length) throw new CorruptFrame(`${path}: index truncated`);
        scan.consume(piece.buf, piece.length);
      }
      return scan.finish((...a) => new LayerReader(path, ...a), fd);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /**
   * The same with async reads, yielding between pieces: opening a layer reads
   * its whole index once (tens of MiB for a big delta), which must not stall
   * GetPage and ingest. Callers open layers this way before a synchronous read
   * pass needs them.
   */
  static async openAsync(path: string): Promise<LayerReader> {
    // Plain descriptors (not a FileHandle, which closes its fd when collected): the reader keeps this one.
    const fd = await fdOpen(path, 'r');
    try {
      const head = new Uint8Array(LAYER_HEADER_BYTES);
      await fdRead(fd, head, 0, head.length, 0);
      const scan = new IndexScan(path, head, (await fdStat(fd)).size);
      for (let piece = scan.nextPiece(); piece; piece = scan.nextPiece()) {
        const got = await fdRead(fd, piece.buf, 0, piece.length, piece.position);
        if (got !== piece.length) throw new CorruptFrame(`${path}: index truncated`);
        scan.consume(piece.buf, piece.length);
      }
      return scan.finish((...a) => new LayerReader(path, ...a), fd);
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
      const t0 = performance.now();
      const got = readSync(this.handle, bytes, 0, n, this.indexOffset + first * LAYER_INDEX_ENTRY_BYTES);
      indexBlockReads.count++;
      indexBlockReads.ms += performance.now() - t0;
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
