/**
 * `strata redo apply`: copy a cleanly shut down datadir, replay a redo log
 * onto it the way InnoDB crash recovery would, and leave a datadir whose
 * fresh `ib_logfile0` checkpoint is the final LSN, so stock mariadbd starts
 * on it without recovery.
 *
 * Records are applied as they are decoded to page images held in memory,
 * the way recovery works in the buffer pool: each page is read on first use
 * and written back when the cache is flushed (when it is full, at the end,
 * and before a tablespace create, rename, delete or undo truncation, so file
 * operations and page writes happen in log order). No record outlives its
 * mtr, so memory is bounded by the cache.
 */
import {
  closeSync,
  copyFileSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { CorruptRedo, LsnOutOfRange, redo, UnsupportedPage } from '@strata/core';
import { isAuxPath, isTablespacePath, listFiles, listTablespaceFiles, openLogFile, writeFreshLog } from '@strata/datadir';

export interface RedoApplyOptions {
  readonly baseDir: string;
  readonly logPath: string;
  readonly outDir: string;
  /** Stop at the last mtr ending at or below this LSN. */
  readonly untilLsn?: bigint;
  /** Take the non-InnoDB files (.frm, Aria tables, ...) from here instead of the base. */
  readonly auxFrom?: string;
  /** Bytes of page images held in memory before they are written back (default 128 MiB). */
  readonly pageCacheBytesMax?: number;
  readonly onProgress?: (p: RedoApplyProgress) => void;
}

export interface RedoApplyProgress {
  readonly lsn: bigint;
  readonly startLsn: bigint;
  readonly endLsnHint: bigint;
  readonly mtrs: number;
  readonly records: number;
}

export interface RedoApplyResult {
  readonly startLsn: bigint;
  readonly endLsn: bigint;
  readonly logEndLsn: bigint;
  readonly mtrs: number;
  readonly records: number;
  readonly pagesWritten: number;
  readonly pagesFreed: number;
  readonly spacesCreated: number;
  readonly spacesRenamed: number;
  readonly spacesDeleted: number;
  readonly undoTruncations: number;
  readonly redoBytes: bigint;
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
    const flags = n === 64 ? redo.decodeSpaceFlags(readU32Local(head, redo.FSP_SPACE_FLAGS)) : defaultFlags(this.pageSize);
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

function readU32Local(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

function defaultFlags(pageSize: number): redo.SpaceFlags {
  return { raw: 0, fullCrc32: true, pageSize, zipSize: 0, pageCompressed: false };
}

const PAGE_CACHE_BYTES_MAX_DEFAULT = 128 << 20;
const PAGE_SLAB_PAGES = 64;

/**
 * Build the datadir in a sibling work directory and rename it into place at
 * the end, so a failure (corrupt redo, unsupported tablespace, full disk)
 * never leaves a half-replayed datadir that looks finished.
 */
export function applyRedoToDatadir(opts: RedoApplyOptions): RedoApplyResult {
  if (existsSync(opts.outDir) && readdirSync(opts.outDir).length > 0) {
    throw new Error(`output directory ${opts.outDir} is not empty`);
  }
  const workDir = `${opts.outDir.replace(/\/+$/, '')}.partial-${process.pid}`;
  rmSync(workDir, { recursive: true, force: true });
  try {
    const result = replayInto({ ...opts, outDir: workDir });
    rmSync(opts.outDir, { recursive: true, force: true });
    renameSync(workDir, opts.outDir);
    return result;
  } catch (e) {
    rmSync(workDir, { recursive: true, force: true });
    throw e;
  }
}

function replayInto(opts: RedoApplyOptions): RedoApplyResult {
  prepareOutDir(opts);
  const baseLog = join(opts.baseDir, 'ib_logfile0');
  if (!existsSync(baseLog)) throw new LsnOutOfRange(0n, `${baseLog} is missing: the base must be a datadir after a clean shutdown`);
  const baseReader = openLogFile(baseLog);
  const startLsn = baseReader.head.checkpoint.endLsn;
  baseReader.close();

  const files = listTablespaceFiles(opts.outDir);
  const system = files.find((f) => f.spaceId === 0);
  if (!system) throw new UnsupportedPage(0, 0, `no system tablespace (ibdata1) in ${opts.baseDir}`);
  const pageSize = system.flags.pageSize;
  const map = new redo.TablespaceMap(files.map((f) => ({ spaceId: f.spaceId, path: f.path })));
  const spaces = new SpaceFiles(opts.outDir, map, pageSize);

  const reader = openLogFile(opts.logPath);
  const logCheckpoint = reader.head.checkpoint.endLsn;
  const stats = { mtrs: 0, records: 0, pagesWritten: 0, pagesFreed: 0, created: 0, renamed: 0, deleted: 0, undoTrims: 0 };
  const cache = new PageCache(spaces, pageSize, opts.pageCacheBytesMax ?? PAGE_CACHE_BYTES_MAX_DEFAULT, stats);
  let endLsn = startLsn;
  let logEnd: { endLsn: bigint; reason: string } | undefined;
  let lastProgress = startLsn;

  try {
    // Each mtr is applied before the next is decoded: the log is read into one reused buffer.
    const it = reader.mtrs(startLsn, pageSize, { reuseBuffer: true });
    for (;;) {
      const step = it.next();
      if (step.done) {
        logEnd = step.value;
        break;
      }
      const m = step.value;
      if (opts.untilLsn !== undefined && m.endLsn > opts.untilLsn) {
        logEnd = { endLsn: m.startLsn, reason: `stopped at --until-lsn ${opts.untilLsn}` };
        break;
      }
      stats.mtrs++;
      stats.records += m.records.length;
      applyMtr(cache, m, spaces, opts.outDir, pageSize, stats);
      endLsn = m.endLsn;
      if (cache.full()) cache.flush();
      if (opts.onProgress && endLsn - lastProgress >= 16n << 20n) {
        lastProgress = endLsn;
        opts.onProgress({ lsn: endLsn, startLsn, endLsnHint: logCheckpoint, mtrs: stats.mtrs, records: stats.records });
      }
    }
    cache.flush();
    // The log must at least reach its own checkpoint; stopping earlier means the span from the base was overwritten.
    if (opts.untilLsn === undefined && endLsn < logCheckpoint) {
      throw new CorruptRedo(endLsn, `log ends (${logEnd?.reason}) before its own checkpoint ${logCheckpoint}: the redo since the base at ${startLsn} is no longer in ${opts.logPath}`);
    }
    extendToFspSize(spaces, pageSize);
  } finally {
    spaces.closeAll();
    reader.close();
  }
  writeFreshLog(join(opts.outDir, 'ib_logfile0'), endLsn, reader.head.fileSize);
  return {
    startLsn,
    endLsn,
    logEndLsn: logEnd?.endLsn ?? endLsn,
    mtrs: stats.mtrs,
    records: stats.records,
    pagesWritten: stats.pagesWritten,
    pagesFreed: stats.pagesFreed,
    spacesCreated: stats.created,
    spacesRenamed: stats.renamed,
    spacesDeleted: stats.deleted,
    undoTruncations: stats.undoTrims,
    redoBytes: endLsn - startLsn,
  };
}

function prepareOutDir(opts: RedoApplyOptions): void {
  mkdirSync(opts.outDir, { recursive: true });
  for (const rel of listFiles(opts.baseDir)) {
    const name = rel.split('/').pop() ?? rel;
    if (/^ib_logfile\d+$/.test(name)) continue;
    if (opts.auxFrom && isAuxPath(rel)) continue;
    if (!isTablespacePath(rel) && !isAuxPath(rel)) continue;
    copyInto(opts.baseDir, opts.outDir, rel);
  }
  if (opts.auxFrom) {
    for (const rel of listFiles(opts.auxFrom)) if (isAuxPath(rel)) copyInto(opts.auxFrom, opts.outDir, rel);
  }
}

function copyInto(from: string, to: string, rel: string): void {
  mkdirSync(dirname(join(to, rel)), { recursive: true });
  copyFileSync(join(from, rel), join(to, rel));
}

type Stats = { mtrs: number; records: number; pagesWritten: number; pagesFreed: number; created: number; renamed: number; deleted: number; undoTrims: number };

/** Apply one mtr: its page records to the cached pages, its file records to the tablespaces. */
function applyMtr(cache: PageCache, m: redo.Mtr, spaces: SpaceFiles, dir: string, pageSize: number, stats: Stats): void {
  for (const r of m.records) {
    if (!redo.isPageRecord(r)) {
      if (r.type === 'FILE_CREATE' || r.type === 'FILE_RENAME' || r.type === 'FILE_DELETE') {
        cache.flush();
        fileOperation(r, m.startLsn, spaces, dir, stats);
      } else {
        spaces.map.apply(r, m.startLsn);
      }
      continue;
    }
    if (r.type === 'EXTENDED' && r.subtype === redo.ExtendedSubtype.TRIM_PAGES) {
      cache.flush();
      trimUndoSpace(r, spaces, pageSize, stats);
      continue;
    }
    cache.apply(r, m);
  }
}

/** A page image being replayed, from its first record since the last flush until the next. */
interface CachedPage {
  readonly space: OpenSpace;
  readonly pageNo: number;
  readonly replay: redo.PageReplay;
  /** The mtr whose records are being applied, and whether the page already holds it. */
  mtr: redo.Mtr | undefined;
  applying: boolean;
}

/**
 * The pages changed since the last flush, each read once and written once;
 * the buffers are reused from one flush to the next.
 */
class PageCache {
  /** space → page → image; spaces in the order of their first record. */
  private readonly bySpace = new Map<number, Map<number, CachedPage>>();
  private count = 0;
  private last: CachedPage | undefined;
  private readonly free: Uint8Array[] = [];
  private readonly pagesMax: number;

  constructor(
    private readonly spaces: SpaceFiles,
    private readonly pageSize: number,
    bytesMax: number,
    private readonly stats: { pagesWritten: number; pagesFreed: number },
  ) {
    this.pagesMax = Math.max(1, Math.floor(bytesMax / pageSize));
  }

  full(): boolean {
    return this.count >= this.pagesMax;
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
        page = this.load(r);
      }
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
    buf.fill(0);
    const init = r.type === 'INIT_PAGE';
    if (!init) readSync(space.fd, buf, 0, this.pageSize, pageNo * this.pageSize);
    if (pageNo === 0 && !init) space.flags = flagsOf(buf, space.flags);
    let pages = this.bySpace.get(space.spaceId);
    if (!pages) this.bySpace.set(space.spaceId, (pages = new Map()));
    // Refuse unsupported formats before applying anything, with page 0's flags as changed so far.
    const page0 = pageNo === 0 ? undefined : pages.get(0);
    checkSupported(page0 ? { ...space, flags: flagsOf(page0.replay.page, space.flags) } : space, pageNo);
    const page: CachedPage = { space, pageNo, replay: new redo.PageReplay(buf), mtr: undefined, applying: false };
    pages.set(pageNo, page);
    this.count++;
    return page;
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
        this.writeBack(page);
        this.free.push(page.replay.page);
      }
    }
    this.bySpace.clear();
    this.count = 0;
    this.last = undefined;
  }

  private writeBack(cached: CachedPage): void {
    const { space, pageNo } = cached;
    const page = cached.replay.page;
    checkSupported(space, pageNo);
    // The checksum format is the space's, which page 0 may itself be changing now.
    const algorithm: redo.ChecksumAlgorithm = space.flags.fullCrc32 ? 'full_crc32' : 'crc32';
    const result = cached.replay.finish(algorithm);
    if (pageNo === 0) {
      const after = flagsOf(page, space.flags);
      if (after.raw !== space.flags.raw) {
        space.flags = after;
        if (!result.freed && result.applied > 0) redo.stampPage(page, result.lsn, after.fullCrc32 ? 'full_crc32' : 'crc32');
      }
    }
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
  const raw = readU32Local(page0, redo.FSP_SPACE_FLAGS);
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

function fileOperation(
  r: redo.FileRecord,
  lsn: bigint,
  spaces: SpaceFiles,
  dir: string,
  stats: { created: number; renamed: number; deleted: number },
): void {
  const event = spaces.map.apply(r, lsn);
  if (!event) return;
  spaces.close(event.spaceId);
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
    const sizePages = readU32Local(page0, redo.FSP_SIZE);
    const want = sizePages * pageSize;
    if (fstatSync(s.fd).size < want) ftruncateSync(s.fd, want);
  }
}

