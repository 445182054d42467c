/**
 * The open layer of a timeline: WAL ingested since the last flush, held as
 * encoded page values per page until it is frozen into a delta layer file.
 */
import { assert } from '@strata/core';
import { compareKeys, decodePageValue, encodePageValue, type LayerEntry, type PageKey, type PageValue } from '@strata/core/layers';
import type { redo } from '@strata/core';

interface Stored {
  readonly lsn: bigint;
  readonly value: Uint8Array;
}

export class InMemoryLayer {
  /** space → page → values ascending by LSN. */
  private readonly pages = new Map<number, Map<number, Stored[]>>();
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

  /** Add one mtr's changes for one page. */
  put(key: PageKey, change: redo.PageChange): void {
    assert(change.startLsn >= this.startLsn, 'change below the layer start');
    let space = this.pages.get(key.spaceId);
    if (!space) this.pages.set(key.spaceId, (space = new Map()));
    let list = space.get(key.pageNo);
    if (!list) space.set(key.pageNo, (list = []));
    const last = list[list.length - 1];
    assert(!last || last.lsn < change.startLsn, 'changes out of order');
    const value = encodePageValue({ kind: 'delta', change });
    list.push({ lsn: change.startLsn, value });
    this.bytes += value.length + 48;
    this.entries++;
  }

  advance(endLsn: bigint): void {
    assert(endLsn >= this.endLsn, 'in-memory layer going back');
    this.endLsn = endLsn;
  }

  read(key: PageKey, from: bigint, to: bigint): PageValue[] {
    const list = this.pages.get(key.spaceId)?.get(key.pageNo);
    if (!list) return [];
    const out: PageValue[] = [];
    for (const s of list) if (s.lsn >= from && s.lsn < to) out.push(decodePageValue(s.value, key));
    return out;
  }

  /** Every entry sorted by (key, LSN), ready for `encodeLayer`. */
  sortedEntries(): LayerEntry[] {
    const out: LayerEntry[] = [];
    const spaces = [...this.pages.keys()].sort((a, b) => a - b);
    for (const s of spaces) {
      const pages = this.pages.get(s)!;
      for (const p of [...pages.keys()].sort((a, b) => a - b)) {
        const key = { spaceId: s, pageNo: p };
        for (const st of pages.get(p)!) out.push({ key, lsn: st.lsn, value: st.value });
      }
    }
    if (out.length > 1) assert(compareKeys(out[0]!.key, out[out.length - 1]!.key) <= 0, 'unsorted');
    return out;
  }
}
