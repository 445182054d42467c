/**
 * `strata redo apply`: copy a cleanly shut down datadir, replay a redo log
 * onto it the way InnoDB crash recovery would, and leave a datadir whose
 * fresh `ib_logfile0` checkpoint is the final LSN, so stock mariadbd starts
 * on it without recovery.
 *
 * Records are gathered per page in memory and applied in batches (each page
 * read and written once per batch); a tablespace create, rename or delete
 * first applies the pending batch, so file operations and page writes happen
 * in log order.
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
import { isAuxPath, isTablespacePath, listFiles, listTablespaceFiles } from './tablespace-files.js';
import { openLogFile } from './log-reader.js';

export interface RedoApplyOptions {
  readonly baseDir: string;
  readonly logPath: string;
  readonly outDir: string;
  /** Stop at the last mtr ending at or below this LSN. */
  readonly untilLsn?: bigint;
  /** Take the non-InnoDB files (.frm, Aria tables, ...) from here instead of the base. */
  readonly auxFrom?: string;
  /** Pending page records before a batch is applied. */
  readonly batchRecordsMax?: number;
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

/** Pending page changes of one batch: space → page → changes in LSN order. */
type Batch = Map<number, Map<number, redo.PageChange[]>>;

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
  const batchMax = opts.batchRecordsMax ?? 2_000_000;
  // One map for the whole run, cleared in place: addMtr holds it across a mid-mtr flush.
  const batch: Batch = new Map();
  let pending = 0;
  const stats = { mtrs: 0, records: 0, pagesWritten: 0, pagesFreed: 0, created: 0, renamed: 0, deleted: 0, undoTrims: 0 };
  let endLsn = startLsn;
  let logEnd: { endLsn: bigint; reason: string } | undefined;
  let lastProgress = startLsn;

  const flush = (): void => {
    applyBatch(batch, spaces, pageSize, stats);
    batch.clear();
    pending = 0;
  };

  try {
    const it = reader.mtrs(startLsn, pageSize);
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
      pending += addMtr(batch, m, spaces, (rec) => {
        flush();
        if (rec.type === 'EXTENDED') trimUndoSpace(rec, spaces, pageSize, stats);
        else fileOperation(rec, m.startLsn, spaces, opts.outDir, stats);
      });
      endLsn = m.endLsn;
      if (pending >= batchMax) flush();
      if (opts.onProgress && endLsn - lastProgress >= 16n << 20n) {
        lastProgress = endLsn;
        opts.onProgress({ lsn: endLsn, startLsn, endLsnHint: logCheckpoint, mtrs: stats.mtrs, records: stats.records });
      }
    }
    flush();
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

/** Add one mtr's page records to the batch; returns how many were added. */
/** Records that change a tablespace as a whole: applied in log order between page batches. */
type StructuralRecord = redo.FileRecord | redo.ExtendedRecord;

function addMtr(batch: Batch, m: redo.Mtr, spaces: SpaceFiles, onStructural: (r: StructuralRecord) => void): number {
  let added = 0;
  let perPage: Map<string, { spaceId: number; pageNo: number; records: redo.PageRecord[] }> | undefined;
  for (const r of m.records) {
    if (!redo.isPageRecord(r)) {
      if (r.type === 'FILE_CREATE' || r.type === 'FILE_RENAME' || r.type === 'FILE_DELETE') {
        if (perPage) added += commitPerPage(batch, perPage, m);
        perPage = undefined;
        onStructural(r);
      } else {
        spaces.map.apply(r, m.startLsn);
      }
      continue;
    }
    if (r.type === 'EXTENDED' && r.subtype === redo.ExtendedSubtype.TRIM_PAGES) {
      if (perPage) added += commitPerPage(batch, perPage, m);
      perPage = undefined;
      onStructural(r);
      continue;
    }
    if (spaces.map.isDeleted(r.spaceId)) continue;
    if (!spaces.map.get(r.spaceId)) {
      throw new CorruptRedo(m.startLsn, `record for page ${r.spaceId}:${r.pageNo} of a tablespace that is neither in the base nor created by the log`);
    }
    perPage ??= new Map();
    const key = `${r.spaceId}:${r.pageNo}`;
    let entry = perPage.get(key);
    if (!entry) perPage.set(key, (entry = { spaceId: r.spaceId, pageNo: r.pageNo, records: [] }));
    entry.records.push(r);
  }
  if (perPage) added += commitPerPage(batch, perPage, m);
  return added;
}

function commitPerPage(
  batch: Batch,
  perPage: Map<string, { spaceId: number; pageNo: number; records: redo.PageRecord[] }>,
  m: redo.Mtr,
): number {
  let n = 0;
  for (const { spaceId, pageNo, records } of perPage.values()) {
    let pages = batch.get(spaceId);
    if (!pages) batch.set(spaceId, (pages = new Map()));
    let changes = pages.get(pageNo);
    if (!changes) pages.set(pageNo, (changes = []));
    changes.push({ startLsn: m.startLsn, endLsn: m.endLsn, records });
    n += records.length;
  }
  return n;
}

function applyBatch(
  batch: Batch,
  spaces: SpaceFiles,
  pageSize: number,
  stats: { pagesWritten: number; pagesFreed: number },
): void {
  const page = new Uint8Array(pageSize);
  for (const [spaceId, pages] of batch) {
    const space = spaces.get(spaceId);
    if (!space) throw new CorruptRedo(0n, `tablespace ${spaceId} (${spaces.map.get(spaceId)?.path}) is missing from the datadir`);
    // Page 0 first: it carries the flags that decide every other page's checksum.
    const order = [...pages.keys()].sort((a, b) => a - b);
    for (const pageNo of order) {
      const changes = pages.get(pageNo)!;
      const firstIsInit = changes[0]?.records[0]?.type === 'INIT_PAGE';
      page.fill(0);
      if (!firstIsInit) readSync(space.fd, page, 0, pageSize, pageNo * pageSize);
      if (pageNo === 0 && !firstIsInit) space.flags = flagsOf(page, space.flags);
      checkSupported(space, pageNo);
      // The checksum format is the space's, which page 0 may itself be changing now.
      const algorithm: redo.ChecksumAlgorithm = space.flags.fullCrc32 ? 'full_crc32' : 'crc32';
      const result = redo.replayPage(page, changes, algorithm);
      if (pageNo === 0) {
        const after = flagsOf(page, space.flags);
        if (after.raw !== space.flags.raw) {
          space.flags = after;
          if (!result.freed && result.applied > 0) redo.stampPage(page, result.lsn, after.fullCrc32 ? 'full_crc32' : 'crc32');
        }
      }
      if (result.freed) {
        stats.pagesFreed++;
        continue;
      }
      if (result.applied === 0) continue;
      writeSync(space.fd, page, 0, pageSize, pageNo * pageSize);
      stats.pagesWritten++;
    }
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

function writeFreshLog(path: string, lsn: bigint, fileSize: bigint): void {
  rmSync(path, { force: true });
  const head = redo.buildFreshLogHead({ lsn, fileSize });
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, head, 0, head.length, 0);
    ftruncateSync(fd, Number(fileSize));
  } finally {
    closeSync(fd);
  }
}
