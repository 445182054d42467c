import { describe, expect, it } from 'vitest';
import { EXTENT_PAGES, fileKind, pageKey, pagesOfRange, prefetchEnd, relPath } from './layout.js';

describe('fileKind', () => {
  it('tells the log, tablespaces, aux and local files apart', () => {
    expect(fileKind('ib_logfile0')).toBe('log');
    expect(fileKind('ibdata1')).toBe('tablespace');
    expect(fileKind('undo001')).toBe('tablespace');
    expect(fileKind('db/t.ibd')).toBe('tablespace');
    expect(fileKind('db/#sql-alter-1-2.ibd')).toBe('tablespace');
    expect(fileKind('db/t.frm')).toBe('aux');
    expect(fileKind('db/db.opt')).toBe('aux');
    expect(fileKind('mysql/user.MAI')).toBe('aux');
    expect(fileKind('ibtmp1')).toBe('local');
    expect(fileKind('ib_buffer_pool')).toBe('local');
  });
  it('relPath strips the slashes FUSE adds', () => {
    expect(relPath('/')).toBe('');
    expect(relPath('/db/t.ibd')).toBe('db/t.ibd');
  });
});

describe('page arithmetic', () => {
  it('pagesOfRange covers partial pages at both ends', () => {
    expect(pagesOfRange(0, 16384, 16384)).toEqual({ first: 0, end: 1 });
    expect(pagesOfRange(16383, 2, 16384)).toEqual({ first: 0, end: 2 });
    expect(pagesOfRange(4096 * 5, 1, 16384)).toEqual({ first: 1, end: 2 });
    expect(pagesOfRange(32768, 0, 16384)).toEqual({ first: 2, end: 2 });
  });
  it('a lone random read fetches only its page', () => {
    expect(prefetchEnd(10, 11, undefined, 1000)).toBe(11);
    expect(prefetchEnd(10, 11, 3, 1000)).toBe(11);
  });
  it('a scan fetches the rest of the extent, never past the size', () => {
    expect(prefetchEnd(10, 11, 9, 1000)).toBe(EXTENT_PAGES);
    expect(prefetchEnd(64, 70, undefined, 1000)).toBe(128);
    expect(prefetchEnd(10, 12, undefined, 40)).toBe(40);
    // Beyond the start size nothing is on the page server: only the pages read.
    expect(prefetchEnd(50, 52, undefined, 40)).toBe(52);
  });
  it('page keys of different nodes never collide', () => {
    expect(pageKey(1, 0xffff_ffff)).toBeLessThan(pageKey(2, 0));
    expect(Number.isSafeInteger(pageKey((1 << 21) - 1, 0xffff_ffff))).toBe(true);
  });
});
