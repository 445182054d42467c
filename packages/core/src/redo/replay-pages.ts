/**
 * The pages a log replay holds while it applies records to them
 * (log-replay.ts): each page is read on first use and kept until the least
 * recently used has to make room for another, or until a flush, the way the
 * buffer pool holds pages during crash recovery. Page 0 of every space is
 * pinned until the next flush: its flags decide how every other page of its
 * space is stamped, and in a replay split over threads it must not be written
 * (by partition 0) while another partition could read it half written.
 *
 * Buffers are recycled: first touches of fresh memory are page faults, and on
 * a VM those cost more than reading the page (~13 µs per 4 KiB where we
 * measured), so the cache stays small and its memory is reused.
 */
import { assert } from '../assert.js';
import type { Mtr } from './mtr.js';
import { PageReplay } from './replay.js';

/** Page buffers are allocated this many at a time: one 16 KiB typed array at a time costs far more to allocate. */
const PAGE_SLAB_PAGES = 64;
/** Below two pages in the recency list, every record would evict the page the previous one loaded. */
const CACHE_PAGES_MIN = 2;

/** A page image being replayed, from its first record since it was loaded until it is written back. */
export interface ReplayedPage<S> {
  readonly space: S;
  readonly pageNo: number;
  readonly replay: PageReplay;
  /** The mtr whose records are being applied, and whether the page takes them (false: it already holds that mtr). */
  mtr: Mtr | undefined;
  applying: boolean;
  /** Whether this replay writes it (page 0 is replayed by every partition, written by partition 0). */
  readonly owned: boolean;
  /** Recency list: toward the most recently used end, and away from it. */
  newer: ReplayedPage<S> | undefined;
  older: ReplayedPage<S> | undefined;
}

/**
 * Pages keyed by space and page number, with a recency list of every page but
 * the pinned page 0s. `S` is the caller's record of a tablespace.
 */
export class ReplayPages<S extends { readonly spaceId: number }> {
  /** space → page → image. */
  private readonly bySpace = new Map<number, Map<number, ReplayedPage<S>>>();
  /** Pages in the recency list (page 0s are not). */
  private count = 0;
  /** The page of the previous lookup: consecutive records of one page are the common case. */
  private last: ReplayedPage<S> | undefined;
  private mru: ReplayedPage<S> | undefined;
  private lru: ReplayedPage<S> | undefined;
  private readonly free: Uint8Array[] = [];
  /** Pages held besides the page 0s before the least recently used must go. */
  readonly pagesMax: number;

  constructor(
    private readonly pageSize: number,
    bytesMax: number,
  ) {
    assert(Number.isInteger(pageSize) && pageSize > 0, `page size ${pageSize}`);
    this.pagesMax = Math.max(CACHE_PAGES_MIN, Math.floor(bytesMax / pageSize));
  }

  /** The page if it is held, made the most recently used. */
  find(spaceId: number, pageNo: number): ReplayedPage<S> | undefined {
    const last = this.last;
    if (last !== undefined && last.pageNo === pageNo && last.space.spaceId === spaceId) return last;
    const page = this.bySpace.get(spaceId)?.get(pageNo);
    if (page !== undefined) {
      this.touch(page);
      this.last = page;
    }
    return page;
  }

  /** The page if it is held, its recency unchanged. */
  peek(spaceId: number, pageNo: number): ReplayedPage<S> | undefined {
    return this.bySpace.get(spaceId)?.get(pageNo);
  }

  /** Whether a page other than a page 0 has to make room (`evictable`) before another is added. */
  get full(): boolean {
    return this.count >= this.pagesMax;
  }

  /** A page-sized buffer for a page about to be added: a recycled one, or one of a new slab. */
  buffer(): Uint8Array {
    return this.free.pop() ?? this.allocate();
  }

  /** Holds `buf` (from `buffer()`) as page `pageNo` of `space`, the most recently used; a page 0 is pinned instead. */
  add(space: S, pageNo: number, buf: Uint8Array, owned: boolean): ReplayedPage<S> {
    assert(buf.length === this.pageSize, `page buffer of ${buf.length} bytes, page size ${this.pageSize}`);
    let pages = this.bySpace.get(space.spaceId);
    if (!pages) this.bySpace.set(space.spaceId, (pages = new Map()));
    assert(!pages.has(pageNo), `page ${space.spaceId}:${pageNo} is already held`);
    assert(pageNo === 0 || this.count < this.pagesMax, 'a page was added to a full cache');
    const page: ReplayedPage<S> = { space, pageNo, replay: new PageReplay(buf), mtr: undefined, applying: false, owned, newer: undefined, older: undefined };
    pages.set(pageNo, page);
    this.last = page;
    if (pageNo === 0) return page;
    page.older = this.mru;
    if (this.mru) this.mru.newer = page;
    else this.lru = page;
    this.mru = page;
    this.count++;
    return page;
  }

  /** The page to write back and `remove` when the cache is full. */
  evictable(): ReplayedPage<S> {
    const victim = this.lru;
    assert(victim !== undefined, 'nothing to evict');
    return victim;
  }

  /** Forgets a page of the recency list (written back by the caller) and recycles its buffer. */
  remove(page: ReplayedPage<S>): void {
    assert(page.pageNo !== 0, 'page 0 stays until the next drain');
    const pages = this.bySpace.get(page.space.spaceId);
    assert(pages?.get(page.pageNo) === page, `page ${page.space.spaceId}:${page.pageNo} is not held`);
    this.unlink(page);
    pages.delete(page.pageNo);
    this.count--;
    if (this.last === page) this.last = undefined;
    this.free.push(page.replay.page);
  }

  /**
   * Hands every page to `writeBack`, space by space and in page order (page 0
   * of a space first: it carries the flags the others are stamped by), then
   * forgets them all and recycles their buffers.
   */
  drain(writeBack: (page: ReplayedPage<S>) => void): void {
    for (const pages of this.bySpace.values()) {
      const order = [...pages.keys()].sort((a, b) => a - b);
      for (const pageNo of order) {
        const page = pages.get(pageNo)!;
        writeBack(page);
        this.free.push(page.replay.page);
      }
    }
    this.bySpace.clear();
    this.count = 0;
    this.last = this.mru = this.lru = undefined;
  }

  private touch(page: ReplayedPage<S>): void {
    if (page === this.mru || page.pageNo === 0) return;
    this.unlink(page);
    page.older = this.mru;
    page.newer = undefined;
    if (this.mru) this.mru.newer = page;
    this.mru = page;
    if (!this.lru) this.lru = page;
  }

  private unlink(page: ReplayedPage<S>): void {
    if (page.newer) page.newer.older = page.older;
    else this.mru = page.older;
    if (page.older) page.older.newer = page.newer;
    else this.lru = page.newer;
    page.newer = page.older = undefined;
  }

  private allocate(): Uint8Array {
    const slab = new Uint8Array(this.pageSize * PAGE_SLAB_PAGES);
    for (let i = PAGE_SLAB_PAGES - 1; i > 0; i--) this.free.push(slab.subarray(i * this.pageSize, (i + 1) * this.pageSize));
    return slab.subarray(0, this.pageSize);
  }
}
