import { describe, expect, it } from 'vitest';
import { readU32, writeU32 } from '../bytes.js';
import { CorruptRedo, UnsupportedPage } from '../errors.js';
import { LogReplay, type LogReplayOptions, type ReplayFiles, type ReplayPartition, type SpaceFile } from './log-replay.js';
import type { Mtr } from './mtr.js';
import { FSP_SIZE, FSP_SPACE_FLAGS, pageLsn, verifyPageChecksum } from './page.js';
import { collectPageResets, type PageResets } from './page-resets.js';
import { ExtendedSubtype, type RedoRecord } from './records.js';
import type { TablespaceEvent } from './tablespaces.js';

const PAGE_SIZE = 4096;
/** full_crc32, 4 KiB pages (ssize 3). */
const FULL_CRC32_4K = 0x10 | 3;
/** Legacy (crc32) flags, 4 KiB pages: page ssize 3 in bits 6..9. */
const LEGACY_4K = 3 << 6;
const SPACE = 5;
const PATH = 'db/t.ibd';

/** An in-memory datadir that logs every page read, page write and file operation, in order. */
class MemoryDatadir implements ReplayFiles {
  readonly files = new Map<string, MemoryFile>();
  readonly log: string[] = [];
  openFiles = 0;

  /** A tablespace of `pages` pages: page 0 with its flags and size, the others zeros. */
  addSpace(path: string, flags: number, pages: number): MemoryFile {
    const f = new MemoryFile(this, path, new Uint8Array(pages * PAGE_SIZE));
    writeU32(f.bytes, FSP_SPACE_FLAGS, flags);
    writeU32(f.bytes, FSP_SIZE, pages);
    this.files.set(path, f);
    return f;
  }

  open(path: string): SpaceFile | undefined {
    const f = this.files.get(path);
    if (f) this.openFiles++;
    return f;
  }

  applyEvent(event: TablespaceEvent): void {
    if (event.kind === 'create') this.files.set(event.path, new MemoryFile(this, event.path, new Uint8Array(0)));
    else if (event.kind === 'delete') this.files.delete(event.path);
    else {
      const f = this.files.get(event.from);
      this.files.delete(event.from);
      if (f) this.files.set(event.to, f);
    }
    this.log.push(`${event.kind} ${event.kind === 'rename' ? `${event.from} ${event.to}` : event.path}`);
  }

  page(path: string, pageNo: number): Uint8Array {
    return this.files.get(path)!.bytes.subarray(pageNo * PAGE_SIZE, (pageNo + 1) * PAGE_SIZE);
  }
}

class MemoryFile implements SpaceFile {
  constructor(
    private readonly dir: MemoryDatadir,
    readonly path: string,
    public bytes: Uint8Array,
  ) {}

  read(buf: Uint8Array, position: number): number {
    const n = Math.max(0, Math.min(buf.length, this.bytes.length - position));
    buf.set(this.bytes.subarray(position, position + n));
    // Page reads only: the head reads of opening and sizing are not what the tests count.
    if (buf.length === PAGE_SIZE) this.dir.log.push(`read ${this.path}:${position / PAGE_SIZE}`);
    return n;
  }

  write(buf: Uint8Array, position: number): void {
    // A write past the end grows the file, as pwrite does.
    if (position + buf.length > this.bytes.length) this.bytes = grown(this.bytes, position + buf.length);
    this.bytes.set(buf, position);
    this.dir.log.push(`write ${this.path}:${position / PAGE_SIZE}`);
  }

  sizeBytes(): number {
    return this.bytes.length;
  }

  resize(bytes: number): void {
    this.bytes = grown(this.bytes, bytes);
    this.dir.log.push(`resize ${this.path} ${bytes}`);
  }

  close(): void {
    this.dir.openFiles--;
  }
}

/** `bytes` cut or zero-extended to `length`. */
function grown(bytes: Uint8Array, length: number): Uint8Array {
  const next = new Uint8Array(length);
  next.set(bytes.subarray(0, Math.min(length, bytes.length)));
  return next;
}

let nextLsn = 1000n;
function mtr(...records: RedoRecord[]): Mtr {
  const startLsn = nextLsn;
  nextLsn += 100n;
  return { startLsn, endLsn: startLsn + 50n, bytes: new Uint8Array(0), records };
}
const write = (pageNo: number, byte = 0xab, spaceId = SPACE): RedoRecord => ({ type: 'WRITE', spaceId, pageNo, offset: 100, data: Uint8Array.of(byte) });
const init = (pageNo: number, spaceId = SPACE): RedoRecord => ({ type: 'INIT_PAGE', spaceId, pageNo });
const free = (pageNo: number, spaceId = SPACE): RedoRecord => ({ type: 'FREE_PAGE', spaceId, pageNo });
const writeFlags = (flags: number): RedoRecord => {
  const data = new Uint8Array(4);
  writeU32(data, 0, flags);
  return { type: 'WRITE', spaceId: SPACE, pageNo: 0, offset: FSP_SPACE_FLAGS, data };
};

function resetsOf(mtrs: readonly Mtr[]): PageResets {
  let i = 0;
  return collectPageResets(() => mtrs[i++]);
}

/** Replays `mtrs` onto `dir` (with the resets a first pass over them finds) and returns the replay. */
function replay(dir: MemoryDatadir, mtrs: readonly Mtr[], opts: Partial<LogReplayOptions> = {}): LogReplay {
  const r = new LogReplay({
    pageSize: PAGE_SIZE,
    spaces: [...dir.files.keys()].map((path, i) => ({ spaceId: SPACE + i, path })),
    files: dir,
    resets: resetsOf(mtrs),
    ...opts,
  });
  try {
    for (const m of mtrs) r.applyMtr(m);
    r.finish();
  } finally {
    r.close();
  }
  return r;
}

const writes = (dir: MemoryDatadir): string[] => dir.log.filter((l) => l.startsWith('write'));
const reads = (dir: MemoryDatadir): string[] => dir.log.filter((l) => l.startsWith('read'));

describe('the replay driver (LogReplay)', () => {
  it('reads each page once, writes it once at the end, stamped with the LSN of its last mtr and its space checksum', () => {
    const dir = new MemoryDatadir();
    dir.addSpace(PATH, FULL_CRC32_4K, 8);
    const mtrs = [mtr(write(1), write(2)), mtr(write(2, 0xcd))];
    const r = replay(dir, mtrs);
    expect(reads(dir)).toEqual([`read ${PATH}:1`, `read ${PATH}:2`]);
    expect(writes(dir)).toEqual([`write ${PATH}:1`, `write ${PATH}:2`]);
    const p2 = dir.page(PATH, 2);
    expect(p2[100]).toBe(0xcd);
    expect(pageLsn(p2)).toBe(mtrs[1]!.endLsn);
    expect(verifyPageChecksum(p2, 'full_crc32')).toBe(true);
    expect(r.stats).toMatchObject({ mtrs: 2, records: 3, pagesWritten: 2, pagesFreed: 0, recordsSuperseded: 0 });
    expect(dir.openFiles).toBe(0);
  });

  it('writes back the least recently used page when the cache is full, the rest in page order at the end', () => {
    const dir = new MemoryDatadir();
    dir.addSpace(PATH, FULL_CRC32_4K, 8);
    const mtrs = [mtr(write(1)), mtr(write(2)), mtr(write(3)), mtr(write(1)), mtr(write(4)), mtr(write(5))];
    const r = replay(dir, mtrs, { pageCacheBytesMax: 3 * PAGE_SIZE });
    // 2 was least recently used when 4 came (1 had been used again), then 3 when 5 came.
    expect(writes(dir).map((l) => l.split(':')[1])).toEqual(['2', '3', '1', '4', '5']);
    expect(r.stats.pagesWritten).toBe(5);
  });

  it('a page evicted and changed again is read back as written and written twice; nothing is applied twice', () => {
    const dir = new MemoryDatadir();
    dir.addSpace(PATH, FULL_CRC32_4K, 8);
    const mtrs = [mtr(write(1, 0x11)), mtr(write(2)), mtr(write(3)), mtr({ type: 'WRITE', spaceId: SPACE, pageNo: 1, offset: 101, data: Uint8Array.of(0x22) })];
    const r = replay(dir, mtrs, { pageCacheBytesMax: 2 * PAGE_SIZE });
    expect(reads(dir).filter((l) => l.endsWith(':1'))).toHaveLength(2);
    expect(writes(dir).filter((l) => l.endsWith(':1'))).toHaveLength(2);
    expect(r.stats.pagesWritten).toBe(writes(dir).length);
    expect(r.stats.pagesWritten).toBe(4);
    const p1 = dir.page(PATH, 1);
    expect([p1[100], p1[101]]).toEqual([0x11, 0x22]);
    expect(pageLsn(p1)).toBe(mtrs[3]!.endLsn);
  });

  it('skips the mtrs a page already holds, and does not write a page none applied to', () => {
    const dir = new MemoryDatadir();
    const f = dir.addSpace(PATH, FULL_CRC32_4K, 8);
    const old = mtr(write(1, 0x99));
    // Page 1 on disk is newer than the mtr (LSN 2^32): written after it by the server.
    f.bytes.set(Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 0), PAGE_SIZE + 16);
    const r = replay(dir, [old]);
    expect(dir.page(PATH, 1)[100]).toBe(0);
    expect(writes(dir)).toEqual([]);
    expect(r.stats.pagesWritten).toBe(0);
  });

  it('pins page 0 until the flush and does not count it toward the cache; it is written first', () => {
    const dir = new MemoryDatadir();
    dir.addSpace(PATH, FULL_CRC32_4K, 8);
    const mtrs = [mtr(write(0)), mtr(write(1)), mtr(write(2)), mtr(write(3)), mtr(write(4)), mtr(write(0, 0x77))];
    replay(dir, mtrs, { pageCacheBytesMax: 2 * PAGE_SIZE });
    expect(reads(dir).filter((l) => l.endsWith(':0'))).toHaveLength(1);
    expect(writes(dir).map((l) => l.split(':')[1])).toEqual(['1', '2', '0', '3', '4']);
    expect(dir.page(PATH, 0)[100]).toBe(0x77);
  });

  it('in a partition other than 0, page 0 is replayed (its flags stamp the others) but not written', () => {
    const dir = new MemoryDatadir();
    dir.addSpace(PATH, FULL_CRC32_4K, 8);
    let syncs = 0;
    const partition: ReplayPartition = { index: 1, count: 2, sync: () => void syncs++ };
    // Page 2 belongs to partition 1 of 2 with space 5 ((2 + 5) % 2 === 1).
    const mtrs = [mtr(writeFlags(LEGACY_4K), write(2))];
    const r = replay(dir, mtrs, { partition });
    expect(writes(dir)).toEqual([`write ${PATH}:2`]);
    expect(verifyPageChecksum(dir.page(PATH, 2), 'crc32')).toBe(true);
    expect(readU32(dir.page(PATH, 0), FSP_SPACE_FLAGS)).toBe(FULL_CRC32_4K);
    // Page 0's records are counted by partition 0; the partitions meet once at the end.
    expect(r.stats.records).toBe(1);
    expect(syncs).toBe(1);
  });

  it('skips the records of a page before its last INIT_PAGE, and every record of a page the log ends by freeing, without reading either', () => {
    const dir = new MemoryDatadir();
    dir.addSpace(PATH, FULL_CRC32_4K, 8);
    const mtrs = [mtr(write(3), write(4)), mtr(init(3), write(3, 0x33)), mtr(free(4)), mtr(write(4))];
    const r = replay(dir, mtrs);
    expect(r.stats.recordsSuperseded).toBe(4);
    expect(reads(dir)).toEqual([]);
    expect(writes(dir)).toEqual([`write ${PATH}:3`]);
    expect(dir.page(PATH, 3)[100]).toBe(0x33);
    expect(r.stats).toMatchObject({ pagesWritten: 1, pagesFreed: 1 });
  });

  it("stamps every page by page 0's flags as they are when it is written, page 0 by its own", () => {
    const dir = new MemoryDatadir();
    dir.addSpace(PATH, FULL_CRC32_4K, 8);
    // Evicted while page 0 says full_crc32, then page 0 changes to the legacy format.
    const mtrs = [mtr(write(0)), mtr(write(1)), mtr(write(2)), mtr(write(3)), mtr(writeFlags(LEGACY_4K), write(4))];
    replay(dir, mtrs, { pageCacheBytesMax: 2 * PAGE_SIZE });
    expect(verifyPageChecksum(dir.page(PATH, 1), 'full_crc32')).toBe(true);
    for (const p of [0, 3, 4]) expect(verifyPageChecksum(dir.page(PATH, p), 'crc32')).toBe(true);
  });

  it('refuses ROW_FORMAT=COMPRESSED and PAGE_COMPRESSED spaces with UnsupportedPage before applying anything', () => {
    const cases = [
      { flags: LEGACY_4K | (4 << 1), format: 'ROW_FORMAT=COMPRESSED' },
      { flags: FULL_CRC32_4K | (1 << 5), format: 'PAGE_COMPRESSED' },
    ];
    for (const { flags, format } of cases) {
      const dir = new MemoryDatadir();
      dir.addSpace(PATH, flags, 8);
      const run = (): LogReplay => replay(dir, [mtr(write(2))]);
      expect(run).toThrow(UnsupportedPage);
      expect(run).toThrow(`unsupported page ${SPACE}:2: ${PATH} uses ${format}, which Strata does not rebuild`);
      expect(writes(dir)).toEqual([]);
    }
  });

  it('a page 0 changed to an unsupported format stops the replay before its pages are written', () => {
    const dir = new MemoryDatadir();
    dir.addSpace(PATH, FULL_CRC32_4K, 8);
    expect(() => replay(dir, [mtr(writeFlags(LEGACY_4K | (4 << 1))), mtr(write(1))])).toThrow(UnsupportedPage);
    expect(writes(dir)).toEqual([]);
  });

  it('creates, renames and deletes files after every page before is written, between two meetings of the partitions', () => {
    const dir = new MemoryDatadir();
    dir.addSpace(PATH, FULL_CRC32_4K, 8);
    const events: string[] = dir.log;
    let syncs = 0;
    const partition: ReplayPartition = { index: 0, count: 1, sync: () => void events.push(`sync ${++syncs}`) };
    const r = replay(
      dir,
      [
        mtr(write(1)),
        mtr({ type: 'FILE_CREATE', spaceId: 9, path: './db/n.ibd' }),
        mtr(init(0, 9), { type: 'WRITE', spaceId: 9, pageNo: 0, offset: FSP_SPACE_FLAGS, data: Uint8Array.of(0, 0, 0, FULL_CRC32_4K) }),
        mtr({ type: 'FILE_RENAME', spaceId: 9, path: './db/n.ibd', newPath: './db/m.ibd' }),
        mtr({ type: 'FILE_DELETE', spaceId: SPACE, path: `./${PATH}` }),
        // Records of a deleted space are void.
        mtr(write(2)),
      ],
      { partition },
    );
    expect(events.filter((l) => !l.startsWith('read'))).toEqual([
      `write ${PATH}:1`,
      'sync 1',
      'create db/n.ibd',
      'sync 2',
      'write db/n.ibd:0',
      'sync 3',
      'rename db/n.ibd db/m.ibd',
      'sync 4',
      'sync 5',
      `delete ${PATH}`,
      'sync 6',
      // The end: every page written, the partitions meet, then the files get their FSP_SIZE (0 pages here).
      'sync 7',
    ]);
    expect(r.stats).toMatchObject({ created: 1, renamed: 1, deleted: 1, pagesWritten: 2 });
    expect(dir.files.has('db/m.ibd')).toBe(true);
  });

  it('TRIM_PAGES writes back the held pages, then cuts the undo space to its new size with zeros', () => {
    const dir = new MemoryDatadir();
    dir.addSpace('undo001', FULL_CRC32_4K, 8);
    const trim: RedoRecord = { type: 'EXTENDED', spaceId: SPACE, pageNo: 4, subtype: ExtendedSubtype.TRIM_PAGES, payload: new Uint8Array(0) };
    const r = replay(dir, [mtr(write(6, 0x66, SPACE)), mtr(trim)]);
    // Its page 0 is zeros now (until the same mtr's records rebuild it): no size to extend to at the end.
    expect(dir.log.filter((l) => !l.startsWith('read'))).toEqual(['write undo001:6', 'resize undo001 0', `resize undo001 ${4 * PAGE_SIZE}`]);
    expect(dir.files.get('undo001')!.bytes.every((b) => b === 0)).toBe(true);
    expect(r.stats.undoTrims).toBe(1);
  });

  it('at the end, makes each file as long as its page 0 says', () => {
    const dir = new MemoryDatadir();
    const f = dir.addSpace(PATH, FULL_CRC32_4K, 8);
    f.bytes = f.bytes.slice(0, 3 * PAGE_SIZE);
    replay(dir, [mtr(write(1))]);
    expect(dir.files.get(PATH)!.sizeBytes()).toBe(8 * PAGE_SIZE);
  });

  it('a record of a space neither in the base nor created by the log is corrupt redo', () => {
    const dir = new MemoryDatadir();
    dir.addSpace(PATH, FULL_CRC32_4K, 8);
    expect(() => replay(dir, [mtr(write(1, 1, 42))])).toThrow(CorruptRedo);
  });
});
