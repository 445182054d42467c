/**
 * Which datadir file is what, and the page arithmetic of the FUSE datadir
 * (pure: no I/O). Tablespaces are served page by page from the page server
 * through the LFC; the redo log feeds the quorum; everything else (aux
 * files, temporary files) is a plain local file.
 */
import { isAuxPath, isTablespacePath } from '@strata/datadir';

export type FileKind = 'log' | 'tablespace' | 'aux' | 'local';

/** InnoDB's read-ahead unit: 64 pages (1 MiB at 16 KiB pages). */
export const EXTENT_PAGES = 64;

/** `rel` is datadir-relative with `/` separators and no leading slash. */
export function fileKind(rel: string): FileKind {
  if (rel === 'ib_logfile0') return 'log';
  // ibtmp1 is the temporary tablespace: never logged, never shared, so it stays a local file.
  if (isTablespacePath(rel)) return 'tablespace';
  return isAuxPath(rel) ? 'aux' : 'local';
}

/** A FUSE path (`/db/t.ibd`) as a datadir-relative one (`db/t.ibd`); '' is the root. */
export function relPath(fusePath: string): string {
  return fusePath.replace(/^\/+/, '').replace(/\/+$/, '');
}

/** Pages [first, end) that a byte range touches. */
export function pagesOfRange(offset: number, length: number, pageSize: number): { first: number; end: number } {
  if (length <= 0) return { first: Math.floor(offset / pageSize), end: Math.floor(offset / pageSize) };
  return { first: Math.floor(offset / pageSize), end: Math.floor((offset + length - 1) / pageSize) + 1 };
}

/**
 * Pages to fetch for a read of [first, end) that missed the LFC. A read of
 * more than one page, or the page right after the previous miss of the same
 * file, is a scan: the rest of the extent comes in the same batch. A lone
 * random read fetches only itself, so point lookups do not drag in 1 MiB
 * each. The caller fetches only pages below the start size (`sizePages`);
 * later pages exist only locally.
 */
export function prefetchEnd(first: number, end: number, previousMiss: number | undefined, sizePages: number): number {
  const scan = end - first > 1 || (previousMiss !== undefined && first === previousMiss + 1);
  if (!scan) return end;
  const extentEnd = (Math.floor((end - 1) / EXTENT_PAGES) + 1) * EXTENT_PAGES;
  return Math.max(end, Math.min(extentEnd, sizePages));
}

/** LFC key of a page of a file node (node ids stay below 2^21, so the key is an exact number). */
export function pageKey(nodeId: number, pageNo: number): number {
  return nodeId * 0x1_0000_0000 + pageNo;
}
