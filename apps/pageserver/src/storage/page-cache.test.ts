import { describe, expect, it } from 'vitest';
import { type CacheableTimeline, PAGE_CACHE_ENTRY_OVERHEAD_BYTES, PAGE_CACHE_VERSIONS_PER_PAGE_MAX, PageCache } from './page-cache.js';

const PAGE = 1024;
const ENTRY = PAGE + PAGE_CACHE_ENTRY_OVERHEAD_BYTES;

/** A timeline as the cache sees it: a last record LSN and page-change notifications, driven by the test. */
class FakeTimeline implements CacheableTimeline {
  lastRecordLsn: bigint;
  private listeners: ((s: number, p: number, lsn: bigint) => void)[] = [];
  constructor(lsn: bigint) {
    this.lastRecordLsn = lsn;
  }
  onPageChange(l: (s: number, p: number, lsn: bigint) => void): () => void {
    this.listeners.push(l);
    return () => {
      this.listeners = this.listeners.filter((x) => x !== l);
    };
  }
  /** Ingest one mtr [start, end) changing `pages`. */
  ingest(start: bigint, end: bigint, pages: number[]): void {
    for (const p of pages) for (const l of this.listeners) l(1, p, start);
    this.lastRecordLsn = end;
  }
  get subscribers(): number {
    return this.listeners.length;
  }
}

const page = (fill: number) => new Uint8Array(PAGE).fill(fill);

describe('memory page cache', () => {
  it('counts hits and misses and answers any request LSN inside a version range [page LSN, request LSN]', () => {
    const t = new FakeTimeline(1000n);
    const c = new PageCache(1 << 20);
    expect(c.get(t, 1, 7, 900n)).toBeUndefined();
    c.put(t, 1, 7, 900n, page(1), 500n);
    expect(c.get(t, 1, 7, 900n)?.lsn).toBe(500n);
    expect(c.get(t, 1, 7, 500n)?.page[0]).toBe(1);
    expect(c.get(t, 1, 7, 700n)?.lsn).toBe(500n);
    // Below the page's own LSN is an older version; above the request LSN a change may exist (900 < last record 1000).
    expect(c.get(t, 1, 7, 499n)).toBeUndefined();
    expect(c.get(t, 1, 7, 901n)).toBeUndefined();
    expect(c.get(t, 1, 8, 900n)).toBeUndefined();
    expect(c.stats()).toMatchObject({ hits: 3, misses: 4, entries: 1, bytes: ENTRY, inserts: 1 });
  });

  it('the same version asked at a later LSN widens its range instead of storing it twice', () => {
    const t = new FakeTimeline(1000n);
    const c = new PageCache(1 << 20);
    c.put(t, 1, 7, 600n, page(1), 500n);
    c.put(t, 1, 7, 800n, page(1), 500n);
    expect(c.entries).toBe(1);
    expect(c.get(t, 1, 7, 800n)?.lsn).toBe(500n);
  });

  it('a version read at the last record LSN serves later LSNs until ingest changes its page', () => {
    const t = new FakeTimeline(1000n);
    const c = new PageCache(1 << 20);
    c.put(t, 1, 7, 1000n, page(1), 500n);
    t.ingest(1000n, 1100n, [9]); // another page
    expect(c.get(t, 1, 7, 1100n)?.lsn).toBe(500n);
    t.ingest(1100n, 1200n, [7]);
    // The change starts at 1100: requests up to 1100 do not see it, 1200 does.
    expect(c.get(t, 1, 7, 1100n)?.lsn).toBe(500n);
    expect(c.get(t, 1, 7, 1200n)).toBeUndefined();
    expect(c.closedByIngest).toBe(1);
    // The new version coexists with the old one; each answers its own range.
    c.put(t, 1, 7, 1200n, page(2), 1200n);
    expect(c.get(t, 1, 7, 1200n)?.page[0]).toBe(2);
    expect(c.get(t, 1, 7, 1000n)?.page[0]).toBe(1);
  });

  it('a cached page at L is never served for a later L\u2032 once its key changed, even when cached below the last record LSN', () => {
    const t = new FakeTimeline(2000n);
    const c = new PageCache(1 << 20);
    c.put(t, 1, 7, 1500n, page(1), 1000n);
    t.ingest(2000n, 2100n, [7]);
    for (const l of [1501n, 1999n, 2000n, 2100n]) expect(c.get(t, 1, 7, l)).toBeUndefined();
  });

  it('evicts least recently used versions to stay within its byte budget', () => {
    const t = new FakeTimeline(1000n);
    const c = new PageCache(3 * ENTRY);
    for (let p = 0; p < 3; p++) c.put(t, 1, p, 1000n, page(p), 10n);
    expect(c.get(t, 1, 0, 1000n)).toBeDefined(); // page 0 is now the most recent
    c.put(t, 1, 3, 1000n, page(3), 10n);
    expect(c.stats()).toMatchObject({ entries: 3, bytes: 3 * ENTRY, evictions: 1 });
    expect(c.has(t, 1, 1, 1000n)).toBe(false);
    expect(c.has(t, 1, 0, 1000n)).toBe(true);
    expect(c.has(t, 1, 2, 1000n)).toBe(true);
    expect(c.has(t, 1, 3, 1000n)).toBe(true);
    for (let p = 10; p < 20; p++) c.put(t, 1, p, 1000n, page(p), 10n);
    expect(c.bytes).toBeLessThanOrEqual(3 * ENTRY);
    expect(c.evictions).toBe(11);
  });

  it('keeps a bounded number of versions per page, dropping the oldest', () => {
    const t = new FakeTimeline(10_000n);
    const c = new PageCache(1 << 24);
    for (let i = 1; i <= PAGE_CACHE_VERSIONS_PER_PAGE_MAX + 2; i++) c.put(t, 1, 7, BigInt(i * 100 + 50), page(i), BigInt(i * 100));
    expect(c.entries).toBe(PAGE_CACHE_VERSIONS_PER_PAGE_MAX);
    expect(c.has(t, 1, 7, 150n)).toBe(false);
    expect(c.get(t, 1, 7, BigInt((PAGE_CACHE_VERSIONS_PER_PAGE_MAX + 2) * 100 + 10))?.page[0]).toBe(PAGE_CACHE_VERSIONS_PER_PAGE_MAX + 2);
  });

  it('off at 0 bytes; pages larger than the budget are not kept', () => {
    const t = new FakeTimeline(1000n);
    const off = new PageCache(0);
    off.put(t, 1, 7, 1000n, page(1), 10n);
    expect(off.entries).toBe(0);
    const tiny = new PageCache(PAGE);
    tiny.put(t, 1, 7, 1000n, page(1), 10n);
    expect(tiny.entries).toBe(0);
  });

  it('keeps only the page bytes of a view into a larger buffer', () => {
    const t = new FakeTimeline(1000n);
    const c = new PageCache(1 << 20);
    const big = new Uint8Array(4 * PAGE).fill(3);
    c.put(t, 1, 7, 1000n, big.subarray(PAGE, 2 * PAGE), 10n);
    const got = c.get(t, 1, 7, 1000n);
    expect(got?.page.buffer.byteLength).toBe(PAGE);
  });

  it('separates timelines and forgets a dropped one with its subscription', () => {
    const a = new FakeTimeline(1000n);
    const b = new FakeTimeline(1000n);
    const c = new PageCache(1 << 20);
    c.put(a, 1, 7, 1000n, page(1), 10n);
    expect(c.get(b, 1, 7, 1000n)).toBeUndefined();
    c.put(b, 1, 7, 1000n, page(2), 20n);
    expect(a.subscribers).toBe(1);
    c.dropTimeline(a);
    expect(a.subscribers).toBe(0);
    expect(c.entries).toBe(1);
    expect(c.get(b, 1, 7, 1000n)?.page[0]).toBe(2);
    c.clear();
    expect(c.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });

  it('refuses a page LSN above its request LSN or a request beyond the last record LSN (bugs)', () => {
    const t = new FakeTimeline(1000n);
    const c = new PageCache(1 << 20);
    expect(() => c.put(t, 1, 7, 100n, page(1), 200n)).toThrow(/page LSN/);
    expect(() => c.put(t, 1, 7, 1001n, page(1), 200n)).toThrow(/beyond the last record/);
  });
});
