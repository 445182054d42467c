/**
 * What a timeline keeps besides pages: the tablespace directory (space id →
 * datadir path, from FILE_CREATE/RENAME/DELETE events) and the aux-file sets
 * (everything in a datadir the redo log does not describe: .frm files, Aria
 * system tables, ...), each stored whole as one tar, `aux/<lsn>.tar`, locally
 * and in remote storage. The first read of a set unpacks it under
 * `aux/<lsn>/` (basebackups and the datadir route read files): a compute
 * stores a set of ~200 files at every DDL, and writing each file at once
 * was most of the page server's time in a sysbench prepare. Sets stored
 * before the tar layout are directories only, and read as they are.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { listFiles, TAR_END_BYTES, TarDirSink, tarHeader, tarPadding, TarParser } from '@strata/datadir';
import { assert, type AuxFile, CorruptFrame, isSafeRelativePath } from '@strata/core';
import type { LayerManager } from './layer-manager.js';
import type { RemoteTimeline } from './remote-timeline.js';
import type { TablespaceEvent } from './timeline-meta.js';

/** Tablespaces (space id → datadir path) as of `lsn`, from events in the order they were logged. */
export function tablespacesAt(events: readonly TablespaceEvent[], lsn: bigint): Map<number, string> {
  const out = new Map<number, string>();
  for (const e of events) {
    if (e.lsn > lsn) continue;
    if (e.kind === 'delete') out.delete(e.spaceId);
    else out.set(e.spaceId, e.path);
  }
  return out;
}

/** Where a timeline's aux sets come from below its branch point. */
export interface AuxAncestor {
  auxDirAt(lsn: bigint): string | undefined;
}

export class AuxStore {
  constructor(
    private readonly layers: LayerManager,
    private readonly remote: RemoteTimeline | undefined,
    private readonly ancestor: AuxAncestor | undefined,
  ) {}

  private dirOf(lsn: bigint): string {
    return join(this.layers.dir, 'aux', lsn.toString());
  }

  /** The newest aux-file set at or below `lsn` (directory), from this timeline or its ancestor at the branch point. */
  auxDirAt(lsn: bigint): string | undefined {
    let best: bigint | undefined;
    for (const a of this.layers.meta.auxSets) if (a <= lsn && (best === undefined || a > best)) best = a;
    if (best !== undefined) return this.unpacked(best);
    const branch = this.layers.meta.ancestor;
    if (this.ancestor && branch) return this.ancestor.auxDirAt(branch.lsn);
    return undefined;
  }

  /** The directory of the set at `lsn`, unpacked from its tar on first use (whole or not at all: a crash mid-way leaves only a temp dir). */
  private unpacked(lsn: bigint): string {
    const dir = this.dirOf(lsn);
    const tar = this.tarOf(lsn);
    if (existsSync(dir) || !existsSync(tar)) return dir;
    const tmp = `${dir}.unpacking`;
    rmSync(tmp, { recursive: true, force: true });
    unpackAuxSet(readFileSync(tar), tmp);
    renameSync(tmp, dir);
    return dir;
  }

  /** The set at `lsn` packed as one tar: what goes to remote storage. */
  private tarOf(lsn: bigint): string {
    return join(this.layers.dir, 'aux', `${lsn}.tar`);
  }

  /**
   * Store `files` as the full aux set valid from `lsn`, replacing one stored
   * at that LSN before; the set is queued for remote storage as one object
   * (`aux/<lsn>.tar`: a set is a few hundred small files, and a compute
   * stores one per DDL, which as separate uploads filled the queue for
   * minutes), then the index that names the set. The compute's aux capture
   * stores sets; import stores the first. Returns the number of files.
   */
  putAuxSet(lsn: bigint, files: readonly AuxFile[]): number {
    // The route checked the paths already; a path that leaves the set's directory here is a bug.
    for (const f of files) assert(isSafeRelativePath(f.path), `aux file path ${f.path} leaves the set's directory`);
    // A set stored at this LSN before is replaced whole: its unpacked copy goes, the next read unpacks this one.
    rmSync(this.dirOf(lsn), { recursive: true, force: true });
    mkdirSync(dirname(this.tarOf(lsn)), { recursive: true });
    // Written before it is queued, replaced whole by the next set at this LSN: the upload reads whichever is newest.
    writeFileSync(this.tarOf(lsn), packAuxSet(files));
    this.remote?.uploadFile(auxSetKey(lsn), this.tarOf(lsn));
    const sets = this.layers.meta.auxSets;
    if (!sets.includes(lsn)) this.layers.update({ auxSets: [...sets, lsn].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) }, true);
    return files.length;
  }

  /** Queue every stored aux set remote storage is not known to hold (a full upload; the caller queues the index after). */
  scheduleUploads(): void {
    const remote = this.remote;
    if (!remote) return;
    for (const lsn of this.layers.meta.auxSets) {
      const base = this.dirOf(lsn);
      if ((!existsSync(base) && !existsSync(this.tarOf(lsn))) || remote.isUploadedKey(auxSetKey(lsn))) continue;
      // A set stored before sets were packed has no tar yet.
      if (!existsSync(this.tarOf(lsn))) writeFileSync(this.tarOf(lsn), packAuxSet(listFiles(base).map((rel) => ({ path: rel, data: readFileSync(join(base, rel)) }))));
      remote.uploadFile(auxSetKey(lsn), this.tarOf(lsn));
    }
  }

  /**
   * The keys of the aux sets `lsns` as stored here: after a restart, the sets
   * the remote index lists are in remote storage (an index goes up after the
   * sets it names), so they need no upload again.
   */
  keysOf(lsns: readonly bigint[]): string[] {
    // A set the index lists may be absent here (a timeline restored from remote storage gets it on demand).
    return lsns.filter((lsn) => existsSync(this.dirOf(lsn)) || existsSync(this.tarOf(lsn))).map(auxSetKey);
  }
}

/** The remote key of the aux set at `lsn`. */
export function auxSetKey(lsn: bigint): string {
  return `aux/${lsn}.tar`;
}

/** An aux set as one tar (files only, in the order given). */
export function packAuxSet(files: readonly AuxFile[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = TAR_END_BYTES;
  for (const f of files) {
    const h = tarHeader({ path: f.path, size: f.data.length, type: 'file', mode: 0o640, mtimeSec: 0 });
    const pad = new Uint8Array(tarPadding(f.data.length));
    parts.push(h, f.data, pad);
    size += h.length + f.data.length + pad.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Unpack a set `packAuxSet` made into `dir` (a restore from remote storage). */
export function unpackAuxSet(tar: Uint8Array, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const sink = new TarDirSink(dir);
  try {
    const parser = new TarParser(sink);
    parser.push(tar);
    if (!parser.finished) throw new CorruptFrame(`aux set tar for ${dir} ends before its end marker`);
  } finally {
    sink.close();
  }
}
