/**
 * Decoded redo records. Offsets are already resolved against the per-page
 * cursor of the mtr (innodb-redo-format.md §2.4), so a record can be applied
 * on its own. Payloads are views into the mtr's bytes: copy before keeping
 * them past the mtr's buffer.
 */

export const ExtendedSubtype = {
  INIT_ROW_FORMAT_REDUNDANT: 0,
  INIT_ROW_FORMAT_DYNAMIC: 1,
  UNDO_INIT: 2,
  UNDO_APPEND: 3,
  INSERT_HEAP_REDUNDANT: 4,
  INSERT_REUSE_REDUNDANT: 5,
  INSERT_HEAP_DYNAMIC: 6,
  INSERT_REUSE_DYNAMIC: 7,
  DELETE_ROW_FORMAT_REDUNDANT: 8,
  DELETE_ROW_FORMAT_DYNAMIC: 9,
  TRIM_PAGES: 10,
} as const;
export type ExtendedSubtype = (typeof ExtendedSubtype)[keyof typeof ExtendedSubtype];

export const EXTENDED_SUBTYPE_NAMES: Record<ExtendedSubtype, string> = {
  0: 'INIT_ROW_FORMAT_REDUNDANT',
  1: 'INIT_ROW_FORMAT_DYNAMIC',
  2: 'UNDO_INIT',
  3: 'UNDO_APPEND',
  4: 'INSERT_HEAP_REDUNDANT',
  5: 'INSERT_REUSE_REDUNDANT',
  6: 'INSERT_HEAP_DYNAMIC',
  7: 'INSERT_REUSE_DYNAMIC',
  8: 'DELETE_ROW_FORMAT_REDUNDANT',
  9: 'DELETE_ROW_FORMAT_DYNAMIC',
  10: 'TRIM_PAGES',
};

interface PageId {
  readonly spaceId: number;
  readonly pageNo: number;
}

export interface FreePageRecord extends PageId { readonly type: 'FREE_PAGE' }
export interface InitPageRecord extends PageId { readonly type: 'INIT_PAGE' }
export interface WriteRecord extends PageId {
  readonly type: 'WRITE';
  readonly offset: number;
  readonly data: Uint8Array;
}
export interface MemsetRecord extends PageId {
  readonly type: 'MEMSET';
  readonly offset: number;
  readonly length: number;
  readonly fill: Uint8Array;
}
export interface MemmoveRecord extends PageId {
  readonly type: 'MEMMOVE';
  readonly offset: number;
  readonly length: number;
  readonly source: number;
}
export interface ExtendedRecord extends PageId {
  readonly type: 'EXTENDED';
  readonly subtype: ExtendedSubtype;
  /** Bytes after the subtype byte. */
  readonly payload: Uint8Array;
}
/** Optional records (e.g. OPT_PAGE_CHECKSUM); recovery may ignore them. */
export interface OptionRecord extends PageId {
  readonly type: 'OPTION';
  readonly payload: Uint8Array;
}

export type PageRecord =
  | FreePageRecord
  | InitPageRecord
  | WriteRecord
  | MemsetRecord
  | MemmoveRecord
  | ExtendedRecord
  | OptionRecord;

export interface FileNameRecord {
  readonly type: 'FILE_CREATE' | 'FILE_DELETE' | 'FILE_MODIFY';
  readonly spaceId: number;
  /** Relative to the datadir, e.g. `./db/t.ibd`. */
  readonly path: string;
}
export interface FileRenameRecord {
  readonly type: 'FILE_RENAME';
  readonly spaceId: number;
  readonly path: string;
  readonly newPath: string;
}
export interface FileCheckpointRecord {
  readonly type: 'FILE_CHECKPOINT';
  /** 0n for padding records. */
  readonly checkpointLsn: bigint;
}
export type FileRecord = FileNameRecord | FileRenameRecord | FileCheckpointRecord;

export type RedoRecord = PageRecord | FileRecord;

export function isPageRecord(r: RedoRecord): r is PageRecord {
  // A switch on the type string, not `'pageNo' in r`: records come in a dozen shapes, and an `in`
  // test over them is megamorphic (it was an eighth of the page server's ingest time).
  switch (r.type) {
    case 'FILE_CREATE':
    case 'FILE_DELETE':
    case 'FILE_MODIFY':
    case 'FILE_RENAME':
    case 'FILE_CHECKPOINT':
      return false;
    default:
      return true;
  }
}

/** Bytes of payload a record carries, for dumps and metrics. */
export function recordPayloadLength(r: RedoRecord): number {
  switch (r.type) {
    case 'WRITE':
      return r.data.length;
    case 'MEMSET':
      return r.length;
    case 'MEMMOVE':
      return r.length;
    case 'EXTENDED':
    case 'OPTION':
      return r.payload.length;
    case 'FILE_CREATE':
    case 'FILE_DELETE':
    case 'FILE_MODIFY':
      return r.path.length;
    case 'FILE_RENAME':
      return r.path.length + 1 + r.newPath.length;
    case 'FILE_CHECKPOINT':
      return 8;
    default:
      return 0;
  }
}

export function recordTypeName(r: RedoRecord): string {
  return r.type === 'EXTENDED' ? `EXTENDED/${EXTENDED_SUBTYPE_NAMES[r.subtype]}` : r.type;
}
