/**
 * The memory tier: reconstructed page versions, least recently used first
 * out, bounded by bytes (`--page-cache-bytes`).
 *
 * What a cached version may answer. Reconstructing page K at request LSN L
 * applies every change to K whose mtr starts below L and returns the page
 * with LSN P = the end LSN of the last change applied (or the stored image's
 * own LSN when none applied). mtrs do not overlap, so no change to K starts
 * in [P, L): the same bytes are the answer for every request LSN in [P, L].
 * That range needs nothing but the reconstruction's own result, so it is
 * what we cache: one entry per version, found by any request LSN inside it,
 * which gives hits across request LSNs (a compute asks at ever newer LSNs for
 * pages that have not changed).
 *
 * A version reconstructed at the timeline's last record LSN is also valid
 * beyond L until ingest changes K: such versions are "open" and the
 * timeline's page-change listener (called synchronously by ingest, before
 * the last record LSN moves) closes them at the changing mtr's start LSN.
 * Ingest runs on the same thread as reads and a reconstruction plus its
 * insert is synchronous, so nothing can slip between them.
 *
 * Things that do not change a page's bytes at an LSN (flushing the open
 * layer, compaction into image layers, eviction to remote storage) need no
 * invalidation. Reads below a GC horizon must be refused before the cache is
 * asked (the caller's job): the cache does not know the horizon.
 */
import { assert } from '@strata/core';

/** Bookkeeping per entry beyond the page bytes (objects, map slots): counted against the budget. */
export const PAGE_CACHE_ENTRY_OVERHEAD_BYTES = 192;
/** Versions of one page kept at most; older ones go first (a page rewritten often must not crowd out others). */
export const PAGE_CACHE_VERSIONS_PER_PAGE_MAX = 8;
/** `validTo` of a version that stays valid until ingest changes its page. */
const OPEN = -1n;

/** What the cache needs of a timeline: its last record LSN and news of ingested page changes. */
export interface CacheableTimeline {
  readonly lastRecordLsn: bigint;
  onPageChange(listener: (spaceId: number, pageNo: number, startLsn: bigint) => void): () => void;
}

export interface CachedPage {
  readonly page: Uint8Array;
  /** FIL_PAGE_LSN of the page. */
  readonly lsn: bigint;
}

class Entry implements CachedPage {
  /** LRU list: toward the most recently used end. */
  newer: Entry | null = null;
  older: Entry | null = null;
  /** The next (older) version of the same page. */
  sibling: Entry | null = null;
  constructor(
    readonly owner: OwnerState,
    readonly spaceId: number,
    readonly pageNo: number,
    readonly page: Uint8Array,
    readonly lsn: bigint,
    /** Highest request LSN this version answers, inclusive; OPEN: until ingest says otherwise. */
    public validTo: bigint,
    readonly bytes: number,
  ) {}
}

interface OwnerState {
  /** space → page → newest version (older ones through `sibling`). */
  readonly pages: Map<number, Map<number, Entry>>;
  readonly unsubscribe: () => void;
}

export interface PageCacheStats {
  readonly capacityBytes: number;
  readonly bytes: number;
  readonly entries: number;
  readonly hits: number;
  readonly misses: number;
  readonly inserts: number;
  readonly evictions: number;
  /** Open versions closed because ingest changed their page. */
  readonly closedByIngest: number;
  /** Versions used as the base of a newer reconstruction. */
  readonly bases: number;
}

export class PageCache {
  private readonly owners = new Map<CacheableTimeline, OwnerState>();
  /** Least recently used end; `mru` the other. */
  private lru: Entry | null = null;
  private mru: Entry | null = null;
  private bytesUsed = 0;
  private entryCount = 0;
  hits = 0;
  misses = 0;
  inserts = 0;
  evictions = 0;
  closedByIngest = 0;
  /** Versions handed out by `base` to rebuild a newer version from (the read path may still prefer a newer image). */
  bases = 0;

  constructor(readonly capacityBytes: number) {
    assert(Number.isSafeInteger(capacityBytes) && capacityBytes >= 0, `page cache capacity ${capacityBytes}`);
  }

  get enabled(): boolean {
    return this.capacityBytes > 0;
  }

  get bytes(): number {
    return this.bytesUsed;
  }

  get entries(): number {
    return this.entryCount;
  }

  stats(): PageCacheStats {
    return {
      capacityBytes: this.capacityBytes,
      bytes: this.bytesUsed,
      entries: this.entryCount,
      hits: this.hits,
      misses: this.misses,
      inserts: this.inserts,
      evictions: this.evictions,
      closedByIngest: this.closedByIngest,
      bases: this.bases,
    };
  }

  /** The version of a page that answers a request at `lsn` (≤ the timeline's last record LSN), counted as a hit or a miss. */
  get(t: CacheableTimeline, spaceId: number, pageNo: number, lsn: bigint): CachedPage | undefined {
    const e = this.find(t, spaceId, pageNo, lsn);
    if (e) {
      this.hits++;
      this.touch(e);
    } else this.misses++;
    return e;
  }

  /** Like `get` without counting or reordering: "would this be served from memory?" (to skip downloads). */
  has(t: CacheableTimeline, spaceId: number, pageNo: number, lsn: bigint): boolean {
    return this.find(t, spaceId, pageNo, lsn) !== undefined;
  }

  /**
   * The newest cached version of a page at or below `lsn`, to rebuild a
   * newer one from (read-path.ts `PageBase`) when `get` has none for `lsn`:
   * only the changes after it are then read and applied. Not counted as a
   * hit or a miss.
   */
  base(t: CacheableTimeline, spaceId: number, pageNo: number, lsn: bigint): CachedPage | undefined {
    if (this.entryCount === 0) return undefined;
    let best: Entry | undefined;
    let e = this.owners.get(t)?.pages.get(spaceId)?.get(pageNo) ?? null;
    for (let n = 0; e !== null; e = e.sibling, n++) {
      assert(n < PAGE_CACHE_VERSIONS_PER_PAGE_MAX, 'page cache version chain too long');
      if (e.lsn <= lsn && (!best || e.lsn > best.lsn)) best = e;
    }
    if (best) this.bases++;
    return best;
  }

  private find(t: CacheableTimeline, spaceId: number, pageNo: number, lsn: bigint): Entry | undefined {
    if (this.entryCount === 0) return undefined;
    let e = this.owners.get(t)?.pages.get(spaceId)?.get(pageNo) ?? null;
    for (let n = 0; e !== null; e = e.sibling, n++) {
      assert(n < PAGE_CACHE_VERSIONS_PER_PAGE_MAX, 'page cache version chain too long');
      if (e.lsn <= lsn && (e.validTo === OPEN || lsn <= e.validTo)) return e;
    }
    return undefined;
  }

  /**
   * Remember `page` (with FIL_PAGE_LSN `pageLsn`) as reconstructed for a
   * request at `requestLsn`. The cache keeps the array: the caller must not
   * change it afterwards.
   */
  put(t: CacheableTimeline, spaceId: number, pageNo: number, requestLsn: bigint, page: Uint8Array, pageLsn: bigint): void {
    if (!this.enabled) return;
    const last = t.lastRecordLsn;
    assert(requestLsn <= last, `page cache: request LSN ${requestLsn} beyond the last record LSN ${last}`);
    assert(pageLsn <= requestLsn, `page cache: page LSN ${pageLsn} above its request LSN ${requestLsn}`);
    const bytes = page.byteLength + PAGE_CACHE_ENTRY_OVERHEAD_BYTES;
    if (bytes > this.capacityBytes) return;
    // At the last record LSN nothing newer exists yet: valid until ingest changes the page.
    const validTo = requestLsn === last ? OPEN : requestLsn;
    const owner = this.ownerOf(t);
    let space = owner.pages.get(spaceId);
    if (!space) owner.pages.set(spaceId, (space = new Map()));
    const head = space.get(pageNo) ?? null;
    let versions = 0;
    let oldest: Entry | null = null;
    for (let e = head; e !== null; e = e.sibling) {
      if (e.lsn === pageLsn) {
        // The same version asked for at another LSN: widen its range instead of storing it twice.
        if (e.validTo !== OPEN && (validTo === OPEN || validTo > e.validTo)) e.validTo = validTo;
        this.touch(e);
        return;
      }
      versions++;
      oldest = e;
    }
    // Keep only the page's own bytes: a view into a larger buffer would hold all of it.
    const owned = page.byteOffset === 0 && page.buffer.byteLength === page.byteLength ? page : page.slice();
    const e = new Entry(owner, spaceId, pageNo, owned, pageLsn, validTo, bytes);
    e.sibling = head;
    space.set(pageNo, e);
    this.linkMru(e);
    this.bytesUsed += bytes;
    this.entryCount++;
    this.inserts++;
    if (versions >= PAGE_CACHE_VERSIONS_PER_PAGE_MAX && oldest) this.remove(oldest);
    while (this.bytesUsed > this.capacityBytes && this.lru) {
      this.remove(this.lru);
      this.evictions++;
    }
  }

  /** Forget a timeline (deleted): its entries and its ingest subscription. */
  dropTimeline(t: CacheableTimeline): void {
    const owner = this.owners.get(t);
    if (!owner) return;
    for (const space of owner.pages.values()) {
      for (const head of space.values()) {
        for (let e: Entry | null = head; e !== null; e = e.sibling) this.unlink(e);
      }
    }
    owner.unsubscribe();
    this.owners.delete(t);
  }

  /** Empty the cache (benchmarks, tests); the counters stay. */
  clear(): void {
    for (const t of [...this.owners.keys()]) this.dropTimeline(t);
    assert(this.bytesUsed === 0 && this.entryCount === 0, 'page cache accounting after clear');
  }

  private ownerOf(t: CacheableTimeline): OwnerState {
    let owner = this.owners.get(t);
    if (owner) return owner;
    const pages = new Map<number, Map<number, Entry>>();
    const unsubscribe = t.onPageChange((spaceId, pageNo, startLsn) => {
      for (let e = pages.get(spaceId)?.get(pageNo) ?? null; e !== null; e = e.sibling) {
        if (e.validTo !== OPEN) continue;
        // Requests up to the changing mtr's start do not see it; later ones must reconstruct.
        e.validTo = startLsn;
        this.closedByIngest++;
      }
    });
    owner = { pages, unsubscribe };
    this.owners.set(t, owner);
    return owner;
  }

  /** Take one version out of its page's chain and the LRU list. */
  private remove(e: Entry): void {
    const space = e.owner.pages.get(e.spaceId);
    const head = space?.get(e.pageNo);
    assert(space !== undefined && head !== undefined, 'page cache entry without its page');
    if (head === e) {
      if (e.sibling) space.set(e.pageNo, e.sibling);
      else {
        space.delete(e.pageNo);
        if (space.size === 0) e.owner.pages.delete(e.spaceId);
      }
    } else {
      let p = head;
      while (p.sibling !== e) {
        assert(p.sibling !== null, 'page cache entry not in its chain');
        p = p.sibling;
      }
      p.sibling = e.sibling;
    }
    e.sibling = null;
    this.unlink(e);
  }

  private unlink(e: Entry): void {
    if (e.older) e.older.newer = e.newer;
    else this.lru = e.newer;
    if (e.newer) e.newer.older = e.older;
    else this.mru = e.older;
    e.newer = e.older = null;
    this.bytesUsed -= e.bytes;
    this.entryCount--;
  }

  private linkMru(e: Entry): void {
    e.older = this.mru;
    e.newer = null;
    if (this.mru) this.mru.newer = e;
    this.mru = e;
    this.lru ??= e;
  }

  private touch(e: Entry): void {
    if (this.mru === e) return;
    // Detach without the accounting of unlink, then relink at the most recent end.
    if (e.older) e.older.newer = e.newer;
    else this.lru = e.newer;
    if (e.newer) e.newer.older = e.older;
    e.older = this.mru;
    e.newer = null;
    if (this.mru) this.mru.newer = e;
    this.mru = e;
  }
}
