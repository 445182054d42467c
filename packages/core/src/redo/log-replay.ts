/**
 * The replay driver: applies a log to the files of a datadir an mtr at a
 * time, as it is decoded, the way crash recovery does through the buffer
 * pool. Each page is read on first use, replayed in memory (`PageReplay`,
 * the same per-page rules as `replayPage`) and written back when the least
 * recently used has to make room (replay-pages.ts), at the end, and before a
 * tablespace is created, renamed, deleted or truncated, so file operations
 * and page writes happen in log order. No record outlives its mtr, so memory
 * is bounded by the page cache.
 *
 * Pure: the shell opens the files and does the file operations (`ReplayFiles`)
 * and runs the loop over the log (`strata redo apply`:
 * apps/cli/src/datadir/replay-partition.ts).
 *
 * Partitions: records of different pages never read each other, so pages can
 * be replayed by several threads at once, each decoding the whole log and
 * applying the records of the pages it owns (`ownsPage`). Page 0 of every
 * space is replayed by all (its flags choose every page's checksum) and
 * written by partition 0 only, which also does every file operation; around
 * each one the partitions meet (`ReplayPartition.sync`) so no page write
 * crosses it.
 */
import { CorruptRedo } from '../errors.js';
import { type Mtr, ownsPage, type PagePartition } from './mtr.js';
import {
  checkRebuildable,
  checksumAlgorithmOf,
  defaultSpaceFlags,
  isAllZero,
  type SpaceFlags,
  spaceFlagsOfPage0,
} from './page.js';
import { type PageResets, supersededByReset } from './page-resets.js';
import { type ExtendedRecord, ExtendedSubtype, type FileRecord, isPageRecord, type PageRecord } from './records.js';
import { type ReplayedPage, ReplayPages } from './replay-pages.js';
import { readFspHeader, type TablespaceEntry, type TablespaceEvent, TablespaceMap } from './tablespaces.js';

/** One open tablespace file, as the shell reads and writes it. */
export interface SpaceFile {
  /** Reads up to `buf.length` bytes at byte `position`; returns how many there were (fewer past the file's end). */
  read(buf: Uint8Array, position: number): number;
  /** Writes all of `buf` at byte `position`. */
  write(buf: Uint8Array, position: number): void;
  sizeBytes(): number;
  /** Cuts or extends the file (with zeros) to `bytes`. */
  resize(bytes: number): void;
  close(): void;
}

/** The datadir's files, to the driver. */
export interface ReplayFiles {
  /** Opens the tablespace file at `path` (relative to the datadir) for reading and writing; undefined if there is none. */
  open(path: string): SpaceFile | undefined;
  /**
   * Creates, renames or deletes a file as a file record says. Called by
   * partition 0 only, with every page written and the space's file closed.
   */
  applyEvent(event: TablespaceEvent): void;
}

/** Which pages this replay owns, and how it meets the replays of the other partitions. */
export interface ReplayPartition extends PagePartition {
  /** Returns once every partition has reached the same point of the log. */
  sync(): void;
}

/** A replay that is not partitioned. */
export const WHOLE_LOG: ReplayPartition = { index: 0, count: 1, sync() {} };

/** Counted once over the partitions. */
export interface ReplayStats {
  mtrs: number;
  records: number;
  /** Page records not applied: a later mtr initialises or frees their page (`supersededByReset`). */
  recordsSuperseded: number;
  pagesWritten: number;
  pagesFreed: number;
  created: number;
  renamed: number;
  deleted: number;
  undoTrims: number;
}

export interface LogReplayOptions {
  readonly pageSize: number;
  /** The tablespaces of the datadir before the log. */
  readonly spaces: Iterable<TablespaceEntry>;
  readonly files: ReplayFiles;
  /** Where each page starts over (a first pass over the same span of log, `collectPageResets`). */
  readonly resets: PageResets;
  readonly partition?: ReplayPartition | undefined;
  /** Bytes of page images held before the least recently used is written back (page 0s not counted). */
  readonly pageCacheBytesMax?: number | undefined;
}

export const PAGE_CACHE_BYTES_MAX_DEFAULT = 32 << 20;
/** FIL header and FSP header up to the flags: what tells a tablespace's size and format. */
const SPACE_HEAD_BYTES = 64;

/** A tablespace whose file is open, with its flags as known so far. */
interface ReplaySpace {
  readonly spaceId: number;
  readonly path: string;
  readonly file: SpaceFile;
  flags: SpaceFlags;
}

type Page = ReplayedPage<ReplaySpace>;

/**
 * `applyMtr` for every mtr of the log in order, then `finish` once; `close`
 * in any case (it closes the files the replay opened).
 */
export class LogReplay {
  readonly stats: ReplayStats = { mtrs: 0, records: 0, recordsSuperseded: 0, pagesWritten: 0, pagesFreed: 0, created: 0, renamed: 0, deleted: 0, undoTrims: 0 };
  private readonly pageSize: number;
  private readonly map: TablespaceMap;
  private readonly files: ReplayFiles;
  private readonly resets: PageResets;
  private readonly part: ReplayPartition;
  private readonly pages: ReplayPages<ReplaySpace>;
  private readonly open = new Map<number, ReplaySpace>();
  /** Scratch for the head of page 0 when a file is opened or sized. */
  private readonly head = new Uint8Array(SPACE_HEAD_BYTES);

  constructor(opts: LogReplayOptions) {
    this.pageSize = opts.pageSize;
    this.map = new TablespaceMap(opts.spaces);
    this.files = opts.files;
    this.resets = opts.resets;
    this.part = opts.partition ?? WHOLE_LOG;
    this.pages = new ReplayPages(opts.pageSize, opts.pageCacheBytesMax ?? PAGE_CACHE_BYTES_MAX_DEFAULT);
  }

  /** Applies one mtr: its page records (of pages this partition replays) to the held pages, its file records to the tablespaces. */
  applyMtr(m: Mtr): void {
    const { stats, part } = this;
    stats.mtrs++;
    for (const r of m.records) {
      // Each record counted once over the partitions: page 0's and the file records by partition 0.
      if (part.index === 0 || (isPageRecord(r) && r.pageNo !== 0 && !(r.type === 'EXTENDED' && r.subtype === ExtendedSubtype.TRIM_PAGES))) stats.records++;
      if (!isPageRecord(r)) {
        if (r.type === 'FILE_CREATE' || r.type === 'FILE_RENAME' || r.type === 'FILE_DELETE') this.fileOperation(r, m.startLsn);
        else this.map.apply(r, m.startLsn);
        continue;
      }
      if (r.type === 'EXTENDED' && r.subtype === ExtendedSubtype.TRIM_PAGES) {
        this.trimUndoSpace(r);
        continue;
      }
      // The decoder parses only this partition's pages.
      this.applyPage(r, m);
    }
  }

  /**
   * Writes back every page, then (once every partition has) makes the files
   * as long as their page 0 says: InnoDB extends a file before it logs the
   * new FSP_SIZE, so the log alone leaves files short.
   */
  finish(): void {
    this.flush();
    // Pages the log ends by freeing were never loaded (nothing of them is written): counted here, by their owner.
    for (const [spaceId, pages] of this.resets) {
      for (const [pageNo, reset] of pages) {
        if (reset.freed && ownsPage(this.part, spaceId, pageNo) && (pageNo !== 0 || this.part.index === 0)) this.stats.pagesFreed++;
      }
    }
    this.part.sync();
    if (this.part.index === 0) this.extendToFspSize();
  }

  /** Closes every file the replay opened (pages not flushed are dropped). */
  close(): void {
    for (const id of [...this.open.keys()]) this.closeSpace(id);
  }

  /** Stamps and writes every held page; page 0 of each space first, as it carries the flags that decide the checksums. */
  flush(): void {
    this.pages.drain((page) => this.writeBack(page, page.space.flags));
  }

  private applyPage(r: PageRecord, m: Mtr): void {
    const page = this.pages.find(r.spaceId, r.pageNo) ?? this.load(r, m);
    if (page === undefined) return;
    if (page.mtr !== m) {
      page.mtr = m;
      page.applying = page.replay.beginMtr(m.startLsn, m.endLsn);
    }
    if (page.applying) page.replay.apply(r, m.startLsn);
  }

  /** Reads the page its first record `r` is for (unless that record initialises it); undefined when the record is void. */
  private load(r: PageRecord, m: Mtr): Page | undefined {
    // Deleted spaces were flushed before their delete; their later records are void.
    if (this.map.isDeleted(r.spaceId)) return undefined;
    if (!this.map.get(r.spaceId)) {
      throw new CorruptRedo(m.startLsn, `record for page ${r.spaceId}:${r.pageNo} of a tablespace that is neither in the base nor created by the log`);
    }
    // So are a page's records before its last INIT_PAGE/FREE_PAGE. Once a page is loaded every later record is
    // past that point (log order), so this is asked only here.
    if (supersededByReset(this.resets, r.spaceId, r.pageNo, m.startLsn)) {
      // Counted once over the partitions (page 0 is replayed by all).
      if (r.pageNo !== 0 || this.part.index === 0) this.stats.recordsSuperseded++;
      return undefined;
    }
    if (this.pages.full && r.pageNo !== 0) this.evict();
    const space = this.space(r.spaceId);
    if (!space) throw new CorruptRedo(0n, `tablespace ${r.spaceId} (${this.map.get(r.spaceId)?.path}) is missing from the datadir`);
    const pageNo = r.pageNo;
    const buf = this.pages.buffer();
    // An initialised page starts from zeros. (A freed one is still read: MariaDB may log changes to it after the
    // FREE_PAGE, and those must apply to what it held, even though the page is not written in the end.)
    const init = r.type === 'INIT_PAGE';
    // A short read (a page past the file's end) leaves zeros, as the file would read after extension.
    const got = init ? 0 : space.file.read(buf, pageNo * this.pageSize);
    buf.fill(0, got);
    if (pageNo === 0 && !init) space.flags = spaceFlagsOfPage0(buf, space.flags);
    // Refuse unsupported formats before applying anything, with page 0's flags as changed so far.
    checkRebuildable(this.flagsNow(space, pageNo), space.spaceId, pageNo, space.path);
    return this.pages.add(space, pageNo, buf, pageNo === 0 ? this.part.index === 0 : true);
  }

  /** The space's flags as page 0 holds them now (page 0 may be held and changing). */
  private flagsNow(space: ReplaySpace, pageNo: number): SpaceFlags {
    const page0 = pageNo === 0 ? undefined : this.pages.peek(space.spaceId, 0);
    return page0 ? spaceFlagsOfPage0(page0.replay.page, space.flags) : space.flags;
  }

  /** Writes back the least recently used page and recycles its buffer. */
  private evict(): void {
    const victim = this.pages.evictable();
    // Its checksum follows page 0's flags as they are now, which may not be on disk yet.
    this.writeBack(victim, this.flagsNow(victim.space, victim.pageNo));
    this.pages.remove(victim);
  }

  private writeBack(held: Page, spaceFlags: SpaceFlags): void {
    const { space, pageNo } = held;
    const page = held.replay.page;
    // Page 0 carries the flags it is stamped by (they may have just been written): stamping it by
    // others first would leave the legacy checksum in bytes 0..3 under a full_crc32 stamp.
    const flags = pageNo === 0 ? spaceFlagsOfPage0(page, spaceFlags) : spaceFlags;
    if (pageNo === 0) space.flags = flags;
    checkRebuildable(flags, space.spaceId, pageNo, space.path);
    const result = held.replay.finish(checksumAlgorithmOf(flags));
    if (!held.owned) return;
    if (result.freed) {
      this.stats.pagesFreed++;
      return;
    }
    if (result.applied === 0) return;
    space.file.write(page, pageNo * this.pageSize);
    this.stats.pagesWritten++;
  }

  /** The space's open file, opened on first use; undefined if the map or the datadir has no such space. */
  private space(spaceId: number): ReplaySpace | undefined {
    const cached = this.open.get(spaceId);
    if (cached) return cached;
    const entry = this.map.get(spaceId);
    if (!entry) return undefined;
    const file = this.files.open(entry.path);
    if (!file) return undefined;
    const head = this.head;
    const n = file.read(head, 0);
    // A page 0 never written (a new file another partition already wrote later pages of) says nothing yet.
    const flags = n === head.length && !isAllZero(head) ? spaceFlagsOfPage0(head) : defaultSpaceFlags(this.pageSize);
    const space: ReplaySpace = { spaceId, path: entry.path, file, flags };
    this.open.set(spaceId, space);
    return space;
  }

  private closeSpace(spaceId: number): void {
    const s = this.open.get(spaceId);
    if (s) s.file.close();
    this.open.delete(spaceId);
  }

  /** A file record: the map always; the files (partition 0), between two meetings of the partitions with every page written. */
  private fileOperation(r: FileRecord, lsn: bigint): void {
    this.flush();
    this.part.sync();
    const event = this.map.apply(r, lsn);
    if (event) {
      this.closeSpace(event.spaceId);
      if (this.part.index === 0) {
        this.files.applyEvent(event);
        if (event.kind === 'create') this.stats.created++;
        else if (event.kind === 'rename') this.stats.renamed++;
        else this.stats.deleted++;
      }
    }
    this.part.sync();
  }

  /**
   * TRIM_PAGES (innodb_undo_log_truncate): the undo tablespace starts over with
   * `pageNo` pages; everything logged for it before is void, and the same mtr
   * re-initialises its header pages.
   */
  private trimUndoSpace(r: ExtendedRecord): void {
    this.flush();
    this.part.sync();
    if (this.part.index === 0) {
      const space = this.space(r.spaceId);
      if (!space) throw new CorruptRedo(0n, `TRIM_PAGES for unknown tablespace ${r.spaceId}`);
      // Cut to nothing first, so the pages kept read as zeros.
      space.file.resize(0);
      space.file.resize(r.pageNo * this.pageSize);
      this.stats.undoTrims++;
    }
    this.part.sync();
  }

  private extendToFspSize(): void {
    for (const e of this.map.entries()) this.space(e.spaceId);
    const head = this.head;
    for (const s of this.open.values()) {
      // A file shorter than the head (created, never written) has no size to go by: zeros say 0 pages.
      head.fill(0, s.file.read(head, 0));
      const want = readFspHeader(head).sizePages * this.pageSize;
      if (s.file.sizeBytes() < want) s.file.resize(want);
    }
  }
}
