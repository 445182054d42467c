/**
 * The datadir filesystem's operations called directly (no mount): pages on
 * demand from a fake page server, read-ahead on scans, written pages kept,
 * an evicted written page fetched again at its own FIL_PAGE_LSN, files
 * MariaDB creates, renames, truncates and deletes; aux files local.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redo, writeU32, writeU64 } from '@strata/core';
import type { GetPageItem, GetPageRequest } from '@strata/core/getpage';
import { DatadirFs } from './filesystem.js';

const PS = 1024;
const START = 5000n;
let dir: string;

function page(spaceId: number, pageNo: number, lsn: bigint, fill: number): Uint8Array {
  const p = new Uint8Array(PS).fill(fill);
  writeU32(p, redo.FIL_PAGE_OFFSET, pageNo);
  writeU64(p, redo.FIL_PAGE_LSN, lsn);
  writeU32(p, redo.FIL_PAGE_SPACE_ID, spaceId);
  return p;
}

/** A page server: space 7 has 200 pages at START (fill = page number % 250); later versions as stored. */
class FakePageserver {
  readonly asked: GetPageRequest[][] = [];
  readonly versions = new Map<string, Uint8Array>();
  getPages = (batch: readonly GetPageRequest[]): Promise<GetPageItem[]> => {
    this.asked.push([...batch]);
    return Promise.resolve(
      batch.map((r) => {
        const v = this.versions.get(`${r.spaceId}:${r.pageNo}:${r.lsn}`);
        if (v) return { status: 0 as const, lsn: r.lsn, page: v };
        if (r.spaceId === 7 && r.pageNo < 200 && r.lsn === START) return { status: 0 as const, lsn: START, page: page(7, r.pageNo, 100n, r.pageNo % 250) };
        return { status: 1 as const, lsn: 0n };
      }),
    );
  };
}

type Op = (...a: unknown[]) => void;
function call(fs: DatadirFs, name: string, ...args: unknown[]): Promise<unknown[]> {
  return new Promise((resolve) => (fs.ops()[name] as unknown as Op)(...args, (...r: unknown[]) => resolve(r)));
}

function make(lfcPages = 64): { fs: DatadirFs; ps: FakePageserver } {
  const ps = new FakePageserver();
  const fs = new DatadirFs({ localDir: dir, pageSize: PS, tablespaces: [{ spaceId: 7, path: 'db/t.ibd', sizePages: 200 }], lsn: START, getPages: ps.getPages, readOnly: false, uid: 1, gid: 1, lfcBytes: lfcPages * PS });
  return { fs, ps };
}

async function open(fs: DatadirFs, path: string): Promise<number> {
  const [err, fd] = await call(fs, 'open', path, 0o2);
  expect(err).toBe(0);
  return fd as number;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-datadir-fs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('DatadirFs', () => {
  it('serves a tablespace page by page at the start LSN; a lone read fetches its page, a scan the rest of the extent', async () => {
    const { fs, ps } = make();
    const [, st] = await call(fs, 'getattr', '/db/t.ibd');
    expect((st as { size: number }).size).toBe(200 * PS);
    const fd = await open(fs, '/db/t.ibd');
    const buf = Buffer.alloc(PS);
    expect((await call(fs, 'read', '/db/t.ibd', fd, buf, PS, 10 * PS))[0]).toBe(PS);
    expect(buf[100]).toBe(10);
    expect(ps.asked.flat().map((r) => r.pageNo)).toEqual([10]);
    await call(fs, 'read', '/db/t.ibd', fd, buf, PS, 11 * PS);
    // The read right after the last miss is a scan: pages 11..63 in one batch.
    expect(ps.asked.at(-1)!.map((r) => r.pageNo).sort((a, b) => a - b)).toEqual(Array.from({ length: 53 }, (_, i) => 11 + i));
    await call(fs, 'read', '/db/t.ibd', fd, buf, PS, 40 * PS);
    expect(ps.asked.length).toBe(2);
  });

  it('keeps written pages, and fetches an evicted one again at its own FIL_PAGE_LSN', async () => {
    const { fs, ps } = make(16);
    const fd = await open(fs, '/db/t.ibd');
    const mine = page(7, 3, 9000n, 0xab);
    expect((await call(fs, 'write', '/db/t.ibd', fd, Buffer.from(mine), PS, 3 * PS))[0]).toBe(PS);
    const buf = Buffer.alloc(PS);
    await call(fs, 'read', '/db/t.ibd', fd, buf, PS, 3 * PS);
    expect(buf[200]).toBe(0xab);
    expect(ps.asked.length).toBe(0);
    // Fill the cache past its budget: page 3 goes, and only its LSN is remembered.
    for (let p = 100; p < 140; p++) await call(fs, 'read', '/db/t.ibd', fd, buf, PS, p * PS);
    ps.versions.set('7:3:9000', mine);
    await call(fs, 'read', '/db/t.ibd', fd, buf, PS, 3 * PS);
    expect(ps.asked.at(-1)).toEqual([{ spaceId: 7, pageNo: 3, lsn: 9000n }]);
    expect(buf[200]).toBe(0xab);
    expect(fs.stats().lfc.evictedWritten).toBeGreaterThan(0);
  });

  it('a written page survives the write buffer being taken back (fuse-native detaches it after the call)', async () => {
    const { fs } = make(16);
    const fd = await open(fs, '/db/t.ibd');
    const src = Buffer.alloc(PS);
    Buffer.from(page(7, 4, 9100n, 0xcd)).copy(src);
    expect((await call(fs, 'write', '/db/t.ibd', fd, src, PS, 4 * PS))[0]).toBe(PS);
    // What the native side does once the write returned: the memory behind the buffer is gone.
    structuredClone(src.buffer, { transfer: [src.buffer] });
    expect(src.buffer.byteLength).toBe(0);
    const buf = Buffer.alloc(PS);
    await call(fs, 'read', '/db/t.ibd', fd, buf, PS, 4 * PS);
    expect(buf[200]).toBe(0xcd);
  });

  it('files MariaDB creates, extends with partial writes, renames, truncates and deletes', async () => {
    const { fs, ps } = make();
    const [err, fd] = await call(fs, 'create', '/db/new.ibd', 0o660);
    expect(err).toBe(0);
    // glibc's posix_fallocate fallback: one byte per 4 KiB block past the end.
    for (let off = 0; off < 4 * PS; off += 512) await call(fs, 'write', '/db/new.ibd', fd, Buffer.alloc(1), 1, off + 511);
    const [, st] = await call(fs, 'getattr', '/db/new.ibd');
    expect((st as { size: number }).size).toBe(4 * PS);
    await call(fs, 'write', '/db/new.ibd', fd, Buffer.from(page(9, 1, 7000n, 5)), PS, PS);
    expect(ps.asked.length).toBe(0);
    expect((await call(fs, 'rename', '/db/new.ibd', '/db/t2.ibd'))[0]).toBe(0);
    expect((await call(fs, 'getattr', '/db/new.ibd'))[0]).toBe(-2);
    const fd2 = await open(fs, '/db/t2.ibd');
    const buf = Buffer.alloc(PS);
    await call(fs, 'read', '/db/t2.ibd', fd2, buf, PS, PS);
    expect(buf[300]).toBe(5);
    const [, names] = await call(fs, 'readdir', '/db');
    expect((names as string[]).sort()).toEqual(['t.ibd', 't2.ibd']);
    await call(fs, 'ftruncate', '/db/t2.ibd', fd2, PS);
    expect(((await call(fs, 'getattr', '/db/t2.ibd'))[1] as { size: number }).size).toBe(PS);
    expect((await call(fs, 'unlink', '/db/t2.ibd'))[0]).toBe(0);
    expect((await call(fs, 'getattr', '/db/t2.ibd'))[0]).toBe(-2);
  });

  it('aux files are plain local files and their changes are reported', async () => {
    const changed: string[] = [];
    const ps = new FakePageserver();
    const fs = new DatadirFs({ localDir: dir, pageSize: PS, tablespaces: [], lsn: START, getPages: ps.getPages, readOnly: false, uid: 1, gid: 1, lfcBytes: 64 * PS, onAuxChange: (r) => changed.push(r) });
    expect((await call(fs, 'mkdir', '/db', 0o750))[0]).toBe(0);
    const [, fd] = await call(fs, 'create', '/db/t.frm', 0o640);
    await call(fs, 'write', '/db/t.frm', fd, Buffer.from('frm!'), 4, 0);
    await call(fs, 'release', '/db/t.frm', fd);
    expect(readFileSync(join(dir, 'db/t.frm'), 'utf8')).toBe('frm!');
    await call(fs, 'rename', '/db/t.frm', '/db/u.frm');
    expect(changed).toContain('db/t.frm');
    expect(changed).toContain('db/u.frm');
  });

  it('warm() fetches the start of a tablespace at the start LSN before any read; reads then ask nothing more', async () => {
    const { fs, ps } = make(256);
    // More pages than the file has: clipped to its 200.
    expect(fs.warm('db/t.ibd', 300)).toBe(200);
    // Asked again while the fetches run: nothing new.
    expect(fs.warm('db/t.ibd', 300)).toBe(0);
    expect(fs.warm('db/none.ibd', 10)).toBe(0);
    const fd = await open(fs, '/db/t.ibd');
    const buf = Buffer.alloc(PS);
    expect((await call(fs, 'read', '/db/t.ibd', fd, buf, PS, 150 * PS))[0]).toBe(PS);
    expect(buf[100]).toBe(150);
    expect(ps.asked.flat().map((r) => r.pageNo).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(ps.asked.flat().every((r) => r.lsn === START)).toBe(true);
    const before = ps.asked.length;
    await call(fs, 'read', '/db/t.ibd', fd, buf, PS, 3 * PS);
    expect(ps.asked.length).toBe(before);
  });
});
