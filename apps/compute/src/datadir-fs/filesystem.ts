/**
 * The datadir of a FUSE compute, served by the controller (issue 12).
 *
 * - Tablespaces (ibdata1, undo*, *.ibd) live nowhere on local disk: a read
 *   takes pages from the LFC, or fetches them from the page server with
 *   GetPage@LSN (batched, the rest of the extent along on a scan); the start
 *   LSN for a page MariaDB never wrote, the page's own FIL_PAGE_LSN for one
 *   it wrote and the LFC evicted. Writes stay in the LFC. fsync of a
 *   tablespace needs no local durability (the redo is the database).
 * - ib_logfile0 is a local file whose writes also go to the RedoSink, and
 *   whose fsync waits for the quorum.
 * - Everything else (aux files, ibtmp1...) is a plain file in `localDir`.
 *
 * Every op runs on the controller's event loop: nothing here (nor anything
 * else in the controller) may touch the mount point synchronously.
 */
import { closeSync, constants, fsync, ftruncateSync, lstatSync, mkdirSync, openSync, read, readdirSync, readSync, renameSync, rmdirSync, type Stats, truncateSync, unlinkSync, utimesSync, write, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { GetPageItem, GetPageRequest } from '@strata/core/getpage';
import { fileKind, pageKey, pagesOfRange, prefetchEnd, relPath } from './layout.js';
import { LocalFileCache, type LfcStats } from './lfc.js';
import type { RedoSink } from './redo-sink.js';
import { gateOps } from './gate.js';

/** GetPage statuses (mirrors @strata/core/getpage's GetPageStatus). */
const OK = 0;
const NOT_FOUND = 1;
const NOT_YET_AVAILABLE = 2;

const ENOENT = -2;
const EIO = -5;
const EBADF = -9;
const EEXIST = -17;
const ENOTEMPTY = -39;
const ENOSYS = -38;
const EROFS = -30;

const S_IFREG = 0o100000;
/** Pages per GetPage batch (the page server takes up to 1024). */
const BATCH_PAGES_MAX = 256;
/** How long a fetch of an evicted written page waits for the page server to ingest its LSN. */
const REFETCH_WAIT_MS = 120_000;

export interface SpaceEntry {
  readonly spaceId: number;
  readonly path: string;
  readonly sizePages: number;
}

export interface DatadirFsOptions {
  /** Aux and local files, and the local copy of ib_logfile0. */
  readonly localDir: string;
  readonly pageSize: number;
  /** Tablespaces as of `lsn`. */
  readonly tablespaces: readonly SpaceEntry[];
  /** Pages MariaDB has not written are read as of this LSN. */
  readonly lsn: bigint;
  /** One GetPage batch (the stream client's getPages). */
  readonly getPages: (batch: readonly GetPageRequest[], waitMs: number) => Promise<GetPageItem[]>;
  readonly readOnly: boolean;
  /** Owner shown for every file (the account mariadbd runs as). */
  readonly uid: number;
  readonly gid: number;
  readonly lfcBytes: number;
  /** An aux file changed (written, created, renamed, removed). */
  readonly onAuxChange?: (rel: string) => void;
  readonly log?: (line: string) => void;
  /** Resolves once `localDir` holds the aux files: every operation but init waits for it (gate.ts). */
  readonly localReady?: Promise<void>;
}

interface SpaceFile {
  readonly id: number;
  /** Space id from the manifest (undefined for files MariaDB created: its pages name it). */
  readonly spaceId: number | undefined;
  sizeBytes: number;
  /** Pages below this exist on the page server as of the start LSN. */
  basePages: number;
  lastMiss: number | undefined;
  mtimeMs: number;
}

type Handle = { readonly kind: 'local'; readonly fd: number; readonly rel: string; readonly log: boolean; readonly sync: boolean } | { readonly kind: 'space'; readonly file: SpaceFile };

export interface DatadirFsStats {
  readonly lfc: LfcStats;
  readonly pagesFetched: number;
  readonly batches: number;
  readonly fetchMsTotal: number;
  readonly pagesWritten: number;
}

type Cb = (err: number, ...rest: unknown[]) => void;

export class DatadirFs {
  readonly lfc: LocalFileCache;
  private readonly spaces = new Map<string, SpaceFile>();
  private readonly handles = new Map<number, Handle>();
  private nextHandle = 10;
  private nextNodeId = 1;
  /** Fetches under way, by LFC key. */
  private readonly inflight = new Map<number, Promise<Uint8Array | undefined>>();
  private queue: Array<{ key: number; req: GetPageRequest; resolve: (p: Uint8Array | undefined) => void; reject: (e: Error) => void }> = [];
  private queued = false;
  private pagesFetched = 0;
  private batches = 0;
  private fetchMsTotal = 0;
  private pagesWritten = 0;
  private logFd: number | undefined;
  private readonly zeroPage: Uint8Array;
  /** Read-write computes: where log writes go. */
  private redo: RedoSink | undefined;

  constructor(private readonly opts: DatadirFsOptions) {
    this.lfc = new LocalFileCache(opts.pageSize, opts.lfcBytes);
    this.zeroPage = new Uint8Array(opts.pageSize);
    const now = Date.now();
    for (const t of opts.tablespaces) {
      this.spaces.set(t.path, { id: this.nextNodeId++, spaceId: t.spaceId, sizeBytes: t.sizePages * opts.pageSize, basePages: t.sizePages, lastMiss: undefined, mtimeMs: now });
      mkdirSync(join(opts.localDir, dirname(t.path)), { recursive: true });
    }
  }

  attachRedo(sink: RedoSink): void {
    this.redo = sink;
  }

  /** Read `length` bytes of the local ib_logfile0 at `offset` (for the RedoSink). */
  readLog(offset: number, length: number): Uint8Array {
    this.logFd ??= openSync(join(this.opts.localDir, 'ib_logfile0'), 'r');
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.logFd, out, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return out;
  }

  /**
   * Fetches pages [0, `pages`) of tablespace `rel` before anything reads them: InnoDB reads the start of the
   * system tablespace (its header, transaction system, dictionary, doublewrite buffer) one read after another as
   * it starts, each a round trip through FUSE and the page server. Asked for while mariadbd is still being
   * exec'd, they are in the LFC (or on their way: a read joins its fetch) when it gets there. Pages at the start
   * LSN, as any read would fetch them. Returns how many fetches it queued.
   */
  warm(rel: string, pages: number): number {
    const f = this.spaces.get(rel);
    if (!f || f.spaceId === undefined) return 0;
    const end = Math.min(pages, f.basePages);
    let queued = 0;
    for (let p = 0; p < end; p++) {
      const key = pageKey(f.id, p);
      if (this.lfc.has(key) || this.inflight.has(key) || this.lfc.refetchOf(key)) continue;
      // A failed warm-up costs nothing: a read that needs the page fetches it again.
      this.fetch(key, { spaceId: f.spaceId, pageNo: p, lsn: this.opts.lsn }).catch(() => {});
      queued++;
    }
    return queued;
  }

  stats(): DatadirFsStats {
    return { lfc: this.lfc.stats(), pagesFetched: this.pagesFetched, batches: this.batches, fetchMsTotal: this.fetchMsTotal, pagesWritten: this.pagesWritten };
  }

  close(): void {
    for (const h of this.handles.values()) if (h.kind === 'local') closeSync(h.fd);
    this.handles.clear();
    if (this.logFd !== undefined) closeSync(this.logFd);
    this.logFd = undefined;
  }

  // ---- pages ----

  /** The current content of page `pageNo` of `f` (undefined: zeros). */
  private async page(f: SpaceFile, pageNo: number, fetchEnd: number): Promise<Uint8Array | undefined> {
    const key = pageKey(f.id, pageNo);
    const hit = this.lfc.get(key);
    if (hit) return hit.data;
    const running = this.inflight.get(key);
    if (running) return running;
    const refetch = this.lfc.refetchOf(key);
    if (!refetch && (pageNo >= f.basePages || f.spaceId === undefined)) return undefined;
    // Read-ahead: the rest of the scan's extent goes in the same batch (pages not cached, not fetched yet).
    if (!refetch && f.spaceId !== undefined) {
      const end = Math.min(fetchEnd, f.basePages);
      for (let p = pageNo + 1; p < end; p++) {
        const k = pageKey(f.id, p);
        if (this.lfc.has(k) || this.inflight.has(k) || this.lfc.refetchOf(k)) continue;
        this.fetch(k, { spaceId: f.spaceId, pageNo: p, lsn: this.opts.lsn }).catch(() => {});
      }
    }
    const req = refetch ? { spaceId: refetch.spaceId, pageNo, lsn: refetch.lsn } : { spaceId: f.spaceId!, pageNo, lsn: this.opts.lsn };
    return this.fetch(key, req);
  }

  private fetch(key: number, req: GetPageRequest): Promise<Uint8Array | undefined> {
    const p = new Promise<Uint8Array | undefined>((resolve, reject) => {
      this.queue.push({ key, req, resolve, reject });
      if (!this.queued) {
        this.queued = true;
        // Requests of one turn of the loop (InnoDB's read-ahead arrives as many reads at once) share a batch.
        setImmediate(() => this.sendQueued());
      }
    });
    this.inflight.set(key, p);
    const done = (): void => {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
    };
    p.then(done, done);
    return p;
  }

  private sendQueued(): void {
    this.queued = false;
    const all = this.queue;
    this.queue = [];
    for (let i = 0; i < all.length; i += BATCH_PAGES_MAX) void this.sendBatch(all.slice(i, i + BATCH_PAGES_MAX));
  }

  private async sendBatch(batch: typeof this.queue): Promise<void> {
    const started = Date.now();
    // Pages at an LSN above the start are evicted writes: their redo may still be on its way to the page server.
    const waitMs = batch.some((b) => b.req.lsn !== this.opts.lsn) ? REFETCH_WAIT_MS : 0;
    let items: GetPageItem[];
    try {
      items = await this.opts.getPages(
        batch.map((b) => b.req),
        waitMs,
      );
    } catch (e) {
      for (const b of batch) b.reject(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    this.batches++;
    this.fetchMsTotal += Date.now() - started;
    batch.forEach((b, i) => {
      const it = items[i]!;
      if (it.status === OK) {
        this.pagesFetched++;
        // A write that landed while the fetch ran is newer: the LFC keeps it (putFetched never replaces a written page).
        this.lfc.putFetched(b.key, it.page);
        const now = this.lfc.get(b.key);
        b.resolve(now ? now.data : it.page);
      } else if (it.status === NOT_FOUND) {
        // Never written as of the LSN: zeros, as in a basebackup.
        b.resolve(undefined);
      } else {
        const what = it.status === NOT_YET_AVAILABLE ? `not ingested yet (page server at ${it.lsn})` : `status ${it.status}`;
        this.opts.log?.(`GetPage space ${b.req.spaceId} page ${b.req.pageNo} at LSN ${b.req.lsn}: ${what}`);
        b.reject(new Error(`GetPage ${b.req.spaceId}:${b.req.pageNo}@${b.req.lsn}: ${what}`));
      }
    });
  }

  private async readSpace(f: SpaceFile, buf: Buffer, len: number, pos: number): Promise<number> {
    if (pos >= f.sizeBytes) return 0;
    const n = Math.min(len, f.sizeBytes - pos);
    const ps = this.opts.pageSize;
    const { first, end } = pagesOfRange(pos, n, ps);
    const missed = !this.lfc.has(pageKey(f.id, first));
    const fetchEnd = missed ? prefetchEnd(first, end, f.lastMiss, f.basePages) : end;
    if (missed) f.lastMiss = end - 1;
    const pages = await Promise.all(Array.from({ length: end - first }, (_, i) => this.page(f, first + i, fetchEnd)));
    for (let i = 0; i < pages.length; i++) {
      const pageStart = (first + i) * ps;
      const from = Math.max(pos, pageStart);
      const to = Math.min(pos + n, pageStart + ps);
      const src = pages[i] ?? this.zeroPage;
      buf.set(src.subarray(from - pageStart, to - pageStart), from - pos);
    }
    return n;
  }

  private async writeSpace(f: SpaceFile, buf: Buffer, len: number, pos: number): Promise<number> {
    const ps = this.opts.pageSize;
    const { first, end } = pagesOfRange(pos, len, ps);
    for (let p = first; p < end; p++) {
      const pageStart = p * ps;
      const from = Math.max(pos, pageStart);
      const to = Math.min(pos + len, pageStart + ps);
      const key = pageKey(f.id, p);
      if (to - from === ps) {
        // A copy: `buf` is fuse-native's buffer for this one operation, detached once the write returns
        // (a view kept in the LFC failed later reads: "Cannot perform Construct on a detached ArrayBuffer").
        this.lfc.putWritten(key, Uint8Array.prototype.slice.call(buf, from - pos, to - pos));
      } else {
        // A partial page (glibc's posix_fallocate writes one byte per block): read, change, keep.
        const cur = p * ps < f.sizeBytes ? await this.page(f, p, p + 1) : undefined;
        const next = cur ? cur.slice() : new Uint8Array(ps);
        next.set(buf.subarray(from - pos, to - pos), from - pageStart);
        this.lfc.putWritten(key, next);
      }
      this.pagesWritten++;
    }
    f.sizeBytes = Math.max(f.sizeBytes, pos + len);
    f.mtimeMs = Date.now();
    return len;
  }

  private truncateSpace(f: SpaceFile, size: number): void {
    const ps = this.opts.pageSize;
    const keep = Math.ceil(size / ps);
    this.lfc.dropRange(pageKey(f.id, keep), pageKey(f.id + 1, 0));
    if (size % ps !== 0 && size < f.sizeBytes) {
      // The cut page keeps its head only: rare (InnoDB sizes files in whole pages).
      const key = pageKey(f.id, keep - 1);
      const e = this.lfc.get(key);
      if (e?.data) {
        const next = e.data.slice();
        next.fill(0, size % ps);
        this.lfc.putWritten(key, next);
      }
    }
    f.basePages = Math.min(f.basePages, Math.floor(size / ps));
    f.sizeBytes = size;
    f.mtimeMs = Date.now();
  }

  // ---- the FUSE operations (fuse-native's signatures) ----

  private local(rel: string): string {
    return join(this.opts.localDir, rel);
  }

  private statOf(st: Stats): Record<string, unknown> {
    return { mtime: st.mtime, atime: st.atime, ctime: st.ctime, size: st.size, mode: st.mode, uid: this.opts.uid, gid: this.opts.gid, nlink: st.nlink, blocks: st.blocks, blksize: 4096, ino: st.ino };
  }

  private spaceStat(f: SpaceFile): Record<string, unknown> {
    const t = new Date(f.mtimeMs);
    return { mtime: t, atime: t, ctime: t, size: f.sizeBytes, mode: S_IFREG | 0o660, uid: this.opts.uid, gid: this.opts.gid, nlink: 1, blocks: Math.ceil(f.sizeBytes / 512), blksize: 4096, ino: 0x4000_0000 + f.id };
  }

  private auxChanged(rel: string): void {
    if (fileKind(rel) === 'aux') this.opts.onAuxChange?.(rel);
  }

  private openLocal(rel: string, flags: number, mode?: number): number {
    // O_DIRECT needs aligned buffers on the local file system; the kernel's FUSE layer already did the direct part.
    const f = flags & ~(constants.O_DIRECT ?? 0) & ~(mode === undefined ? constants.O_CREAT | constants.O_EXCL : 0);
    const fd = mode === undefined ? openSync(this.local(rel), f) : openSync(this.local(rel), f | constants.O_CREAT, mode & 0o7777);
    const h = this.nextHandle++;
    const log = rel === 'ib_logfile0';
    this.handles.set(h, { kind: 'local', fd, rel, log, sync: log && (flags & (constants.O_DSYNC | constants.O_SYNC)) !== 0 });
    return h;
  }

  private newSpace(rel: string): SpaceFile {
    const f: SpaceFile = { id: this.nextNodeId++, spaceId: undefined, sizeBytes: 0, basePages: 0, lastMiss: undefined, mtimeMs: Date.now() };
    this.spaces.set(rel, f);
    return f;
  }

  private dropSpace(rel: string): void {
    const f = this.spaces.get(rel);
    if (!f) return;
    this.spaces.delete(rel);
    this.lfc.dropRange(pageKey(f.id, 0), pageKey(f.id + 1, 0));
  }

  private errno(e: unknown): number {
    const code = (e as NodeJS.ErrnoException).errno;
    return typeof code === 'number' && code < 0 ? code : EIO;
  }

  /** The ops object for fuse-native. */
  ops(): Record<string, (...args: never[]) => void> {
    const ro = this.opts.readOnly;
    const guard = (cb: Cb, f: () => void): void => {
      try {
        f();
      } catch (e) {
        cb(this.errno(e));
      }
    };
    const ops = {
      init: (cb: Cb) => cb(0),
      statfs: (_path: string, cb: Cb) =>
        cb(0, { bsize: 4096, frsize: 4096, blocks: 1 << 30, bfree: 1 << 29, bavail: 1 << 29, files: 1 << 20, ffree: 1 << 19, favail: 1 << 19, fsid: 0x5354, flag: 0, namemax: 255 }),
      access: (_path: string, _mode: number, cb: Cb) => cb(0),
      getattr: (path: string, cb: Cb) => {
        const rel = relPath(path);
        const f = this.spaces.get(rel);
        if (f) return cb(0, this.spaceStat(f));
        guard(cb, () => cb(0, this.statOf(lstatSync(this.local(rel)))));
      },
      fgetattr: (path: string, _fd: number, cb: Cb) => ops.getattr(path, cb),
      readdir: (path: string, cb: Cb) => {
        const rel = relPath(path);
        guard(cb, () => {
          const names = new Set(readdirSync(this.local(rel)));
          const prefix = rel === '' ? '' : `${rel}/`;
          for (const p of this.spaces.keys()) if (p.startsWith(prefix) && !p.slice(prefix.length).includes('/')) names.add(p.slice(prefix.length));
          cb(0, [...names]);
        });
      },
      open: (path: string, flags: number, cb: Cb) => {
        const rel = relPath(path);
        const f = this.spaces.get(rel);
        if (f) {
          if ((flags & constants.O_TRUNC) !== 0 && !ro) this.truncateSpace(f, 0);
          const h = this.nextHandle++;
          this.handles.set(h, { kind: 'space', file: f });
          return cb(0, h);
        }
        guard(cb, () => cb(0, this.openLocal(rel, flags)));
      },
      create: (path: string, mode: number, cb: Cb) => {
        const rel = relPath(path);
        if (fileKind(rel) === 'tablespace') {
          if (ro) return cb(EROFS);
          if (this.spaces.has(rel)) return cb(EEXIST);
          const h = this.nextHandle++;
          this.handles.set(h, { kind: 'space', file: this.newSpace(rel) });
          return cb(0, h);
        }
        guard(cb, () => {
          const h = this.openLocal(rel, constants.O_RDWR | constants.O_CREAT, mode);
          this.auxChanged(rel);
          cb(0, h);
        });
      },
      release: (_path: string, fd: number, cb: Cb) => {
        const h = this.handles.get(fd);
        this.handles.delete(fd);
        if (h?.kind === 'local') guard(cb, () => {
          closeSync(h.fd);
          cb(0);
        });
        else cb(0);
      },
      flush: (_path: string, _fd: number, cb: Cb) => cb(0),
      fsyncdir: (_path: string, _datasync: number, _fd: number, cb: Cb) => cb(0),
      fsync: (_path: string, _datasync: number, fd: number, cb: Cb) => {
        const h = this.handles.get(fd);
        if (!h) return cb(EBADF);
        // Only the log needs durability, and its durability is the quorum's commit.
        if (h.kind === 'local' && h.log && this.redo) {
          this.redo.waitDurable().then(
            () => cb(0),
            (e: unknown) => {
              this.opts.log?.(`fsync of ib_logfile0 failed: ${e instanceof Error ? e.message : String(e)}`);
              cb(EIO);
            },
          );
          return;
        }
        if (h.kind === 'local' && fileKind(h.rel) === 'aux') return fsync(h.fd, (e) => cb(e ? this.errno(e) : 0));
        cb(0);
      },
      read: (_path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) => {
        const h = this.handles.get(fd);
        if (!h) return cb(EBADF);
        if (h.kind === 'local') {
          read(h.fd, buf, 0, len, pos, (e, n) => cb(e ? this.errno(e) : n));
          return;
        }
        this.readSpace(h.file, buf, len, pos).then(cb, (e: unknown) => {
          this.opts.log?.(`read of a tablespace failed: ${e instanceof Error ? e.message : String(e)}`);
          cb(EIO);
        });
      },
      write: (_path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) => {
        const h = this.handles.get(fd);
        if (!h) return cb(EBADF);
        // Read-only: tablespaces and the log stay as they are at the LSN; other files are local scratch, as in a basebackup.
        if (ro && (h.kind === 'space' || h.log)) return cb(EROFS);
        if (h.kind === 'space') {
          this.writeSpace(h.file, buf, len, pos).then(cb, (e: unknown) => {
            this.opts.log?.(`write of a tablespace failed: ${e instanceof Error ? e.message : String(e)}`);
            cb(EIO);
          });
          return;
        }
        if (h.log) {
          // Synchronously: the sink reads back exactly what was written, in the order MariaDB wrote it.
          let n: number;
          try {
            n = writeSync(h.fd, buf, 0, len, pos);
            this.redo?.onWrite(pos, n);
          } catch (e) {
            return cb(this.errno(e));
          }
          if (h.sync && this.redo) {
            this.redo.waitDurable().then(
              () => cb(n),
              () => cb(EIO),
            );
            return;
          }
          return cb(n);
        }
        write(h.fd, buf, 0, len, pos, (e, n) => {
          if (!e) this.auxChanged(h.rel);
          cb(e ? this.errno(e) : n);
        });
      },
      truncate: (path: string, size: number, cb: Cb) => {
        const rel = relPath(path);
        const f = this.spaces.get(rel);
        if (f) {
          if (ro) return cb(EROFS);
          this.truncateSpace(f, size);
          return cb(0);
        }
        guard(cb, () => {
          truncateSync(this.local(rel), size);
          this.auxChanged(rel);
          cb(0);
        });
      },
      ftruncate: (path: string, fd: number, size: number, cb: Cb) => {
        const h = this.handles.get(fd);
        if (!h) return cb(EBADF);
        if (h.kind === 'space') {
          if (ro) return cb(EROFS);
          this.truncateSpace(h.file, size);
          return cb(0);
        }
        guard(cb, () => {
          ftruncateSync(h.fd, size);
          this.auxChanged(relPath(path));
          cb(0);
        });
      },
      unlink: (path: string, cb: Cb) => {
        const rel = relPath(path);
        if (this.spaces.has(rel)) {
          if (ro) return cb(EROFS);
          this.dropSpace(rel);
          return cb(0);
        }
        guard(cb, () => {
          unlinkSync(this.local(rel));
          this.auxChanged(rel);
          cb(0);
        });
      },
      rename: (src: string, dest: string, cb: Cb) => {
        const from = relPath(src);
        const to = relPath(dest);
        const f = this.spaces.get(from);
        if (ro && (f || this.spaces.has(to))) return cb(EROFS);
        guard(cb, () => {
          if (f) {
            this.dropSpace(to);
            try {
              unlinkSync(this.local(to));
            } catch {
              // nothing local there
            }
            this.spaces.delete(from);
            this.spaces.set(to, f);
            f.mtimeMs = Date.now();
            return cb(0);
          }
          const st = lstatSync(this.local(from));
          this.dropSpace(to);
          renameSync(this.local(from), this.local(to));
          if (st.isDirectory()) {
            // A directory moves with the tablespaces inside it.
            for (const [p, s] of [...this.spaces]) {
              if (!p.startsWith(`${from}/`)) continue;
              this.spaces.delete(p);
              this.spaces.set(to + p.slice(from.length), s);
            }
          }
          this.auxChanged(from);
          this.auxChanged(to);
          cb(0);
        });
      },
      mkdir: (path: string, mode: number, cb: Cb) => {
        guard(cb, () => {
          mkdirSync(this.local(relPath(path)), mode & 0o7777);
          cb(0);
        });
      },
      rmdir: (path: string, cb: Cb) => {
        const rel = relPath(path);
        for (const p of this.spaces.keys()) if (p.startsWith(`${rel}/`)) return cb(ENOTEMPTY);
        guard(cb, () => {
          rmdirSync(this.local(rel));
          cb(0);
        });
      },
      utimens: (path: string, atime: number, mtime: number, cb: Cb) => {
        const rel = relPath(path);
        const f = this.spaces.get(rel);
        if (f) {
          f.mtimeMs = Number(mtime) || Date.now();
          return cb(0);
        }
        guard(cb, () => {
          utimesSync(this.local(rel), new Date(Number(atime)), new Date(Number(mtime)));
          cb(0);
        });
      },
      chmod: (_path: string, _mode: number, cb: Cb) => cb(0),
      chown: (_path: string, _uid: number, _gid: number, cb: Cb) => cb(0),
      link: (_a: string, _b: string, cb: Cb) => cb(ENOSYS),
      symlink: (_a: string, _b: string, cb: Cb) => cb(ENOSYS),
      readlink: (_p: string, cb: Cb) => cb(ENOENT),
    };
    const all = ops as unknown as Record<string, (...args: never[]) => void>;
    return this.opts.localReady ? gateOps(all, this.opts.localReady, EIO) : all;
  }
}
