/**
 * WAL segment files of one timeline. The WAL is one contiguous byte range
 * `[oldestLsn, endLsn)` of the redo stream; it is cut into segment files at
 * multiples of `segmentBytes` of LSN, each named by the LSN of its first byte
 * (16 zero-padded lowercase hex digits + `.wal`). The first segment of a
 * timeline starts at the timeline's start LSN, which need not be aligned.
 *
 * Durability: `append` only writes; `flush` fdatasyncs and moves `flushLsn`
 * to the end written before it began: one fdatasync makes an append durable.
 * Nothing else records the end on each flush. After a crash, `open` finds it
 * again: from `durableEndLsn` (a lower bound the caller recorded in the
 * control file now and then) and, given `scanFromLsn` (an mtr boundary at or
 * below it), by scanning the tail with `findEndOfWal` (core redo/wal-tail.ts)
 * and verifying every CRC; it keeps the valid WAL, fsyncs it, and cuts the
 * torn rest. Bytes missing below `durableEndLsn` mean the disk lost
 * acknowledged WAL, and `open` refuses the timeline (WalCorrupt).
 *
 * Why keeping bytes past the last fsync is right (neon's find_end_of_wal
 * does the same): after kill -9 the page cache still holds every byte
 * written, so the tail is exactly what the proposer sent in the term this
 * acceptor follows, whether or not its fdatasync had run. None of it was
 * acknowledged unless it was fsynced; what was not is kept only because it
 * is valid WAL, and `open` fsyncs it before reporting it, so what is reported
 * as flushed has been fsynced. Keeping it is as if the append had completed
 * and its answer were lost. A trailing incomplete mtr is kept when its bytes
 * are a valid prefix, because an acknowledged append could end inside an mtr
 * before appends had to be whole mtrs (WAL of older versions). After a power loss instead of a
 * process kill, bytes past the last fsync may be missing or zeros: a zero
 * or a wrong CRC ends the WAL at the last whole mtr, which cannot cut below
 * what was fsynced, except in one case: an fsynced end inside an mtr
 * followed by lost bytes. That case is not repaired, and neither is zeros
 * hiding inside a kept prefix. Both need a power loss on a file system that
 * exposes unwritten extents.
 *
 * The append path follows the framing (`MtrStreamCheck`, with the CRCs of
 * the first and last mtr of each append) so that the caller knows whether a
 * scan from its recorded boundary would find the end again. If the bytes
 * are not a redo stream (test data, a discontinuity), the caller has to
 * record the exact end some other way (see timeline.ts).
 *
 * Mutations (append, flush, truncate, removeBefore) must not overlap: the
 * timeline serializes them. Reads may run alongside appends; they only see
 * `[oldestLsn, flushLsn)`.
 */
import { constants } from 'node:fs';
import { mkdir, open, readdir, stat, truncate as truncateFile, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LsnGap, LsnOutOfRange, assert, redo } from '@strata/core';
import { WalCorrupt } from '../errors.js';
import { fsyncDir, isNotFound } from './fs-util.js';
import { WalTailCache } from './wal-tail-cache.js';

export const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;
const SEGMENT_NAME = /^([0-9a-f]{16})\.wal$/;

export function segmentName(startLsn: bigint): string {
  return `${startLsn.toString(16).padStart(16, '0')}.wal`;
}

interface Segment {
  /** LSN of the segment's first byte (the file name). */
  readonly startLsn: bigint;
  /** LSN one past the last byte this segment may hold (the next multiple of the segment size). */
  readonly limitLsn: bigint;
  /** LSN one past the last byte written. */
  endLsn: bigint;
}

export interface WalStoreOptions {
  /** The timeline's first LSN. */
  timelineStartLsn: bigint;
  /** A durable end recorded earlier (a lower bound): WAL below it must exist. */
  durableEndLsn: bigint;
  /**
   * An mtr boundary at or below `durableEndLsn` from which the stream was
   * valid WAL when it was recorded: the tail is scanned from here, and
   * valid WAL past `durableEndLsn` is kept. Without it, everything past
   * `durableEndLsn` is cut.
   */
  scanFromLsn?: bigint | undefined;
  segmentBytes?: number;
  /** Bytes of the newest WAL kept in memory for reads (wal-tail-cache.ts; default 4 MiB, 0: none). */
  tailCacheBytes?: number;
}

/** How much of the tail recovery reads at once. */
const SCAN_CHUNK_BYTES = 1 << 20;

export interface FlushResult {
  flushLsn: bigint;
  /** Time spent in fsync (files and directory), for the fsync latency histogram. */
  fsyncSeconds: number;
  /** How many fsync calls it took (0 when nothing was dirty). */
  fsyncs: number;
}

export class WalStore {
  private readonly segments: Segment[];
  private readonly segmentBytes: bigint;
  private readonly handles = new Map<bigint, FileHandle>();
  private readonly dirty = new Set<bigint>();
  private dirDirty = false;
  private flushed: bigint;
  private oldest: bigint;
  /** The framing of the stream since an mtr boundary, while it is valid WAL (see `recoverableFrom`). */
  private frames: redo.MtrStreamCheck | undefined;
  /** Set by a failed flush: nothing is ever reported durable again (see `flush`). */
  private fsyncFailure: Error | undefined;
  /** The newest appended bytes, which nearly every read asks for (wal-tail-cache.ts). */
  private readonly tail: WalTailCache;
  /** Reads answered from `tail`, and reads that went to the segment files. */
  tailReads = 0;
  fileReads = 0;

  private constructor(
    readonly dir: string,
    segments: Segment[],
    segmentBytes: bigint,
    flushLsn: bigint,
    oldestLsn: bigint,
    tailCacheBytes: number | undefined,
  ) {
    this.tail = new WalTailCache(tailCacheBytes);
    this.segments = segments;
    this.segmentBytes = segmentBytes;
    this.flushed = flushLsn;
    this.oldest = oldestLsn;
  }

  /**
   * Opens (creating if needed) the WAL directory and recovers its end: at
   * least `durableEndLsn`, plus the valid WAL a scan from `scanFromLsn` finds
   * past it (made durable here). The torn rest is cut.
   */
  static async open(dir: string, options: WalStoreOptions): Promise<WalStore> {
    const segmentBytes = BigInt(options.segmentBytes ?? DEFAULT_SEGMENT_BYTES);
    assert(segmentBytes >= 16n && (segmentBytes & (segmentBytes - 1n)) === 0n, 'segment size must be a power of two');
    const { timelineStartLsn: start, durableEndLsn: durableEnd, scanFromLsn } = options;
    assert(durableEnd >= start, 'durable end before the timeline start');
    assert(scanFromLsn === undefined || (scanFromLsn >= start && scanFromLsn <= durableEnd), 'scan start outside [timeline start, durable end]');
    await mkdir(dir, { recursive: true });

    const found: { startLsn: bigint; size: bigint }[] = [];
    for (const name of await readdir(dir)) {
      const m = SEGMENT_NAME.exec(name);
      if (!m) continue;
      const { size } = await stat(join(dir, name));
      found.push({ startLsn: BigInt(`0x${m[1]}`), size: BigInt(size) });
    }
    found.sort((a, b) => (a.startLsn < b.startLsn ? -1 : a.startLsn > b.startLsn ? 1 : 0));

    // The files as they are: a contiguous run of segments (a torn tail may still follow a short one).
    const limitOf = (s: bigint) => (s / segmentBytes + 1n) * segmentBytes;
    const segments: Segment[] = [];
    let contiguousEnd = start;
    for (const f of found) {
      if (f.startLsn < start) throw new WalCorrupt(dir, `segment ${segmentName(f.startLsn)} starts before the timeline start ${start}`);
      const prev = segments[segments.length - 1];
      if (prev && (f.startLsn !== prev.limitLsn || prev.endLsn !== prev.limitLsn)) {
        // Past the durable end it is a torn tail (cut below); before it, lost WAL.
        if (f.startLsn > durableEnd) break;
        if (f.startLsn !== prev.limitLsn) throw new WalCorrupt(dir, `segment ${segmentName(f.startLsn)} does not follow ${segmentName(prev.startLsn)}`);
        throw new WalCorrupt(dir, `segment ${segmentName(prev.startLsn)} is short but has a successor`);
      }
      if (!prev && f.startLsn !== start && f.startLsn % segmentBytes !== 0n) {
        throw new WalCorrupt(dir, `first segment ${segmentName(f.startLsn)} is neither the timeline start nor aligned`);
      }
      const limitLsn = limitOf(f.startLsn);
      const endLsn = f.startLsn + f.size;
      if (endLsn > limitLsn) throw new WalCorrupt(dir, `segment ${segmentName(f.startLsn)} is longer than a segment`);
      segments.push({ startLsn: f.startLsn, limitLsn, endLsn });
      contiguousEnd = endLsn;
    }
    const store = new WalStore(dir, segments, segmentBytes, durableEnd, segments[0] ? segments[0].startLsn : durableEnd, options.tailCacheBytes);
    if (segments.length === 0 && durableEnd > start) throw new WalCorrupt(dir, `durable WAL ends at ${durableEnd} but there are no segment files`);
    if (contiguousEnd < durableEnd) throw new WalCorrupt(dir, `durable WAL ends at ${durableEnd} but the files end at ${contiguousEnd}`);

    let recovered = durableEnd;
    if (scanFromLsn !== undefined && scanFromLsn >= store.oldest) {
      // Every CRC is verified here, where nothing vouches for the bytes.
      const check = new redo.MtrStreamCheck(scanFromLsn, 'all');
      // Bounded by the tail's size / SCAN_CHUNK_BYTES.
      for (let lsn = scanFromLsn; lsn < contiguousEnd && check.ok; ) {
        const to = contiguousEnd - lsn > BigInt(SCAN_CHUNK_BYTES) ? lsn + BigInt(SCAN_CHUNK_BYTES) : contiguousEnd;
        check.push(await store.readRange(lsn, to));
        lsn = to;
      }
      if (check.endLsn >= durableEnd) {
        recovered = check.endLsn;
        check.crc = 'edges';
        store.frames = check;
      }
    }
    await store.cutAfter(recovered, found);
    // Valid WAL past the recorded durable end may not have reached the disk before the crash.
    if (recovered > durableEnd) {
      for (const seg of segments) {
        if (seg.endLsn <= durableEnd) continue;
        const fd = await open(join(dir, segmentName(seg.startLsn)), 'r+');
        await fd.datasync();
        await fd.close();
      }
      await fsyncDir(dir);
    }
    store.flushed = recovered;
    return store;
  }

  /** Removes every byte and file past `end` (a torn tail), durably. `found` lists the files present. */
  private async cutAfter(end: bigint, found: readonly { startLsn: bigint; size: bigint }[]): Promise<void> {
    let changed = false;
    for (const f of found) {
      const path = join(this.dir, segmentName(f.startLsn));
      const kept = this.segments.find((s) => s.startLsn === f.startLsn);
      // A first segment that starts right at the end stays, emptied: see `truncate`.
      if (!kept || f.startLsn > end || (f.startLsn === end && this.segments[0] !== kept)) {
        await unlink(path);
        if (kept) this.segments.splice(this.segments.indexOf(kept), 1);
        changed = true;
        continue;
      }
      if (kept.endLsn > end) {
        await truncateFile(path, Number(end - f.startLsn));
        const fd = await open(path, 'r+');
        await fd.sync();
        await fd.close();
        kept.endLsn = end;
        changed = true;
      }
    }
    if (changed) await fsyncDir(this.dir);
    if (this.segments.length === 0) this.oldest = end;
  }

  /** End of the WAL written (not necessarily durable). */
  get endLsn(): bigint {
    const last = this.segments[this.segments.length - 1];
    return last ? last.endLsn : this.flushed;
  }

  /** End of the durable WAL. */
  get flushLsn(): bigint {
    return this.flushed;
  }

  /** First LSN still stored locally. */
  get oldestLsn(): bigint {
    return this.oldest;
  }

  /** Bytes of WAL in the segment files. */
  get bytesOnDisk(): bigint {
    return this.segments.reduce((sum, s) => sum + (s.endLsn - s.startLsn), 0n);
  }

  /** Segment file names and ranges, oldest first (for status and backup). */
  listSegments(): { name: string; startLsn: bigint; endLsn: bigint; full: boolean }[] {
    return this.segments.map((s) => ({ name: segmentName(s.startLsn), startLsn: s.startLsn, endLsn: s.endLsn, full: s.endLsn === s.limitLsn }));
  }

  private async handle(seg: Segment): Promise<FileHandle> {
    let fd = this.handles.get(seg.startLsn);
    if (!fd) {
      // Not O_APPEND: Linux ignores the position of writes to files opened for appending.
      fd = await open(join(this.dir, segmentName(seg.startLsn)), constants.O_RDWR | constants.O_CREAT, 0o644);
      this.handles.set(seg.startLsn, fd);
    }
    return fd;
  }

  /**
   * Writes `bytes` at `beginLsn`, which must be the current end: anything
   * else (a gap or an overlap) throws LsnGap and writes nothing.
   */
  async append(beginLsn: bigint, bytes: Uint8Array): Promise<bigint> {
    const end = this.endLsn;
    if (beginLsn !== end) throw new LsnGap(end, beginLsn);
    let lsn = beginLsn;
    let offset = 0;
    // Each pass fills one segment; bounded by the number of segments the bytes span.
    while (offset < bytes.length) {
      let seg = this.segments[this.segments.length - 1];
      if (!seg || seg.endLsn === seg.limitLsn) {
        seg = { startLsn: lsn, limitLsn: (lsn / this.segmentBytes + 1n) * this.segmentBytes, endLsn: lsn };
        this.segments.push(seg);
        if (this.segments.length === 1) this.oldest = lsn;
        this.dirDirty = true;
      }
      const room = Number(seg.limitLsn - seg.endLsn);
      const n = Math.min(room, bytes.length - offset);
      const fd = await this.handle(seg);
      let written = 0;
      while (written < n) {
        const r = await fd.write(bytes, offset + written, n - written, Number(seg.endLsn - seg.startLsn) + written);
        assert(r.bytesWritten > 0, 'write made no progress');
        written += r.bytesWritten;
      }
      seg.endLsn += BigInt(n);
      this.dirty.add(seg.startLsn);
      offset += n;
      lsn += BigInt(n);
    }
    this.followFrames(beginLsn, bytes);
    this.tail.push(beginLsn, bytes);
    return lsn;
  }

  /**
   * Follows the framing over appended bytes. When the stream stops being
   * valid WAL, an append that starts with a whole valid mtr starts a new
   * valid run there (the bytes are redo again, from a boundary).
   */
  private followFrames(beginLsn: bigint, bytes: Uint8Array): void {
    if (this.frames?.ok && this.frames.push(bytes)) return;
    const fresh = new redo.MtrStreamCheck(beginLsn, 'edges');
    this.frames = fresh.push(bytes) && fresh.wholeEndLsn > beginLsn ? fresh : undefined;
  }

  /**
   * Whether a scan from the mtr boundary `scanFromLsn` would find the end of
   * everything written so far (a kill -9 keeps what was written): the
   * stream has been valid WAL since at or before it.
   */
  recoverableFrom(scanFromLsn: bigint | undefined): boolean {
    const f = this.frames;
    return scanFromLsn !== undefined && f !== undefined && f.ok && f.startLsn <= scanFromLsn && scanFromLsn <= f.wholeEndLsn;
  }

  /** The end of the last whole mtr written, while the stream is valid WAL (a boundary to scan from later). */
  get lastMtrEndLsn(): bigint | undefined {
    return this.frames?.ok ? this.frames.wholeEndLsn : undefined;
  }

  /** Follows the framing again from the boundary `fromLsn` over what is stored (after a truncate). */
  async followFramesFrom(fromLsn: bigint | undefined): Promise<void> {
    this.frames = undefined;
    if (fromLsn === undefined || fromLsn < this.oldest || fromLsn > this.endLsn) return;
    const check = new redo.MtrStreamCheck(fromLsn, 'all');
    const end = this.endLsn;
    // Bounded by the bytes after fromLsn / SCAN_CHUNK_BYTES.
    for (let lsn = fromLsn; lsn < end && check.ok; ) {
      const to = end - lsn > BigInt(SCAN_CHUNK_BYTES) ? lsn + BigInt(SCAN_CHUNK_BYTES) : end;
      check.push(await this.readRange(lsn, to));
      lsn = to;
    }
    if (check.ok) {
      check.crc = 'edges';
      this.frames = check;
    }
  }

  /** Makes everything appended durable; returns the new flush LSN and the time fsync took. */
  async flush(): Promise<FlushResult> {
    // After a failed fsync the kernel may have dropped the dirty pages and
    // cleared the error: a retry could succeed without the data on disk.
    if (this.fsyncFailure) throw this.fsyncFailure;
    try {
      return await this.flushOnce();
    } catch (e) {
      this.fsyncFailure = e instanceof Error ? e : new Error(String(e));
      throw e;
    }
  }

  private async flushOnce(): Promise<FlushResult> {
    let fsyncSeconds = 0;
    let fsyncs = 0;
    // What this flush covers is fixed before its first await.
    const target = this.endLsn;
    const dirty = [...this.dirty].sort((a, b) => (a < b ? -1 : 1));
    this.dirty.clear();
    const dirDirty = this.dirDirty;
    this.dirDirty = false;
    for (const start of dirty) {
      const fd = this.handles.get(start);
      assert(fd !== undefined, 'dirty segment without a handle');
      const t0 = performance.now();
      await fd.datasync();
      fsyncSeconds += (performance.now() - t0) / 1000;
      fsyncs++;
      // Only the segment being appended to keeps its handle.
      const last = this.segments[this.segments.length - 1];
      if (start !== last?.startLsn && !this.dirty.has(start)) {
        await fd.close();
        this.handles.delete(start);
      }
    }
    if (dirDirty) {
      const t0 = performance.now();
      await fsyncDir(this.dir);
      fsyncSeconds += (performance.now() - t0) / 1000;
      fsyncs++;
    }
    if (target > this.flushed) this.flushed = target;
    return { flushLsn: this.flushed, fsyncSeconds, fsyncs };
  }

  /**
   * Durably discards all WAL at and after `lsn` (a new proposer's history
   * diverges there). The caller lowers the control file's durable end first,
   * so a crash half way leaves a torn tail that `open` cuts.
   */
  async truncate(lsn: bigint): Promise<void> {
    if (lsn < this.oldest || lsn > this.endLsn) {
      throw new LsnOutOfRange(lsn, `truncate point outside the stored WAL [${this.oldest}, ${this.endLsn}]`);
    }
    // Bounded by the number of segments.
    while (this.segments.length > 0) {
      const seg = this.segments[this.segments.length - 1]!;
      if (seg.endLsn <= lsn) break;
      // The last remaining segment is emptied rather than removed, so the
      // files never vanish while the control file says WAL exists.
      if (seg.startLsn >= lsn && this.segments.length > 1) {
        await this.closeHandle(seg.startLsn);
        await unlink(join(this.dir, segmentName(seg.startLsn)));
        this.segments.pop();
        this.dirDirty = true;
        continue;
      }
      const fd = await this.handle(seg);
      await fd.truncate(Number(lsn - seg.startLsn));
      await fd.datasync();
      seg.endLsn = lsn;
      this.dirty.delete(seg.startLsn);
      break;
    }
    if (this.dirDirty) {
      await fsyncDir(this.dir);
      this.dirDirty = false;
    }
    if (this.flushed > lsn) this.flushed = lsn;
    this.tail.truncate(lsn);
    // The framing state was of the old end: the caller follows it again (`followFramesFrom`).
    this.frames = undefined;
  }

  /**
   * Removes whole segments that end at or before `lsn` (backed up and
   * persisted by the page server). The newest segment always stays, so that
   * the files exist whenever the control file says WAL does. Returns the
   * bytes removed.
   */
  async removeBefore(lsn: bigint): Promise<bigint> {
    assert(lsn <= this.flushed, 'removing WAL that is not durable');
    let removed = 0n;
    while (this.segments.length > 1) {
      const seg = this.segments[0]!;
      if (seg.endLsn > lsn) break;
      await this.closeHandle(seg.startLsn);
      await unlink(join(this.dir, segmentName(seg.startLsn)));
      this.segments.shift();
      removed += seg.endLsn - seg.startLsn;
    }
    if (removed > 0n) {
      await fsyncDir(this.dir);
      this.oldest = this.segments[0]!.startLsn;
    }
    return removed;
  }

  /** The durable bytes `[from, to)`, across segments. */
  async read(from: bigint, to: bigint): Promise<Uint8Array> {
    if (from > to) throw new LsnOutOfRange(from, `read start after its end ${to}`);
    if (from < this.oldest) throw new LsnOutOfRange(from, `WAL before ${this.oldest} is no longer stored here`);
    if (to > this.flushed) throw new LsnOutOfRange(to, `WAL is durable only up to ${this.flushed}`);
    return this.readRange(from, to);
  }

  /** The stored bytes `[from, to)`, durable or not. */
  private async readRange(from: bigint, to: bigint): Promise<Uint8Array> {
    assert(from >= this.oldest && from <= to && to <= this.endLsn, `read ${from}..${to} outside the stored WAL`);
    const cached = this.tail.read(from, to);
    if (cached) {
      this.tailReads++;
      return cached;
    }
    this.fileReads++;
    const out = new Uint8Array(Number(to - from));
    let lsn = from;
    for (const seg of this.segments) {
      if (lsn >= to) break;
      if (seg.endLsn <= lsn) continue;
      assert(seg.startLsn <= lsn, 'hole in the segment list');
      const n = Number((to < seg.endLsn ? to : seg.endLsn) - lsn);
      const fd = await open(join(this.dir, segmentName(seg.startLsn)), 'r');
      try {
        let done = 0;
        while (done < n) {
          const r = await fd.read(out, Number(lsn - from) + done, n - done, Number(lsn - seg.startLsn) + done);
          if (r.bytesRead === 0) throw new WalCorrupt(this.dir, `segment ${segmentName(seg.startLsn)} is shorter than recorded`);
          done += r.bytesRead;
        }
      } finally {
        await fd.close();
      }
      lsn += BigInt(n);
    }
    assert(lsn === to, 'read did not reach its end');
    return out;
  }

  private async closeHandle(start: bigint): Promise<void> {
    const fd = this.handles.get(start);
    if (fd) {
      await fd.close();
      this.handles.delete(start);
    }
    this.dirty.delete(start);
  }

  async close(): Promise<void> {
    for (const start of [...this.handles.keys()]) await this.closeHandle(start);
  }
}

/** Whether a WAL directory exists (used when deciding what to recover). */
export async function walDirExists(dir: string): Promise<boolean> {
  try {
    return (await stat(dir)).isDirectory();
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}
