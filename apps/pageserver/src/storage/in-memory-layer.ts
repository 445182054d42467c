/**
 * The open layer of a timeline: WAL ingested since the last flush, held as
 * encoded page values per page until it is frozen into a delta layer file.
 *
 * Each page also counts the values stored since its last will_init one (an
 * image, or a change that starts with INIT_PAGE/FREE_PAGE): ingest writes a
 * page image into the layer when that chain gets long, so a page changed
 * hundreds of thousands of times is still rebuilt from a bounded number of
 * records.
 */
import { assert } from '@strata/core';
import { compareKeys, decodePageValue, encodePageValue, type LayerEntry, type PageKey, type PageValue, valueWillInit } from '@strata/core/layers';
import type { redo } from '@strata/core';

/**
 * Values are packed into 1 MiB slabs and described by parallel typed arrays
 * (LSN, slab, offset, length, the same page's previous value, will_init).
 * An open layer holds hundreds of thousands of values; as one object, one
 * Buffer view and one BigInt each, every one of them survived a young-
 * generation collection and was copied to the old one: scavenges of up to
 * 190 ms and 11% of the page server's CPU went to GC during a bulk load.
 * Stored this way a value is a few array slots, and the heap holds no object
 * per value.
 */
const SLAB_BYTES = 1 << 20;
/** Column bytes per value (8 LSN + 4 slab + 4 offset + 4 length + 4 previous + 1 flags), rounded up, counted in `sizeBytes`. */
const VALUE_OVERHEAD_BYTES = 32;
const NONE = -1;
const INITIAL_VALUES = 1024;
const INITIAL_PAGES = 256;

function grown<T extends Uint8Array | Uint32Array | Int32Array | BigUint64Array>(a: T, make: (n: number) => T): T {
  const b = make(a.length * 2);
  b.set(a as never);
  return b;
}

/**
 * Per tablespace, per page: how long the page's chain was (values and bytes
 * since its last will_init value) when the layer before was frozen. The next
 * open layer counts on from there (values from earlier layers at
 * `CARRIED_CHAIN_WEIGHT`), so a page changed a little in every layer still
 * gets its hot-page image once its chain, across layers, is long.
 */
export type CarriedChains = ReadonlyMap<number, ReadonlyMap<number, readonly [values: number, bytes: number]>>;

/**
 * What a value from an earlier layer counts for in the hot-page threshold.
 * At full weight every warm page (a random secondary-index insert touches
 * thousands) was imaged every 64 changes, which made a 2M-row bulk load 28%
 * slower; at a quarter, a chain across layers is cut at about 4 × 64 values,
 * still four times under compaction's bound.
 */
export const CARRIED_CHAIN_WEIGHT = 0.25;

export class InMemoryLayer {
  /** space → page → page slot. */
  private readonly slots = new Map<number, Map<number, number>>();
  /** Per slot: its newest value, and the values (and their bytes) since its last will_init one. */
  private slotLast: Int32Array = new Int32Array(INITIAL_PAGES);
  private slotChainValues: Uint32Array = new Uint32Array(INITIAL_PAGES);
  private slotChainBytes: Uint32Array = new Uint32Array(INITIAL_PAGES);
  /** Per slot: the part of its chain (values, bytes) carried from the layer before, until its next will_init value. */
  private slotCarriedValues: Uint32Array = new Uint32Array(INITIAL_PAGES);
  private slotCarriedBytes: Uint32Array = new Uint32Array(INITIAL_PAGES);
  private slotCount = 0;

  private valLsn: BigUint64Array = new BigUint64Array(INITIAL_VALUES);
  private valSlab: Uint32Array = new Uint32Array(INITIAL_VALUES);
  private valOffset: Uint32Array = new Uint32Array(INITIAL_VALUES);
  private valLength: Uint32Array = new Uint32Array(INITIAL_VALUES);
  private valPrev: Int32Array = new Int32Array(INITIAL_VALUES);
  private valWillInit: Uint8Array = new Uint8Array(INITIAL_VALUES);
  private entries = 0;

  private readonly slabs: Uint8Array[] = [];
  /** The slab small values go into (oversized values get slabs of their own). */
  private currentSlab = 0;
  private slabUsed = SLAB_BYTES;
  /** Where the last `alloc` put its bytes. */
  private allocSlab = 0;
  private allocOffset = 0;
  private readonly alloc = (n: number): Uint8Array => this.allocate(n);

  private bytes = 0;
  /** LSN after the last mtr put here. */
  endLsn: bigint;

  constructor(
    readonly startLsn: bigint,
    /** The chains of the layer before (only its keys: a page it did not change has gone one layer without, and compaction's images bound it). */
    private readonly carried?: CarriedChains,
  ) {
    this.endLsn = startLsn;
  }

  /** Each changed page's chain at the end of this layer, for the next one to continue from (`CarriedChains`). */
  chainsToCarry(): CarriedChains {
    const out = new Map<number, Map<number, readonly [number, number]>>();
    for (const [spaceId, pages] of this.slots) {
      let m: Map<number, readonly [number, number]> | undefined;
      for (const [pageNo, slot] of pages) {
        const values = this.slotChainValues[slot]!;
        if (values === 0) continue;
        if (!m) out.set(spaceId, (m = new Map()));
        m.set(pageNo, [values, this.slotChainBytes[slot]!]);
      }
    }
    return out;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  get entryCount(): number {
    return this.entries;
  }

  /** `n` bytes in a slab (a value bigger than a slab gets one of its own); the encoder writes every byte. */
  private allocate(n: number): Uint8Array {
    if (n > SLAB_BYTES) {
      this.slabs.push(new Uint8Array(n));
      this.allocSlab = this.slabs.length - 1;
      this.allocOffset = 0;
      return this.slabs[this.allocSlab]!;
    }
    if (this.slabUsed + n > SLAB_BYTES) {
      this.slabs.push(new Uint8Array(SLAB_BYTES));
      this.currentSlab = this.slabs.length - 1;
      this.slabUsed = 0;
    }
    this.allocSlab = this.currentSlab;
    this.allocOffset = this.slabUsed;
    this.slabUsed += n;
    return this.slabs[this.currentSlab]!.subarray(this.allocOffset, this.slabUsed);
  }

  private slotOf(key: PageKey, create: true): number;
  private slotOf(key: PageKey, create: false): number | undefined;
  private slotOf(key: PageKey, create: boolean): number | undefined {
    let space = this.slots.get(key.spaceId);
    if (!space) {
      if (!create) return undefined;
      this.slots.set(key.spaceId, (space = new Map()));
    }
    const slot = space.get(key.pageNo);
    if (slot !== undefined || !create) return slot;
    const s = this.slotCount++;
    if (s >= this.slotLast.length) {
      this.slotLast = grown(this.slotLast, (n) => new Int32Array(n));
      this.slotChainValues = grown(this.slotChainValues, (n) => new Uint32Array(n));
      this.slotChainBytes = grown(this.slotChainBytes, (n) => new Uint32Array(n));
      this.slotCarriedValues = grown(this.slotCarriedValues, (n) => new Uint32Array(n));
      this.slotCarriedBytes = grown(this.slotCarriedBytes, (n) => new Uint32Array(n));
    }
    this.slotLast[s] = NONE;
    const carried = this.carried?.get(key.spaceId)?.get(key.pageNo);
    this.slotChainValues[s] = this.slotCarriedValues[s] = carried ? carried[0] : 0;
    this.slotChainBytes[s] = this.slotCarriedBytes[s] = carried ? carried[1] : 0;
    space.set(key.pageNo, s);
    return s;
  }

  /** Record the value just encoded into `alloc`'s bytes. */
  private store(slot: number, lsn: bigint, value: Uint8Array): void {
    const last = this.slotLast[slot]!;
    assert(last === NONE || this.valLsn[last]! < lsn, 'values out of order');
    const v = this.entries;
    if (v >= this.valLsn.length) {
      this.valLsn = grown(this.valLsn, (n) => new BigUint64Array(n));
      this.valSlab = grown(this.valSlab, (n) => new Uint32Array(n));
      this.valOffset = grown(this.valOffset, (n) => new Uint32Array(n));
      this.valLength = grown(this.valLength, (n) => new Uint32Array(n));
      this.valPrev = grown(this.valPrev, (n) => new Int32Array(n));
      this.valWillInit = grown(this.valWillInit, (n) => new Uint8Array(n));
    }
    const willInit = valueWillInit(value);
    this.valLsn[v] = lsn;
    this.valSlab[v] = this.allocSlab;
    this.valOffset[v] = this.allocOffset;
    this.valLength[v] = value.length;
    this.valPrev[v] = last;
    this.valWillInit[v] = willInit ? 1 : 0;
    this.slotLast[slot] = v;
    if (willInit) {
      this.slotChainValues[slot] = 0;
      this.slotChainBytes[slot] = 0;
      this.slotCarriedValues[slot] = 0;
      this.slotCarriedBytes[slot] = 0;
    } else {
      this.slotChainValues[slot]!++;
      this.slotChainBytes[slot] = Math.min(0xffff_ffff, this.slotChainBytes[slot]! + value.length);
    }
    this.bytes += value.length + VALUE_OVERHEAD_BYTES;
    this.entries++;
  }

  private valueBytes(v: number): Uint8Array {
    const off = this.valOffset[v]!;
    return this.slabs[this.valSlab[v]!]!.subarray(off, off + this.valLength[v]!);
  }

  /**
   * Add one mtr's changes for one page. Returns the page's chain since its
   * last will_init value, values and bytes, those carried from earlier
   * layers counted at CARRIED_CHAIN_WEIGHT (what the hot-page threshold is
   * compared with).
   */
  put(key: PageKey, change: redo.PageChange): { values: number; bytes: number } {
    assert(change.startLsn >= this.startLsn, 'change below the layer start');
    const slot = this.slotOf(key, true);
    this.store(slot, change.startLsn, encodePageValue({ kind: 'delta', change }, this.alloc));
    const cv = this.slotCarriedValues[slot]!;
    const cb = this.slotCarriedBytes[slot]!;
    return { values: this.slotChainValues[slot]! - cv + cv * CARRIED_CHAIN_WEIGHT, bytes: this.slotChainBytes[slot]! - cb + cb * CARRIED_CHAIN_WEIGHT };
  }

  /**
   * Store the page as of `pageEndLsn` (the end LSN of the mtr that last
   * changed it) under LSN `pageEndLsn − 1`: a read at L takes the values
   * stored below L, and this image is right for every L ≥ `pageEndLsn`. No
   * change to the page can sit at that LSN (an mtr is longer than one byte).
   */
  putImage(key: PageKey, pageEndLsn: bigint, page: Uint8Array, pageLsn: bigint): void {
    assert(pageEndLsn - 1n >= this.startLsn, 'image below the layer start');
    this.store(this.slotOf(key, true), pageEndLsn - 1n, encodePageValue({ kind: 'image', lsn: pageLsn, page }, this.alloc));
  }

  advance(endLsn: bigint): void {
    assert(endLsn >= this.endLsn, 'in-memory layer going back');
    this.endLsn = endLsn;
  }

  read(key: PageKey, from: bigint, to: bigint): PageValue[] {
    const slot = this.slotOf(key, false);
    if (slot === undefined) return [];
    const out: PageValue[] = [];
    for (let v = this.slotLast[slot]!; v !== NONE; v = this.valPrev[v]!) {
      const lsn = this.valLsn[v]!;
      if (lsn < from) break;
      if (lsn < to) out.push(decodePageValue(this.valueBytes(v), key));
    }
    return out.reverse();
  }

  /**
   * The values a reconstruction of `key` below `to` needs from this layer,
   * newest first, down to `from` or the first will_init one; true when that
   * one was reached (nothing older is needed).
   */
  chain(key: PageKey, from: bigint, to: bigint, out: PageValue[]): boolean {
    const slot = this.slotOf(key, false);
    if (slot === undefined) return false;
    let v = this.slotLast[slot]!;
    while (v !== NONE && this.valLsn[v]! >= to) v = this.valPrev[v]!;
    for (; v !== NONE; v = this.valPrev[v]!) {
      if (this.valLsn[v]! < from) return false;
      out.push(decodePageValue(this.valueBytes(v), key));
      if (this.valWillInit[v] === 1) return true;
    }
    return false;
  }

  /** Every entry sorted by (key, LSN), ready for `encodeLayer`. */
  sortedEntries(): LayerEntry[] {
    const out: LayerEntry[] = [];
    for (const e of this.entriesInOrder()) out.push(e);
    return out;
  }

  /** The entries in (key, LSN) order, one at a time (a layer writer streams them). */
  *entriesInOrder(): Generator<LayerEntry> {
    const spaces = [...this.slots.keys()].sort((a, b) => a - b);
    let prev: PageKey | undefined;
    // One page's values, newest first as linked; reused across pages.
    let order = new Int32Array(64);
    for (const s of spaces) {
      const pages = this.slots.get(s)!;
      for (const p of [...pages.keys()].sort((a, b) => a - b)) {
        const key = { spaceId: s, pageNo: p };
        if (prev) assert(compareKeys(prev, key) < 0, 'unsorted');
        prev = key;
        let n = 0;
        for (let v = this.slotLast[pages.get(p)!]!; v !== NONE; v = this.valPrev[v]!) {
          if (n === order.length) order = grown(order, (m) => new Int32Array(m));
          order[n++] = v;
        }
        for (let i = n - 1; i >= 0; i--) {
          const v = order[i]!;
          yield { key, lsn: this.valLsn[v]!, value: this.valueBytes(v) };
        }
      }
    }
  }
}
