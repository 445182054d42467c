/**
 * Tablespace bookkeeping from the redo itself: which file holds which space
 * id, as FILE_CREATE / FILE_RENAME / FILE_DELETE / FILE_MODIFY say.
 */
import { readU32 } from '../bytes.js';
import { FSP_FREE_LIMIT, FSP_SIZE, FSP_SPACE_FLAGS } from './page.js';
import type { FileRecord, PageRecord } from './records.js';

export interface TablespaceEntry {
  readonly spaceId: number;
  /** Relative to the datadir, normalised without a leading `./`. */
  readonly path: string;
  readonly createdAtLsn?: bigint;
}

export type TablespaceEvent =
  | { readonly kind: 'create'; readonly spaceId: number; readonly path: string; readonly lsn: bigint }
  | { readonly kind: 'rename'; readonly spaceId: number; readonly from: string; readonly to: string; readonly lsn: bigint }
  | { readonly kind: 'delete'; readonly spaceId: number; readonly path: string; readonly lsn: bigint };

export function normalizeDatadirPath(p: string): string {
  return p.startsWith('./') ? p.slice(2) : p;
}

export class TablespaceMap {
  private readonly byId = new Map<number, TablespaceEntry>();
  private readonly deleted = new Set<number>();

  constructor(initial: Iterable<TablespaceEntry> = []) {
    for (const e of initial) this.byId.set(e.spaceId, e);
  }

  get(spaceId: number): TablespaceEntry | undefined {
    return this.byId.get(spaceId);
  }

  isDeleted(spaceId: number): boolean {
    return this.deleted.has(spaceId);
  }

  entries(): TablespaceEntry[] {
    return [...this.byId.values()].sort((a, b) => a.spaceId - b.spaceId);
  }

  /** Fold one file record in; returns what a datadir must do about it, if anything. */
  apply(r: FileRecord, lsn: bigint): TablespaceEvent | undefined {
    switch (r.type) {
      case 'FILE_CHECKPOINT':
        return undefined;
      case 'FILE_MODIFY': {
        // Names a file that exists; it also teaches us spaces created before our base.
        if (!this.byId.has(r.spaceId)) this.byId.set(r.spaceId, { spaceId: r.spaceId, path: normalizeDatadirPath(r.path) });
        return undefined;
      }
      case 'FILE_CREATE': {
        const path = normalizeDatadirPath(r.path);
        this.byId.set(r.spaceId, { spaceId: r.spaceId, path, createdAtLsn: lsn });
        this.deleted.delete(r.spaceId);
        return { kind: 'create', spaceId: r.spaceId, path, lsn };
      }
      case 'FILE_RENAME': {
        const from = normalizeDatadirPath(r.path);
        const to = normalizeDatadirPath(r.newPath);
        const prev = this.byId.get(r.spaceId);
        this.byId.set(r.spaceId, { ...(prev ?? { spaceId: r.spaceId }), path: to });
        return { kind: 'rename', spaceId: r.spaceId, from: prev?.path ?? from, to, lsn };
      }
      case 'FILE_DELETE': {
        const path = this.byId.get(r.spaceId)?.path ?? normalizeDatadirPath(r.path);
        this.byId.delete(r.spaceId);
        this.deleted.add(r.spaceId);
        return { kind: 'delete', spaceId: r.spaceId, path, lsn };
      }
    }
  }
}

/** FSP header fields of page 0 that size and describe the tablespace. */
export function readFspHeader(page0: Uint8Array): { sizePages: number; freeLimit: number; flags: number } {
  return {
    sizePages: readU32(page0, FSP_SIZE),
    freeLimit: readU32(page0, FSP_FREE_LIMIT),
    flags: readU32(page0, FSP_SPACE_FLAGS),
  };
}

/**
 * Whether a record to page 0 of a tablespace may change its FSP_SPACE_FLAGS
 * (and with them the checksum format of every page): a reset of the page,
 * or a write overlapping the field. Readers cache the flags and drop them
 * only then; the size and free-limit writes a growing tablespace logs all
 * the time leave them be. Unknown shapes count as changes.
 */
export function recordMayChangeSpaceFlags(r: PageRecord): boolean {
  const from = FSP_SPACE_FLAGS;
  const to = FSP_SPACE_FLAGS + 4;
  switch (r.type) {
    case 'WRITE':
      return r.offset < to && r.offset + r.data.length > from;
    case 'MEMSET':
      return r.offset < to && r.offset + r.length > from;
    case 'MEMMOVE':
      return r.offset < to && r.offset + r.length > from;
    case 'OPTION':
      return false;
    default:
      return true;
  }
}
