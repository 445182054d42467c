/**
 * The replay engine of `strata redo apply`, for one partition of the pages.
 *
 * Records are applied as they are decoded to page images held in memory,
 * the way recovery works in the buffer pool: each page is read on first use
 * and written back when it is evicted (least recently used first), at the
 * end, and before a tablespace create, rename, delete or undo truncation, so
 * file operations and page writes happen in log order. No record outlives
 * its mtr, so memory is bounded by the cache.
 *
 * Partitions: records of different pages never read each other, so the
 * pages can be replayed by several threads at once, each decoding the whole
 * log and applying the records of the pages it owns. Page 0 of every space
 * is replayed by all (its flags choose every page's checksum) and written by
 * partition 0 only, which also does every file operation; around each one
 * the partitions meet (`Partition.sync`) so no page write crosses it.
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CorruptRedo, readU32, redo, UnsupportedPage } from '@strata/core';
import { openLogFile } from '@strata/datadir';

/** Which pages this replay owns, and how it meets the other partitions. */
export interface Partition {
  readonly index: number;
  readonly count: number;
  /** Returns once every partition has reached the same point of the log (throws if one failed). */
  sync(): void;
  /** Throws if another partition failed (checked now and then, so a failure stops everyone soon). */
  checkAborted(): void;
}

/** A replay that is not partitioned. */
export const WHOLE: Partition = { index: 0, count: 1, sync() {}, checkAborted() {} };

export interface PartitionOptions {
  readonly outDir: string;
  readonly logPath: string;
  readonly files: readonly { readonly spaceId: number; readonly path: string }[];
  readonly pageSize: number;
  readonly startLsn: bigint;
  readonly untilLsn?: bigint | undefined;
  /** Bytes of page images this partition holds before writing back the least recently used. */
  readonly pageCacheBytesMax?: number | undefined;
  /** Where each page starts over (the first pass, `scanPageResets`): records before that are skipped. */
  readonly resets: redo.PageResets;
  /** Where that pass stopped: the replay goes no further (a log that grew since has no resets for the rest). */
  readonly scanEndLsn: bigint;
  /** Called by partition 0 every 8 MiB of redo. */
  readonly onProgress?: ((p: { lsn: bigint; mtrs: number; records: number }) => void) | undefined;
}

export interface PartitionResult {
  readonly endLsn: bigint;
  readonly logEndLsn: bigint;
  readonly logEndReason: string;
  readonly stats: ReplayStats;
}

export type ReplayStats = {
  mtrs: number;
  records: number;
  /** Page records not applied: a later mtr initialises or frees their page (`redo.supersededByReset`). */
  recordsSuperseded: number;
  pagesWritten: number;
  pagesFreed: number;
  created: number;
  renamed: number;
  deleted: number;
  undoTrims: number;
};

export const PAGE_CACHE_BYTES_MAX_DEFAULT = 32 << 20;
const PAGE_SLAB_PAGES = 64;
/** Redo between two progress reports. */
const PROGRESS_BYTES = 8n << 20n;
/** mtrs between two looks at whether another partition failed. */
const ABORT_CHECK_MTRS = 4096;

/**
 * Replays the log from `startLsn` onto the datadir in `outDir` (already a
 * copy of the base) for the pages `part` owns. Partition 0 also makes the
 * files as long as their page 0 says at the end.
 */
export function replayPartition(opts: PartitionOptions, part: Partition): PartitionResult {
  const { pageSize, startLsn } = opts;
  const map = new redo.TablespaceMap(opts.files.map((f) => ({ spaceId: f.spaceId, path: f.path })));
  const spaces = new SpaceFiles(opts.outDir, map, pageSize);
  const reader = openLogFile(opts.logPath);
  const stats: ReplayStats = { mtrs: 0, records: 0, recordsSuperseded: 0, pagesWritten: 0, pagesFreed: 0, created: 0, renamed: 0, deleted: 0, undoTrims: 0 };
  const resets = opts.resets;
  const cache = new PageCache(spaces, pageSize, opts.pageCacheBytesMax ?? PAGE_CACHE_BYTES_MAX_DEFAULT, stats, part, resets);
  let endLsn = startLsn;
  let logEnd: { endLsn: bigint; reason: string } | undefined;
  let lastProgress = startLsn;
  try {
    // Each mtr is applied before the next is decoded: the log is read into one reused buffer.
    const scanner = reader.scanner(startLsn, pageSize, { reuseBuffer: true, partition: part });
    for (;;) {
      const m = scanner.next();
      if (m === undefined) {
        logEnd = scanner.end;
        break;
      }
      if (opts.untilLsn !== undefined && m.endLsn > opts.untilLsn) {
        logEnd = { endLsn: m.startLsn, reason: `stopped at --until-lsn ${opts.untilLsn}` };
        break;
      }
      if (m.endLsn > opts.scanEndLsn) {
        logEnd = { endLsn: m.startLsn, reason: `the log grew during the replay: stopped at ${opts.scanEndLsn}, where its first pass ended` };
        break;
      }
      stats.mtrs++;
      applyMtr(cache, m, spaces, opts.outDir, pageSize, stats, part);
      endLsn = m.endLsn;
      if (stats.mtrs % ABORT_CHECK_MTRS === 0) part.checkAborted();
      if (opts.onProgress && part.index === 0 && endLsn - lastProgress >= PROGRESS_BYTES) {
        lastProgress = endLsn;
        opts.onProgress({ lsn: endLsn, mtrs: stats.mtrs, records: stats.records });
      }
    }
    cache.flush();
    // Pages the log ends by freeing were never loaded (nothing of them is written): counted here, by their owner.
    for (const [spaceId, pages] of resets) {
      for (const [pageNo, reset] of pages) if (reset.freed && redo.ownsPage(part, spaceId, pageNo) && (pageNo !== 0 || part.index === 0)) stats.pagesFreed++;
    }
    // Every partition's pages are on disk before the sizes are settled.
    part.sync();
    if (part.index === 0) extendToFspSize(spaces, pageSize);
  } finally {
    spaces.closeAll();
    reader.close();
  }
  return { endLsn, logEndLsn: logEnd.endLsn, logEndReason: logEnd.reason, stats };
}

interface OpenSpace {
  spaceId: number;
  path: string;
  fd: number;
  flags: redo.SpaceFlags;
}

class SpaceFiles {
  private readonly open = new Map<number, OpenSpace>();
  constructor(
    private readonly dir: string,
    readonly map: redo.TablespaceMap,
    private readonly pageSize: number,
  ) {}

  get(spaceId: number): OpenSpace | undefined {
    const cached = this.open.get(spaceId);
    if (cached) return cached;
    const entry = this.map.get(spaceId);
    if (!entry) return undefined;
    const full = join(this.dir, entry.path);
    if (!existsSync(full)) return undefined;
    const fd = openSync(full, 'r+');
    const head = new Uint8Array(64);
    const n = readSync(fd, head, 0, 64, 0);
    // A page 0 never written (a new file another partition already wrote later pages of) says nothing yet.
    const flags = n === 64 && head.some((b) => b !== 0) ? redo.decodeSpaceFlags(readU32(head, redo.FSP_SPACE_FLAGS)) : defaultFlags(this.pageSize);
    const s: OpenSpace = { spaceId, path: entry.path, fd, flags };
    this.open.set(spaceId, s);
    return s;
  }

  close(spaceId: number): void {
    const s = this.open.get(spaceId);
    if (s) closeSync(s.fd);
    this.open.delete(spaceId);
  }

  closeAll(): void {
    for (const id of [...this.open.keys()]) this.close(id);
  }

  all(): OpenSpace[] {
    for (const e of this.map.entries()) this.get(e.spaceId);
    return [...this.open.values()];
  }
}

function defaultFlags(pageSize: number): redo.SpaceFlags {
  return { raw: 0, fullCrc32: true, pageSize, zipSize: 0, pageCompressed: false };
}


/** Apply one mtr: its page records (of pages this partition replays) to the cached pages, its file records to the tablespaces. */
function applyMtr(cache: PageCache, m: redo.Mtr, spaces: SpaceFiles, dir: string, pageSize: number, stats: ReplayStats, part: Partition): void {
  for (const r of m.records) {
    // Each record counted once over the partitions: page 0's and the file records by partition 0.
    if (part.index === 0 || (redo.isPageRecord(r) && r.pageNo !== 0 && !(r.type === 'EXTENDED' && r.subtype === redo.ExtendedSubtype.TRIM_PAGES))) stats.records++;
    if (!redo.isPageRecord(r)) {
      if (r.type === 'FILE_CREATE' || r.type === 'FILE_RENAME' || r.type === 'FILE_DELETE') {
        cache.flush();
        part.sync();
        fileOperation(r, m.startLsn, spaces, dir, stats, part.index === 0);
        part.sync();
      } else {
        spaces.map.apply(r, m.startLsn);
      }
      continue;
    }
    if (r.type === 'EXTENDED' && r.subtype === redo.ExtendedSubtype.TRIM_PAGES) {
      cache.flush();
      part.sync();
      if (part.index === 0) trimUndoSpace(r, spaces, pageSize, stats);
      part.sync();
      continue;
    }
    // The decoder parses only this partition's pages.
    cache.apply(r, m);
  }
}

/** A page image being replayed, from its first record since it was loaded until it is written back. */
interface CachedPage {
  readonly space: OpenSpace;
  readonly pageNo: number;
  readonly replay: redo.PageReplay;
  /** The mtr whose records are being applied, and whether the page already holds it. */
  mtr: redo.Mtr | undefined;
  applying: boolean;
  /** Whether this partition writes it (page 0 is replayed everywhere, written by partition 0). */
  readonly owned: boolean;
  /** Recency list: toward the most recently used end, and away from it. */
  newer: CachedPage | undefined;
  older: CachedPage | undefined;
}

/**
 * The pages being replayed, least recently used written back first when the
 * cache is full. A page is read once and written once unless it is evicted
 * and changed again later (it is then read back as written: its LSN makes
 * the replay skip nothing and repeat nothing). Buffers are recycled: first
 * touches of fresh memory are page faults, and on a VM those cost more than
 * reading the page (~13 µs per 4 KiB here), so the cache stays small.
 */
class PageCache {
  /** space → page → image. */
  private readonly bySpace = new Map<number, Map<number, CachedPage>>();
  private count = 0;
  private last: CachedPage | undefined;
  private mru: CachedPage | undefined;
  private lru: CachedPage | undefined;
  private readonly free: Uint8Array[] = [];
  private readonly pagesMax: number;

  constructor(
    private readonly spaces: SpaceFiles,
    private readonly pageSize: number,
    bytesMax: number,
    private readonly stats: { pagesWritten: number; pagesFreed: number; recordsSuperseded: number },
    private readonly part: Partition,
    private readonly resets: redo.PageResets,
  ) {
    this.pagesMax = Math.max(2, Math.floor(bytesMax / pageSize));
  }

  apply(r: redo.PageRecord, m: redo.Mtr): void {
    let page = this.last;
    if (page === undefined || page.pageNo !== r.pageNo || page.space.spaceId !== r.spaceId) {
      page = this.bySpace.get(r.spaceId)?.get(r.pageNo);
      if (page === undefined) {
        // Deleted spaces were flushed before their delete; their later records are void.
        if (this.spaces.map.isDeleted(r.spaceId)) return;
        if (!this.spaces.map.get(r.spaceId)) {
          throw new CorruptRedo(m.startLsn, `record for page ${r.spaceId}:${r.pageNo} of a tablespace that is neither in the base nor created by the log`);
        }
        // So are a page's records before its last INIT_PAGE/FREE_PAGE. Once a page is loaded every later record is
        // past that point (log order), so this is asked only here.
        if (redo.supersededByReset(this.resets, r.spaceId, r.pageNo, m.startLsn)) {
          // Counted once over the partitions (page 0 is replayed by all).
          if (r.pageNo !== 0 || this.part.index === 0) this.stats.recordsSuperseded++;
          return;
        }
        if (this.count >= this.pagesMax && r.pageNo !== 0) this.evict();
        page = this.load(r);
      } else this.touch(page);
      this.last = page;
    }
    if (page.mtr !== m) {
      page.mtr = m;
      page.applying = page.replay.beginMtr(m.startLsn, m.endLsn);
    }
    if (page.applying) page.replay.apply(r, m.startLsn);
  }

  /** Reads the page its first record `r` is for (unless that record initialises it). */
  private load(r: redo.PageRecord): CachedPage {
    const space = this.spaces.get(r.spaceId);
    if (!space) throw new CorruptRedo(0n, `tablespace ${r.spaceId} (${this.spaces.map.get(r.spaceId)?.path}) is missing from the datadir`);
    const pageNo = r.pageNo;
    const buf = this.free.pop() ?? this.allocate();
    // An initialised page starts from zeros. (A freed one is still read: MariaDB may log changes to it after the
    // FREE_PAGE, and those must apply to what it held, even though the page is not written in the end.)
    const init = r.type === 'INIT_PAGE';
    // A short read (a page past the file's end) leaves zeros, as the file would read after extension.
    const got = init ? 0 : readSync(space.fd, buf, 0, this.pageSize, pageNo * this.pageSize);
    buf.fill(0, got);
    if (pageNo === 0 && !init) space.flags = flagsOf(buf, space.flags);
    let pages = this.bySpace.get(space.spaceId);
    if (!pages) this.bySpace.set(space.spaceId, (pages = new Map()));
    // Refuse unsupported formats before applying anything, with page 0's flags as changed so far.
    checkSupported(this.currentFlags(space, pages, pageNo), pageNo);
    const owned = pageNo === 0 ? this.part.index === 0 : true;
    const page: CachedPage = { space, pageNo, replay: new redo.PageReplay(buf), mtr: undefined, applying: false, owned, newer: undefined, older: undefined };
    pages.set(pageNo, page);
    // Page 0 stays until the next flush: it is written only there, so another partition never reads it half written.
    if (pageNo === 0) return page;
    page.older = this.mru;
    if (this.mru) this.mru.newer = page;
    else this.lru = page;
    this.mru = page;
    this.count++;
    return page;
  }

  /** The space with its flags as page 0 holds them now (page 0 may be cached and changing). */
  private currentFlags(space: OpenSpace, pages: Map<number, CachedPage>, pageNo: number): OpenSpace {
    const page0 = pageNo === 0 ? undefined : pages.get(0);
    return page0 ? { ...space, flags: flagsOf(page0.replay.page, space.flags) } : space;
  }

  private touch(page: CachedPage): void {
    if (page === this.mru || page.pageNo === 0) return;
    this.unlink(page);
    page.older = this.mru;
    page.newer = undefined;
    if (this.mru) this.mru.newer = page;
    this.mru = page;
    if (!this.lru) this.lru = page;
  }

  private unlink(page: CachedPage): void {
    if (page.newer) page.newer.older = page.older;
    else this.mru = page.older;
    if (page.older) page.older.newer = page.newer;
    else this.lru = page.newer;
    page.newer = page.older = undefined;
  }

  /** Writes back the least recently used page and recycles its buffer. */
  private evict(): void {
    const victim = this.lru!;
    const pages = this.bySpace.get(victim.space.spaceId)!;
    // Its checksum follows page 0's flags as they are now, which may not be on disk yet.
    this.writeBack(victim, this.currentFlags(victim.space, pages, victim.pageNo).flags);
    this.unlink(victim);
    pages.delete(victim.pageNo);
    this.count--;
    if (this.last === victim) this.last = undefined;
    this.free.push(victim.replay.page);
  }

  /** Page buffers come in slabs: one 16 KiB typed array at a time costs far more to allocate. */
  private allocate(): Uint8Array {
    const slab = new Uint8Array(this.pageSize * PAGE_SLAB_PAGES);
    for (let i = PAGE_SLAB_PAGES - 1; i > 0; i--) this.free.push(slab.subarray(i * this.pageSize, (i + 1) * this.pageSize));
    return slab.subarray(0, this.pageSize);
  }

  /** Stamps and writes every cached page; page 0 of each space first, as it carries the flags that decide the checksums. */
  flush(): void {
    for (const pages of this.bySpace.values()) {
      const order = [...pages.keys()].sort((a, b) => a - b);
      for (const pageNo of order) {
        const page = pages.get(pageNo)!;
        this.writeBack(page, page.space.flags);
        this.free.push(page.replay.page);
      }
    }
    this.bySpace.clear();
    this.count = 0;
    this.last = this.mru = this.lru = undefined;
  }

  private writeBack(cached: CachedPage, spaceFlags: redo.SpaceFlags): void {
    const { space, pageNo } = cached;
    const page = cached.replay.page;
    // Page 0 carries the flags it is stamped by (they may have just been written): stamping it by
    // others first would leave the legacy checksum in bytes 0..3 under a full_crc32 stamp.
    const flags = pageNo === 0 ? flagsOf(page, spaceFlags) : spaceFlags;
    if (pageNo === 0) space.flags = flags;
    checkSupported({ ...space, flags }, pageNo);
    const result = cached.replay.finish(flags.fullCrc32 ? 'full_crc32' : 'crc32');
    if (!cached.owned) return;
    if (result.freed) {
      this.stats.pagesFreed++;
      return;
    }
    if (result.applied === 0) return;
    writeSync(space.fd, page, 0, this.pageSize, pageNo * this.pageSize);
    this.stats.pagesWritten++;
  }
}

function flagsOf(page0: Uint8Array, fallback: redo.SpaceFlags): redo.SpaceFlags {
  const raw = readU32(page0, redo.FSP_SPACE_FLAGS);
  if (raw === 0 && fallback.raw !== 0) return fallback;
  return redo.decodeSpaceFlags(raw);
}

function checkSupported(space: OpenSpace, pageNo: number): void {
  if (space.flags.zipSize !== 0) {
    throw new UnsupportedPage(space.spaceId, pageNo, `${space.path} uses ROW_FORMAT=COMPRESSED, which Strata does not rebuild`);
  }
  if (space.flags.pageCompressed) {
    throw new UnsupportedPage(space.spaceId, pageNo, `${space.path} uses PAGE_COMPRESSED, which Strata does not rebuild`);
  }
}

/** Applies a file record to the map; `touchFiles`: also to the files (one partition does). */
function fileOperation(
  r: redo.FileRecord,
  lsn: bigint,
  spaces: SpaceFiles,
  dir: string,
  stats: { created: number; renamed: number; deleted: number },
  touchFiles: boolean,
): void {
  const event = spaces.map.apply(r, lsn);
  if (!event) return;
  spaces.close(event.spaceId);
  if (!touchFiles) return;
  switch (event.kind) {
    case 'create': {
      const full = join(dir, event.path);
      mkdirSync(dirname(full), { recursive: true });
      closeSync(openSync(full, 'w'));
      stats.created++;
      return;
    }
    case 'rename': {
      const from = join(dir, event.from);
      const to = join(dir, event.to);
      mkdirSync(dirname(to), { recursive: true });
      if (existsSync(from)) renameSync(from, to);
      stats.renamed++;
      return;
    }
    case 'delete': {
      const full = join(dir, event.path);
      if (existsSync(full)) unlinkSync(full);
      stats.deleted++;
      return;
    }
  }
}

/**
 * TRIM_PAGES (innodb_undo_log_truncate): the undo tablespace starts over with
 * `pageNo` pages; everything logged for it before is void, and the same mtr
 * re-initialises its header pages.
 */
function trimUndoSpace(r: redo.ExtendedRecord, spaces: SpaceFiles, pageSize: number, stats: { undoTrims: number }): void {
  const space = spaces.get(r.spaceId);
  if (!space) throw new CorruptRedo(0n, `TRIM_PAGES for unknown tablespace ${r.spaceId}`);
  ftruncateSync(space.fd, 0);
  ftruncateSync(space.fd, r.pageNo * pageSize);
  stats.undoTrims++;
}

/** InnoDB extends files before logging the new FSP_SIZE; make the files as long as page 0 says. */
function extendToFspSize(spaces: SpaceFiles, pageSize: number): void {
  const page0 = new Uint8Array(64);
  for (const s of spaces.all()) {
    readSync(s.fd, page0, 0, 64, 0);
    const sizePages = readU32(page0, redo.FSP_SIZE);
    const want = sizePages * pageSize;
    if (fstatSync(s.fd).size < want) ftruncateSync(s.fd, want);
  }
}

