import { describe, expect, it } from 'vitest';
import { AssertionError } from '../assert.js';
import { ReplayPages } from './replay-pages.js';

const PAGE_SIZE = 1024;
const SPACE = { spaceId: 5 };

/** A cache of `pagesMax` pages, with `pageNos` added in order. */
function cacheWith(pagesMax: number, ...pageNos: number[]): ReplayPages<typeof SPACE> {
  const pages = new ReplayPages<typeof SPACE>(PAGE_SIZE, pagesMax * PAGE_SIZE);
  for (const p of pageNos) pages.add(SPACE, p, pages.buffer(), true);
  return pages;
}

/** Evicts the least recently used page until there is room; returns the page numbers in eviction order. */
function evictAll(pages: ReplayPages<typeof SPACE>, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const victim = pages.evictable();
    out.push(victim.pageNo);
    pages.remove(victim);
  }
  return out;
}

describe('the pages a replay holds (ReplayPages)', () => {
  it('evicts the least recently used page first; a lookup makes a page the most recently used', () => {
    const pages = cacheWith(4, 1, 2, 3, 4);
    expect(pages.full).toBe(true);
    pages.find(5, 1);
    pages.find(5, 3);
    expect(evictAll(pages, 4)).toEqual([2, 4, 1, 3]);
    expect(pages.full).toBe(false);
  });

  it('consecutive lookups of one page take the shortcut without reordering anything', () => {
    const pages = cacheWith(3, 1, 2, 3);
    pages.find(5, 1);
    // The shortcut answers the same page again; 1 stays the most recently used.
    expect(pages.find(5, 1)?.pageNo).toBe(1);
    expect(evictAll(pages, 3)).toEqual([2, 3, 1]);
  });

  it('page 0 is pinned: not counted toward the limit, never offered for eviction, released only by a drain', () => {
    const pages = cacheWith(2, 0, 1, 2);
    expect(pages.full).toBe(true);
    pages.find(5, 0);
    expect(evictAll(pages, 2)).toEqual([1, 2]);
    expect(() => pages.evictable()).toThrow(AssertionError);
    expect(pages.peek(5, 0)?.pageNo).toBe(0);
    const drained: number[] = [];
    pages.drain((p) => drained.push(p.pageNo));
    expect(drained).toEqual([0]);
    expect(pages.peek(5, 0)).toBeUndefined();
  });

  it('drains space by space in page order, whatever the order of use', () => {
    const pages = new ReplayPages<{ spaceId: number }>(PAGE_SIZE, 8 * PAGE_SIZE);
    for (const [spaceId, pageNo] of [[7, 3], [5, 2], [7, 0], [5, 1], [7, 1]] as const) pages.add({ spaceId }, pageNo, pages.buffer(), true);
    const drained: string[] = [];
    pages.drain((p) => drained.push(`${p.space.spaceId}:${p.pageNo}`));
    expect(drained).toEqual(['7:0', '7:1', '7:3', '5:1', '5:2']);
    expect(pages.find(7, 3)).toBeUndefined();
    expect(pages.full).toBe(false);
  });

  it('recycles the buffers of evicted and drained pages instead of allocating', () => {
    const pages = cacheWith(2, 1, 2);
    const victim = pages.evictable();
    const buf = victim.replay.page;
    pages.remove(victim);
    expect(pages.buffer()).toBe(buf);
    const held = pages.peek(5, 2)!.replay.page;
    pages.drain(() => undefined);
    expect(pages.buffer()).toBe(held);
  });

  it('buffers come from slabs of page-sized views', () => {
    const pages = new ReplayPages<typeof SPACE>(PAGE_SIZE, 4 * PAGE_SIZE);
    const a = pages.buffer();
    const b = pages.buffer();
    expect(a.length).toBe(PAGE_SIZE);
    expect(b.buffer).toBe(a.buffer);
    expect(b.byteOffset).toBe(a.byteOffset + PAGE_SIZE);
  });

  it('refuses to hold a page twice or to grow past its limit (bugs in the driver)', () => {
    const pages = cacheWith(2, 1, 2);
    expect(() => pages.add(SPACE, 3, pages.buffer(), true)).toThrow(AssertionError);
    expect(() => pages.add(SPACE, 0, pages.buffer(), true)).not.toThrow();
    expect(() => pages.add(SPACE, 0, pages.buffer(), true)).toThrow(AssertionError);
  });
});
