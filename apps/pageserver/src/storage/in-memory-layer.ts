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

interface Stored {
  readonly lsn: bigint;
  readonly value: Uint8Array;
  readonly willInit: boolean;
}

interface PageValues {
  readonly list: Stored[];
  /** Values since the last will_init one, and their bytes. */
  chainValues: number;
  chainBytes: number;
}

/**
 * Small values come from Node's shared 8 KiB pool slabs (`Buffer.allocUnsafe`;
 * every byte is written by the encoder): an open layer holds millions of them,
 * and one backing store each made the heap slow to collect (GC pauses of tens
 * of milliseconds showed up as GetPage outliers).
 */
const pooled = (n: number): Uint8Array => Buffer.allocUnsafe(n);

/** Bookkeeping per stored value beyond its bytes, counted in `sizeBytes`. */
const VALUE_OVERHEAD_BYTES = 48;

export class InMemoryLayer {
  /** space → page → values ascending by LSN. */
  private readonly pages = new Map<number, Map<number, PageValues>>();
  private bytes = 0;
  private entries = 0;
  /** LSN after the last mtr put here. */
  endLsn: bigint;

  constructor(readonly startLsn: bigint) {
    this.endLsn = startLsn;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  get entryCount(): number {
    return this.entries;
  }

  private values(key: PageKey): PageValues {
    let space = this.pages.get(key.spaceId);
    if (!space) this.pages.set(key.spaceId, (space = new Map()));
    let pv = space.get(key.pageNo);
    if (!pv) space.set(key.pageNo, (pv = { list: [], chainValues: 0, chainBytes: 0 }));
    return pv;
  }

  private store(pv: PageValues, lsn: bigint, value: Uint8Array): void {
    const last = pv.list[pv.list.length - 1];
    assert(!last || last.lsn < lsn, 'values out of order');
    const willInit = valueWillInit(value);
    pv.list.push({ lsn, value, willInit });
    if (willInit) {
      pv.chainValues = 0;
      pv.chainBytes = 0;
    } else {
      pv.chainValues++;
      pv.chainBytes += value.length;
    }
    this.bytes += value.length + VALUE_OVERHEAD_BYTES;
    this.entries++;
  }

  /** Add one mtr's changes for one page. Returns the page's chain since its last will_init value: values, bytes. */
  put(key: PageKey, change: redo.PageChange): { values: number; bytes: number } {
    assert(change.startLsn >= this.startLsn, 'change below the layer start');
    const pv = this.values(key);
    this.store(pv, change.startLsn, encodePageValue({ kind: 'delta', change }, pooled));
    return { values: pv.chainValues, bytes: pv.chainBytes };
  }

  /**
   * Store the page as of `pageEndLsn` (the end LSN of the mtr that last
   * changed it) under LSN `pageEndLsn − 1`: a read at L takes the values
   * stored below L, and this image is right for every L ≥ `pageEndLsn`. No
   * change to the page can sit at that LSN (an mtr is longer than one byte).
   */
  putImage(key: PageKey, pageEndLsn: bigint, page: Uint8Array, pageLsn: bigint): void {
    assert(pageEndLsn - 1n >= this.startLsn, 'image below the layer start');
    this.store(this.values(key), pageEndLsn - 1n, encodePageValue({ kind: 'image', lsn: pageLsn, page }));
  }

  advance(endLsn: bigint): void {
    assert(endLsn >= this.endLsn, 'in-memory layer going back');
    this.endLsn = endLsn;
  }

  read(key: PageKey, from: bigint, to: bigint): PageValue[] {
    const list = this.pages.get(key.spaceId)?.get(key.pageNo)?.list;
    if (!list) return [];
    const out: PageValue[] = [];
    for (const s of list) if (s.lsn >= from && s.lsn < to) out.push(decodePageValue(s.value, key));
    return out;
  }

  /**
   * The values a reconstruction of `key` below `to` needs from this layer,
   * newest first, down to `from` or the first will_init one; true when that
   * one was reached (nothing older is needed).
   */
  chain(key: PageKey, from: bigint, to: bigint, out: PageValue[]): boolean {
    const list = this.pages.get(key.spaceId)?.get(key.pageNo)?.list;
    if (!list) return false;
    let i = list.length - 1;
    while (i >= 0 && list[i]!.lsn >= to) i--;
    for (; i >= 0; i--) {
      const s = list[i]!;
      if (s.lsn < from) return false;
      out.push(decodePageValue(s.value, key));
      if (s.willInit) return true;
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
    const spaces = [...this.pages.keys()].sort((a, b) => a - b);
    let prev: PageKey | undefined;
    for (const s of spaces) {
      const pages = this.pages.get(s)!;
      for (const p of [...pages.keys()].sort((a, b) => a - b)) {
        const key = { spaceId: s, pageNo: p };
        if (prev) assert(compareKeys(prev, key) < 0, 'unsorted');
        prev = key;
        for (const st of pages.get(p)!.list) yield { key, lsn: st.lsn, value: st.value };
      }
    }
  }
}
