import { describe, expect, it } from 'vitest';
import { writeU32, writeU64, redo } from '@strata/core';
import { LocalFileCache } from './lfc.js';

const PAGE = 1024;
function page(fill: number, lsn = 0n, spaceId = 0): Uint8Array {
  const p = new Uint8Array(PAGE).fill(fill);
  writeU64(p, redo.FIL_PAGE_LSN, lsn);
  writeU32(p, redo.FIL_PAGE_SPACE_ID, spaceId);
  return p;
}

describe('LocalFileCache', () => {
  it('keeps the budget by evicting the least recently used page', () => {
    const c = new LocalFileCache(PAGE, 16 * PAGE);
    for (let k = 0; k < 20; k++) c.putFetched(k, page(1));
    expect(c.stats().bytes).toBeLessThanOrEqual(16 * PAGE);
    expect(c.has(0)).toBe(false);
    expect(c.has(19)).toBe(true);
    // A hit refreshes: 4 is kept, 5 goes next.
    c.get(4);
    c.putFetched(100, page(1));
    expect(c.has(4)).toBe(true);
    expect(c.has(5)).toBe(false);
  });
  it('an evicted written page is fetched again at its own FIL_PAGE_LSN', () => {
    const c = new LocalFileCache(PAGE, 16 * PAGE);
    c.putWritten(7, page(2, 12345n, 9));
    for (let k = 100; k < 120; k++) c.putFetched(k, page(1));
    expect(c.has(7)).toBe(false);
    expect(c.refetchOf(7)).toEqual({ spaceId: 9, lsn: 12345n });
    // Fetched again, then evicted again: it still comes back at its LSN, not at the start LSN.
    c.putFetched(7, page(2, 12345n, 9));
    expect(c.has(7)).toBe(true);
    expect(c.refetchOf(7)).toEqual({ spaceId: 9, lsn: 12345n });
    for (let k = 200; k < 220; k++) c.putFetched(k, page(1));
    expect(c.has(7)).toBe(false);
    expect(c.refetchOf(7)).toEqual({ spaceId: 9, lsn: 12345n });
    // Written again: the newer version is the one to come back.
    c.putWritten(7, page(3, 22222n, 9));
    expect(c.refetchOf(7)).toBeUndefined();
    for (let k = 300; k < 320; k++) c.putFetched(k, page(1));
    expect(c.refetchOf(7)).toEqual({ spaceId: 9, lsn: 22222n });
  });
  it('a written page without an LSN stays pinned; zero pages cost nothing and stay', () => {
    const c = new LocalFileCache(PAGE, 16 * PAGE);
    c.putWritten(1, page(3, 0n));
    c.putWritten(2, new Uint8Array(PAGE));
    for (let k = 100; k < 140; k++) c.putFetched(k, page(1));
    expect(c.has(1)).toBe(true);
    expect(c.get(2)).toEqual({ data: undefined, written: true });
    expect(c.stats().pinnedPages).toBe(1);
  });
  it('a fetch never replaces a written page', () => {
    const c = new LocalFileCache(PAGE, 16 * PAGE);
    c.putWritten(1, page(5, 10n));
    c.putFetched(1, page(6, 5n));
    expect(c.get(1)?.data?.[100]).toBe(5);
  });
  it('dropRange forgets pages and refetch notes', () => {
    const c = new LocalFileCache(PAGE, 16 * PAGE);
    c.putWritten(5, page(2, 99n));
    for (let k = 100; k < 120; k++) c.putFetched(k, page(1));
    c.putFetched(3, page(1));
    c.dropRange(0, 10);
    expect(c.has(3)).toBe(false);
    expect(c.refetchOf(5)).toBeUndefined();
  });
});
