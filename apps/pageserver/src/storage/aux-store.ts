/**
 * What a timeline keeps besides pages: the tablespace directory (space id →
 * datadir path, from FILE_CREATE/RENAME/DELETE events) and the aux-file sets
 * (everything in a datadir the redo log does not describe: .frm files, Aria
 * system tables, ...), each stored whole under `aux/<lsn>/`.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { listFiles } from '@strata/datadir';
import { assert, type AuxFile, isSafeRelativePath } from '@strata/core';
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
    if (best !== undefined) return this.dirOf(best);
    const branch = this.layers.meta.ancestor;
    if (this.ancestor && branch) return this.ancestor.auxDirAt(branch.lsn);
    return undefined;
  }

  /**
   * Store `files` as the full aux set valid from `lsn`, replacing one stored
   * at that LSN before; each file is queued for remote storage, then the
   * index that names the set. The compute's shipper captures sets; import
   * stores the first. Returns the number of files.
   */
  putAuxSet(lsn: bigint, files: readonly AuxFile[]): number {
    const dest = this.dirOf(lsn);
    // A file of the set this one replaces that it no longer holds goes from remote storage too: else its queued upload
    // finds nothing to read (and waits forever at the queue's head), and a restore from remote storage brings it back.
    const before = existsSync(dest) ? listFiles(dest) : [];
    rmSync(dest, { recursive: true, force: true });
    let n = 0;
    for (const f of files) {
      // The route checked the paths already; a path that leaves the set's directory here is a bug.
      assert(isSafeRelativePath(f.path), `aux file path ${f.path} leaves the set's directory`);
      mkdirSync(dirname(join(dest, f.path)), { recursive: true });
      writeFileSync(join(dest, f.path), f.data);
      this.remote?.uploadFile(`aux/${lsn}/${f.path}`, join(dest, f.path));
      n++;
    }
    if (this.remote) {
      const kept = new Set(files.map((f) => f.path));
      for (const rel of before) if (!kept.has(rel)) this.remote.deleteFile(`aux/${lsn}/${rel}`);
    }
    const sets = this.layers.meta.auxSets;
    if (!sets.includes(lsn)) this.layers.update({ auxSets: [...sets, lsn].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) }, true);
    return n;
  }

  /** Queue every stored aux file remote storage is not known to hold (a full upload; the caller queues the index after). */
  scheduleUploads(): void {
    const remote = this.remote;
    if (!remote) return;
    for (const lsn of this.layers.meta.auxSets) {
      const base = this.dirOf(lsn);
      if (!existsSync(base)) continue;
      for (const rel of listFiles(base)) {
        const key = `aux/${lsn}/${rel}`;
        if (!remote.isUploadedKey(key)) remote.uploadFile(key, join(base, rel));
      }
    }
  }

  /**
   * The keys of the aux sets `lsns` as stored here: after a restart, the sets
   * the remote index lists are in remote storage (an index goes up after the
   * files it names), so they need no upload again.
   */
  keysOf(lsns: readonly bigint[]): string[] {
    const keys: string[] = [];
    for (const lsn of lsns) {
      const dir = this.dirOf(lsn);
      // A set the index lists may be absent here (a timeline restored from remote storage gets it on demand).
      if (!existsSync(dir)) continue;
      for (const rel of listFiles(dir)) keys.push(`aux/${lsn}/${rel}`);
    }
    return keys;
  }
}
