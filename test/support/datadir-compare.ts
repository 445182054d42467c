/**
 * Page-by-page comparison of InnoDB datadirs: the check that a datadir rebuilt from the redo
 * log is byte-identical to what MariaDB itself wrote.
 *
 * Layout facts (shared/docs/innodb-redo-format.md §4, storage/innobase/include/fsp0types.h,
 * fsp0fsp.h, fil0fil.h, trx0sys.h of MariaDB 10.11):
 * - page 0 of every tablespace: space id at 34 (FIL_PAGE_SPACE_ID), FSP header at 38 with
 *   FSP_SIZE at +8, FSP_FREE_LIMIT at +12, FSP_SPACE_FLAGS at +16;
 * - extent descriptors (XDES) follow the FSP header at 150 on every page-size-th page;
 * - bytes 26..33 (FIL_PAGE_FILE_FLUSH_LSN) are not covered by redo, so they are masked.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { crc32c } from '../../packages/core/src/redo/crc32c.js';

const FIL_PAGE_LSN = 16;
const FIL_PAGE_FLUSH_LSN = 26;
const FIL_PAGE_SPACE_ID = 34;
const FSP_HEADER = 38;
const FSP_SIZE = FSP_HEADER + 8;
const FSP_FREE_LIMIT = FSP_HEADER + 12;
const FSP_SPACE_FLAGS = FSP_HEADER + 16;
const PAGE0_BYTES_NEEDED = FSP_SPACE_FLAGS + 4;
const XDES_ARR_OFFSET = FSP_HEADER + 112;
const XDES_STATE = 20;
const XDES_BITMAP = 24;
const FSP_FLAGS_FCRC32_MARKER = 0x10;
const TRX_SYS_PAGE_NO = 5;
const TRX_SYS_DOUBLEWRITE_FROM_END = 200;
const TRX_SYS_DOUBLEWRITE_MAGIC_N = 536853855;
/** The doublewrite buffer of a 16 KiB-page install (fallback if TRX_SYS has no magic). */
const DOUBLEWRITE_DEFAULT = { first: 64, last: 191 };
const CHUNK_PAGES = 256;

// ---------------------------------------------------------------------------------------------
// Tablespace discovery

export interface PageSizes {
  /** innodb_page_size of the server that made the tablespace. */
  logical: number;
  /** Bytes per page in the file (differs from logical only for ROW_FORMAT=COMPRESSED). */
  physical: number;
  fullCrc32: boolean;
}

/** Page sizes from FSP_SPACE_FLAGS, as `fil_space_t::logical_size/physical_size` decode them. */
export function pageSizesFromFlags(flags: number): PageSizes {
  const fullCrc32 = (flags & FSP_FLAGS_FCRC32_MARKER) !== 0;
  if (fullCrc32) {
    // Bits 0..3: page ssize, 3..7 valid (5 = 16 KiB); bit 4: marker; 5..7: compression algo.
    const ssize = flags & 0xf;
    if (ssize < 3 || ssize > 7) throw new Error(`invalid full_crc32 flags 0x${flags.toString(16)}`);
    const size = 512 << ssize;
    return { logical: size, physical: size, fullCrc32 };
  }
  // Bit 0: post-antelope, 1..4: zip ssize, 5: atomic blobs, 6..9: page ssize (0 = 16 KiB).
  const ssize = (flags >>> 6) & 0xf;
  let logical: number;
  if (ssize === 0) logical = 16384;
  else if (ssize === 3 || ssize === 4 || ssize === 6 || ssize === 7) logical = 512 << ssize;
  else throw new Error(`invalid tablespace flags 0x${flags.toString(16)}`);
  const zipSsize = (flags >>> 1) & 0xf;
  return { logical, physical: zipSsize === 0 ? logical : 512 << zipSsize, fullCrc32 };
}

export interface TablespaceInfo {
  /** Relative to the datadir, with `/` separators: `ibdata1`, `undo001`, `db/t.ibd`. */
  path: string;
  spaceId: number;
  flags: number;
  pageSize: number;
  logicalPageSize: number;
  fullCrc32: boolean;
  /** FSP_SIZE: the tablespace size in pages according to page 0. */
  fspSizePages: number;
  /** FSP_FREE_LIMIT: pages at and above it are free by definition. */
  freeLimitPages: number;
  fileBytes: number;
}

async function readPrefix(file: string, length: number): Promise<Buffer> {
  const handle = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buf, 0, length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Reads page 0 of one tablespace file. Throws if it is too short or its flags are invalid. */
export async function readTablespaceInfo(datadir: string, relPath: string): Promise<TablespaceInfo> {
  const file = path.join(datadir, relPath);
  const head = await readPrefix(file, PAGE0_BYTES_NEEDED);
  if (head.length < PAGE0_BYTES_NEEDED) throw new Error(`${file}: too short for a page 0`);
  const flags = head.readUInt32BE(FSP_SPACE_FLAGS);
  const sizes = pageSizesFromFlags(flags);
  return {
    path: relPath,
    spaceId: head.readUInt32BE(FIL_PAGE_SPACE_ID),
    flags,
    pageSize: sizes.physical,
    logicalPageSize: sizes.logical,
    fullCrc32: sizes.fullCrc32,
    fspSizePages: head.readUInt32BE(FSP_SIZE),
    freeLimitPages: head.readUInt32BE(FSP_FREE_LIMIT),
    fileBytes: (await fs.stat(file)).size,
  };
}

/** Relative paths of the InnoDB tablespace files: ibdata1, undoNNN, and `<db>/*.ibd`. */
export async function listTablespacePaths(datadir: string): Promise<string[]> {
  const paths: string[] = [];
  for (const entry of await fs.readdir(datadir, { withFileTypes: true })) {
    if (entry.isFile() && (entry.name === 'ibdata1' || /^undo\d{3}$/.test(entry.name))) {
      paths.push(entry.name);
    } else if (entry.isDirectory()) {
      for (const inner of await fs.readdir(path.join(datadir, entry.name), { withFileTypes: true })) {
        if (inner.isFile() && inner.name.endsWith('.ibd')) paths.push(`${entry.name}/${inner.name}`);
      }
    }
  }
  return paths.sort();
}

/** Every tablespace of a datadir with its space id and page size from page 0. */
export async function listTablespaces(datadir: string): Promise<TablespaceInfo[]> {
  const infos: TablespaceInfo[] = [];
  for (const rel of await listTablespacePaths(datadir)) infos.push(await readTablespaceInfo(datadir, rel));
  return infos;
}

/** Copies a (shut down) datadir. Copying one under a running server gives a torn copy. */
export async function copyDatadir(from: string, to: string): Promise<void> {
  await fs.cp(from, to, { recursive: true, errorOnExist: true, force: false });
}

// ---------------------------------------------------------------------------------------------
// Page comparison

export interface PageDiff {
  path: string;
  spaceId: number;
  pageNo: number;
  /** First differing byte within the page (bytes 26..33 are never reported). */
  firstDiffOffset: number;
  expectedLsn: bigint;
  actualLsn: bigint;
}

export interface UnwrittenPage {
  path: string;
  spaceId: number;
  pageNo: number;
  /**
   * `zero-in-expected`: all zero (or past the end of the file) in expected — MariaDB never
   * wrote it, e.g. a page freed before it was flushed (doc §2.5 FREE_PAGE).
   * `free-in-expected`: differs, but expected's extent descriptor marks the page free (or it
   * is at/above FSP_FREE_LIMIT or FSP_SIZE), so its content is irrelevant to InnoDB.
   */
  reason: 'zero-in-expected' | 'free-in-expected';
  expectedLsn: bigint;
  actualLsn: bigint;
}

export interface FileSizeMismatch {
  path: string;
  expectedBytes: number;
  actualBytes: number;
}

export interface PageComparison {
  diffs: PageDiff[];
  freedOrUnwritten: UnwrittenPage[];
  /** Tablespace files (relative paths) present in expected only / in actual only. */
  missingInActual: string[];
  extraInActual: string[];
  /** Files whose sizes differ; pages past the shorter end are compared as all-zero. */
  sizeMismatches: FileSizeMismatch[];
  pagesCompared: number;
  pagesSkipped: number;
}

export interface CompareOptions {
  /** Return true to leave a page out of the comparison. */
  skip?: (spaceId: number, pageNo: number, path: string) => boolean;
  /**
   * A datadir that `expected` evolved from: only pages that differ between it and expected
   * (pages MariaDB wrote after the base) are compared. Files absent from the base count as
   * entirely changed.
   */
  onlyChangedSince?: string;
}

/** Equal except for bytes 26..33? */
function maskedEqual(a: Uint8Array, b: Uint8Array): boolean {
  return (
    Buffer.compare(a.subarray(0, FIL_PAGE_FLUSH_LSN), b.subarray(0, FIL_PAGE_FLUSH_LSN)) === 0 &&
    Buffer.compare(a.subarray(FIL_PAGE_SPACE_ID), b.subarray(FIL_PAGE_SPACE_ID)) === 0
  );
}

function firstMaskedDiff(a: Uint8Array, b: Uint8Array, from = 0): number {
  for (let i = from; i < a.length; i++) {
    if (i === FIL_PAGE_FLUSH_LSN) i = FIL_PAGE_SPACE_ID;
    if (a[i] !== b[i]) return i;
  }
  return -1;
}

/**
 * In full_crc32 pages the trailing CRC-32C covers bytes 26..33 too. When those bytes and the
 * CRC are the only differences, the pages are equal if both CRCs are valid for their pages.
 */
function equalExceptFlushLsnAndCrc(expected: Buffer, actual: Buffer): boolean {
  const size = expected.length;
  if (firstMaskedDiff(expected, actual) < size - 4) return false;
  return (
    crc32c(expected, 0, size - 4) === expected.readUInt32BE(size - 4) &&
    crc32c(actual, 0, size - 4) === actual.readUInt32BE(size - 4)
  );
}

function isZero(page: Uint8Array): boolean {
  for (let i = 0; i < page.length; i++) if (page[i] !== 0) return false;
  return true;
}

function pageLsn(page: Buffer): bigint {
  return page.readBigUInt64BE(FIL_PAGE_LSN);
}

/** Reads `count` pages from `pageNo`; pages past the end of the file come back all-zero. */
async function readPages(
  handle: fs.FileHandle | undefined,
  pageNo: number,
  count: number,
  pageSize: number,
): Promise<Buffer> {
  const buf = Buffer.alloc(count * pageSize);
  if (handle !== undefined) await handle.read(buf, 0, buf.length, pageNo * pageSize);
  return buf;
}

async function openIfExists(file: string): Promise<fs.FileHandle | undefined> {
  try {
    return await fs.open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function fileSize(file: string): Promise<number | undefined> {
  try {
    return (await fs.stat(file)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Pages of space 0 used by the doublewrite buffer (written without redo): the two extents
 * named in the TRX_SYS page (trx0sys.h), i.e. 64..191 with 16 KiB pages but 256..767 with
 * 4 KiB pages; 64..191 if TRX_SYS has no doublewrite magic.
 */
async function doublewritePages(
  datadir: string,
  space0: TablespaceInfo,
): Promise<(pageNo: number) => boolean> {
  const ranges = [DOUBLEWRITE_DEFAULT];
  const size = space0.pageSize;
  const handle = await fs.open(path.join(datadir, space0.path), 'r');
  try {
    const page = await readPages(handle, TRX_SYS_PAGE_NO, 1, size);
    const at = size - TRX_SYS_DOUBLEWRITE_FROM_END;
    if (page.readUInt32BE(at + 10) === TRX_SYS_DOUBLEWRITE_MAGIC_N) {
      const extent = extentPages(space0.logicalPageSize);
      ranges.length = 0;
      for (const first of [page.readUInt32BE(at + 14), page.readUInt32BE(at + 18)]) {
        ranges.push({ first, last: first + extent - 1 });
      }
    }
  } finally {
    await handle.close();
  }
  return (pageNo) => ranges.some((r) => pageNo >= r.first && pageNo <= r.last);
}

/** FSP_EXTENT_SIZE: 1 MiB of pages below 16 KiB pages, else 64 pages. */
function extentPages(logicalPageSize: number): number {
  return logicalPageSize < 16384 ? 1048576 / logicalPageSize : 64;
}

/**
 * Whether expected's extent descriptors mark a page free. `readPage` returns the XDES page
 * (a multiple of the page size) from the expected file.
 */
async function isFreeInExpected(
  info: TablespaceInfo,
  pageNo: number,
  readPage: (pageNo: number) => Promise<Buffer>,
): Promise<boolean> {
  if (pageNo >= info.freeLimitPages || pageNo >= info.fspSizePages) return true;
  const extent = extentPages(info.logicalPageSize);
  const xdesSize = XDES_BITMAP + Math.ceil((extent * 2) / 8);
  const xdesPageNo = pageNo - (pageNo % info.pageSize);
  const inXdesPage = pageNo % info.pageSize;
  const xdes = await readPage(xdesPageNo);
  const entry = XDES_ARR_OFFSET + Math.floor(inXdesPage / extent) * xdesSize;
  if (entry + xdesSize > xdes.length) return false;
  if (xdes.readUInt32BE(entry + XDES_STATE) === 0) return true; // descriptor never initialized
  const bit = 2 * (inXdesPage % extent); // XDES_FREE_BIT of this page
  return ((xdes[entry + XDES_BITMAP + (bit >>> 3)]! >>> (bit & 7)) & 1) === 1;
}

/**
 * Compares every page of every tablespace of `expectedDir` (MariaDB's own datadir) with
 * `actualDir` (e.g. one rebuilt from redo). Bytes 26..33 are masked; the doublewrite buffer
 * of space 0 (pages 64..191 with 16 KiB pages) is always skipped. Page sizes and free-page
 * maps come from expected.
 */
export async function comparePages(
  expectedDir: string,
  actualDir: string,
  opts: CompareOptions = {},
): Promise<PageComparison> {
  const result: PageComparison = {
    diffs: [],
    freedOrUnwritten: [],
    missingInActual: [],
    extraInActual: [],
    sizeMismatches: [],
    pagesCompared: 0,
    pagesSkipped: 0,
  };
  const expectedPaths = await listTablespacePaths(expectedDir);
  const actualPaths = new Set(await listTablespacePaths(actualDir));
  result.extraInActual = [...actualPaths].filter((p) => !expectedPaths.includes(p));

  for (const rel of expectedPaths) {
    if (!actualPaths.has(rel)) {
      result.missingInActual.push(rel);
      continue;
    }
    const info = await readTablespaceInfo(expectedDir, rel);
    const actualBytes = (await fileSize(path.join(actualDir, rel))) ?? 0;
    if (actualBytes !== info.fileBytes) {
      result.sizeMismatches.push({ path: rel, expectedBytes: info.fileBytes, actualBytes });
    }
    await compareFile({
      expectedDir,
      actualDir,
      rel,
      info,
      totalPages: Math.ceil(Math.max(info.fileBytes, actualBytes) / info.pageSize),
      isDoublewrite: info.spaceId === 0 ? await doublewritePages(expectedDir, info) : () => false,
      opts,
      result,
    });
  }
  return result;
}

interface FileComparison {
  expectedDir: string;
  actualDir: string;
  rel: string;
  info: TablespaceInfo;
  totalPages: number;
  isDoublewrite: (pageNo: number) => boolean;
  opts: CompareOptions;
  result: PageComparison;
}

async function compareFile(c: FileComparison): Promise<void> {
  const { expectedDir, actualDir, rel, info, totalPages, isDoublewrite, opts, result } = c;
  const size = info.pageSize;
  const expectedHandle = await fs.open(path.join(expectedDir, rel), 'r');
  const actualHandle = await fs.open(path.join(actualDir, rel), 'r');
  const baseHandle =
    opts.onlyChangedSince === undefined
      ? undefined
      : await openIfExists(path.join(opts.onlyChangedSince, rel));
  const baseMissing = opts.onlyChangedSince !== undefined && baseHandle === undefined;
  const xdesCache = new Map<number, Buffer>();
  const readExpectedPage = async (pageNo: number): Promise<Buffer> => {
    let page = xdesCache.get(pageNo);
    if (page === undefined) {
      page = await readPages(expectedHandle, pageNo, 1, size);
      xdesCache.set(pageNo, page);
    }
    return page;
  };
  try {
    for (let chunkStart = 0; chunkStart < totalPages; chunkStart += CHUNK_PAGES) {
      const count = Math.min(CHUNK_PAGES, totalPages - chunkStart);
      const expectedChunk = await readPages(expectedHandle, chunkStart, count, size);
      const actualChunk = await readPages(actualHandle, chunkStart, count, size);
      const baseChunk =
        baseHandle === undefined ? undefined : await readPages(baseHandle, chunkStart, count, size);
      for (let i = 0; i < count; i++) {
        const pageNo = chunkStart + i;
        if (isDoublewrite(pageNo) || opts.skip?.(info.spaceId, pageNo, rel) === true) {
          result.pagesSkipped++;
          continue;
        }
        const expected = expectedChunk.subarray(i * size, (i + 1) * size);
        if (opts.onlyChangedSince !== undefined && !baseMissing && baseChunk !== undefined) {
          if (maskedEqual(baseChunk.subarray(i * size, (i + 1) * size), expected)) {
            result.pagesSkipped++;
            continue;
          }
        }
        result.pagesCompared++;
        const actual = actualChunk.subarray(i * size, (i + 1) * size);
        if (maskedEqual(expected, actual)) continue;
        if (info.fullCrc32 && equalExceptFlushLsnAndCrc(expected, actual)) continue;
        const where = {
          path: rel,
          spaceId: info.spaceId,
          pageNo,
          expectedLsn: pageLsn(expected),
          actualLsn: pageLsn(actual),
        };
        if (isZero(expected)) {
          result.freedOrUnwritten.push({ ...where, reason: 'zero-in-expected' });
        } else if (await isFreeInExpected(info, pageNo, readExpectedPage)) {
          result.freedOrUnwritten.push({ ...where, reason: 'free-in-expected' });
        } else {
          result.diffs.push({ ...where, firstDiffOffset: firstMaskedDiff(expected, actual) });
        }
      }
    }
  } finally {
    await expectedHandle.close();
    await actualHandle.close();
    await baseHandle?.close();
  }
}

/** A short human-readable summary for assertion messages. */
export function formatComparison(c: PageComparison, maxLines = 20): string {
  const lines = [
    `${c.pagesCompared} pages compared, ${c.pagesSkipped} skipped, ${c.diffs.length} differ, ` +
      `${c.freedOrUnwritten.length} freed/unwritten`,
  ];
  if (c.missingInActual.length > 0) lines.push(`missing in actual: ${c.missingInActual.join(', ')}`);
  if (c.extraInActual.length > 0) lines.push(`extra in actual: ${c.extraInActual.join(', ')}`);
  for (const s of c.sizeMismatches) {
    lines.push(`size ${s.path}: expected ${s.expectedBytes}, actual ${s.actualBytes}`);
  }
  for (const d of c.diffs.slice(0, maxLines)) {
    lines.push(
      `${d.path} space ${d.spaceId} page ${d.pageNo}: first diff at ${d.firstDiffOffset}, ` +
        `LSN expected ${d.expectedLsn} actual ${d.actualLsn}`,
    );
  }
  if (c.diffs.length > maxLines) lines.push(`... ${c.diffs.length - maxLines} more`);
  return lines.join('\n');
}
