/**
 * WAL segment files of one timeline. The WAL is one contiguous byte range
 * `[oldestLsn, endLsn)` of the redo stream; it is cut into segment files at
 * multiples of `segmentBytes` of LSN, each named by the LSN of its first byte
 * (16 zero-padded lowercase hex digits + `.wal`). The first segment of a
 * timeline starts at the timeline's start LSN, which need not be aligned.
 *
 * Durability: `append` only writes; `flush` fsyncs and moves `flushLsn` to
 * the end. The caller records `flushLsn` in the control file after `flush`
 * and passes it back to `open`, which cuts off any torn tail beyond it. Bytes
 * a crash left past the recorded end were never acknowledged, so cutting them
 * is safe; bytes missing before it mean the disk lost acknowledged WAL, and
 * `open` refuses the timeline (WalCorrupt).
 *
 * Mutations (append, flush, truncate, removeBefore) must not overlap: the
 * timeline serializes them. Reads may run alongside appends; they only see
 * `[oldestLsn, flushLsn)`.
 */
import { constants } from 'node:fs';
import { mkdir, open, readdir, stat, truncate as truncateFile, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LsnGap, LsnOutOfRange, assert } from '@strata/core';
import { WalCorrupt } from '../errors.js';
import { fsyncDir, isNotFound } from './fs-util.js';

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
  /** The durable end recorded in the control file; everything after it is cut at open. */
  durableEndLsn: bigint;
  segmentBytes?: number;
}

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

  private constructor(
    readonly dir: string,
    segments: Segment[],
    segmentBytes: bigint,
    flushLsn: bigint,
    oldestLsn: bigint,
  ) {
    this.segments = segments;
    this.segmentBytes = segmentBytes;
    this.flushed = flushLsn;
    this.oldest = oldestLsn;
  }

  /** Opens (creating if needed) the WAL directory and recovers it to `durableEndLsn`. */
  static async open(dir: string, options: WalStoreOptions): Promise<WalStore> {
    const segmentBytes = BigInt(options.segmentBytes ?? DEFAULT_SEGMENT_BYTES);
    assert(segmentBytes >= 16n && (segmentBytes & (segmentBytes - 1n)) === 0n, 'segment size must be a power of two');
    const { timelineStartLsn: start, durableEndLsn: durableEnd } = options;
    assert(durableEnd >= start, 'durable end before the timeline start');
    await mkdir(dir, { recursive: true });

    const found: { startLsn: bigint; size: bigint }[] = [];
    for (const name of await readdir(dir)) {
      const m = SEGMENT_NAME.exec(name);
      if (!m) continue;
      const { size } = await stat(join(dir, name));
      found.push({ startLsn: BigInt(`0x${m[1]}`), size: BigInt(size) });
    }
    found.sort((a, b) => (a.startLsn < b.startLsn ? -1 : a.startLsn > b.startLsn ? 1 : 0));

    const limitOf = (s: bigint) => (s / segmentBytes + 1n) * segmentBytes;
    const segments: Segment[] = [];
    let changed = false;
    for (const f of found) {
      const path = join(dir, segmentName(f.startLsn));
      if (f.startLsn > durableEnd || (f.startLsn === durableEnd && segments.length > 0)) {
        // Entirely beyond the durable end: a torn tail. (A first segment that
        // starts right at the durable end stays, emptied: see `truncate`.)
        await unlink(path);
        changed = true;
        continue;
      }
      if (f.startLsn < start) throw new WalCorrupt(dir, `segment ${segmentName(f.startLsn)} starts before the timeline start ${start}`);
      const prev = segments[segments.length - 1];
      if (prev && f.startLsn !== prev.limitLsn) {
        throw new WalCorrupt(dir, `segment ${segmentName(f.startLsn)} does not follow ${segmentName(prev.startLsn)}`);
      }
      if (prev && prev.endLsn !== prev.limitLsn) {
        throw new WalCorrupt(dir, `segment ${segmentName(prev.startLsn)} is short but has a successor`);
      }
      if (!prev && f.startLsn !== start && f.startLsn % segmentBytes !== 0n) {
        throw new WalCorrupt(dir, `first segment ${segmentName(f.startLsn)} is neither the timeline start nor aligned`);
      }
      const limitLsn = limitOf(f.startLsn);
      let endLsn = f.startLsn + f.size;
      if (endLsn > limitLsn) throw new WalCorrupt(dir, `segment ${segmentName(f.startLsn)} is longer than a segment`);
      if (endLsn > durableEnd) {
        await truncateFile(path, Number(durableEnd - f.startLsn));
        const fd = await open(path, 'r+');
        await fd.sync();
        await fd.close();
        endLsn = durableEnd;
        changed = true;
      }
      segments.push({ startLsn: f.startLsn, limitLsn, endLsn });
    }
    if (changed) await fsyncDir(dir);

    const last = segments[segments.length - 1];
    if (!last && durableEnd > start) throw new WalCorrupt(dir, `durable WAL ends at ${durableEnd} but there are no segment files`);
    const endLsn = last ? last.endLsn : durableEnd;
    if (endLsn < durableEnd) {
      throw new WalCorrupt(dir, `durable WAL ends at ${durableEnd} but the files end at ${endLsn}`);
    }
    const oldestLsn = segments[0] ? segments[0].startLsn : durableEnd;
    return new WalStore(dir, segments, segmentBytes, durableEnd, oldestLsn);
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
    return lsn;
  }

  /** Makes everything appended durable; returns the new flush LSN and the time fsync took. */
  async flush(): Promise<FlushResult> {
    let fsyncSeconds = 0;
    let fsyncs = 0;
    const last = this.segments[this.segments.length - 1];
    for (const start of [...this.dirty].sort((a, b) => (a < b ? -1 : 1))) {
      const fd = this.handles.get(start);
      assert(fd !== undefined, 'dirty segment without a handle');
      const t0 = performance.now();
      await fd.datasync();
      fsyncSeconds += (performance.now() - t0) / 1000;
      fsyncs++;
      this.dirty.delete(start);
      // Only the segment being appended to keeps its handle.
      if (start !== last?.startLsn) {
        await fd.close();
        this.handles.delete(start);
      }
    }
    if (this.dirDirty) {
      const t0 = performance.now();
      await fsyncDir(this.dir);
      fsyncSeconds += (performance.now() - t0) / 1000;
      fsyncs++;
      this.dirDirty = false;
    }
    this.flushed = this.endLsn;
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
