/**
 * FIL page header/trailer and tablespace flags (innodb-redo-format.md §4):
 * what a rebuilt page must carry so that stock MariaDB accepts it.
 */
import { readU32, readU64, writeU32, writeU64 } from '../bytes.js';
import { UnsupportedPage } from '../errors.js';
import { crc32c } from './crc32c.js';

export const FIL_PAGE_OFFSET = 4;
export const FIL_PAGE_PREV = 8;
export const FIL_PAGE_LSN = 16;
export const FIL_PAGE_TYPE = 24;
export const FIL_PAGE_FILE_FLUSH_LSN = 26;
export const FIL_PAGE_SPACE_ID = 34;
export const FIL_PAGE_DATA = 38;
export const FIL_PAGE_DATA_END = 8;
export const FSP_HEADER_OFFSET = FIL_PAGE_DATA;
export const FSP_SIZE = FSP_HEADER_OFFSET + 8;
export const FSP_FREE_LIMIT = FSP_HEADER_OFFSET + 12;
export const FSP_SPACE_FLAGS = FSP_HEADER_OFFSET + 16;

export const PAGE_SIZE_DEFAULT = 16384;

export type ChecksumAlgorithm = 'full_crc32' | 'crc32';

export interface SpaceFlags {
  readonly raw: number;
  readonly fullCrc32: boolean;
  readonly pageSize: number;
  /** ROW_FORMAT=COMPRESSED physical page size, 0 when uncompressed. */
  readonly zipSize: number;
  /** PAGE_COMPRESSED (transparent page compression). */
  readonly pageCompressed: boolean;
}

const FCRC32_MARKER = 0x10;

/** Decode FSP_SPACE_FLAGS (fsp0types.h): two layouts, told apart by the full_crc32 marker bit. */
export function decodeSpaceFlags(flags: number): SpaceFlags {
  if (flags & FCRC32_MARKER) {
    const ssize = flags & 0xf;
    const algo = (flags >>> 5) & 0x7;
    return {
      raw: flags,
      fullCrc32: true,
      pageSize: ssize === 0 ? PAGE_SIZE_DEFAULT : 512 << ssize,
      zipSize: 0,
      pageCompressed: algo !== 0,
    };
  }
  const zipSsize = (flags >>> 1) & 0xf;
  const pageSsize = (flags >>> 6) & 0xf;
  return {
    raw: flags,
    fullCrc32: false,
    pageSize: pageSsize === 0 ? PAGE_SIZE_DEFAULT : 512 << pageSsize,
    zipSize: zipSsize === 0 ? 0 : 512 << zipSsize,
    pageCompressed: ((flags >>> 16) & 1) === 1,
  };
}

/**
 * The flags of a tablespace whose page 0 says nothing yet (a file just
 * created, whose page 0 the log has not written): MariaDB's defaults since
 * 10.5, full_crc32 and uncompressed, at the datadir's page size.
 */
export function defaultSpaceFlags(pageSize: number): SpaceFlags {
  return { raw: 0, fullCrc32: true, pageSize, zipSize: 0, pageCompressed: false };
}

/**
 * The flags page 0 carries. A zero field does not override flags already
 * known (`known` with a non-zero raw value): page 0 reads zero there while an
 * mtr that initialised it has not written its FSP header yet, and zero
 * would mean the legacy format.
 */
export function spaceFlagsOfPage0(page0: Uint8Array, known?: SpaceFlags): SpaceFlags {
  const raw = readU32(page0, FSP_SPACE_FLAGS);
  if (raw === 0 && known !== undefined && known.raw !== 0) return known;
  return decodeSpaceFlags(raw);
}

/** The checksum pages of a space with these flags carry; full_crc32 (the default) while they are not known. */
export function checksumAlgorithmOf(flags: SpaceFlags | undefined): ChecksumAlgorithm {
  return flags === undefined || flags.fullCrc32 ? 'full_crc32' : 'crc32';
}

/**
 * The format that keeps pages of a space with these flags from being
 * rebuilt from redo, if any. Strata applies records to uncompressed pages of
 * the datadir's page size: a ROW_FORMAT=COMPRESSED space has smaller
 * physical pages (KEY_BLOCK_SIZE) and a PAGE_COMPRESSED file holds pages
 * compressed on write, so applying records to their bytes would not give the
 * page MariaDB reads.
 */
export function unsupportedSpaceFormat(flags: SpaceFlags): 'ROW_FORMAT=COMPRESSED' | 'PAGE_COMPRESSED' | undefined {
  if (flags.zipSize !== 0) return 'ROW_FORMAT=COMPRESSED';
  if (flags.pageCompressed) return 'PAGE_COMPRESSED';
  return undefined;
}

/** Throws UnsupportedPage for page `pageNo` of the space at `path` unless its flags allow rebuilding it. */
export function checkRebuildable(flags: SpaceFlags, spaceId: number, pageNo: number, path: string): void {
  const format = unsupportedSpaceFormat(flags);
  if (format !== undefined) throw new UnsupportedPage(spaceId, pageNo, `${path} uses ${format}, which Strata does not rebuild`);
}

export function pageLsn(page: Uint8Array): bigint {
  return readU64(page, FIL_PAGE_LSN);
}

export function isAllZero(page: Uint8Array): boolean {
  for (let i = 0; i < page.length; i++) if (page[i] !== 0) return false;
  return true;
}

/**
 * Set FIL_PAGE_LSN and the trailer, then the checksum, as a flush would.
 * full_crc32: trailer = low 32 bits of the LSN, then CRC-32C of everything before.
 * crc32 (legacy): full LSN copy in the trailer, checksum over two ranges at 0 and size−8.
 */
export function stampPage(page: Uint8Array, lsn: bigint, algorithm: ChecksumAlgorithm): void {
  const size = page.length;
  writeU64(page, FIL_PAGE_LSN, lsn);
  if (algorithm === 'full_crc32') {
    page.copyWithin(size - 8, FIL_PAGE_LSN + 4, FIL_PAGE_LSN + 8);
    writeU32(page, size - 4, crc32c(page, 0, size - 4));
    return;
  }
  writeU64(page, size - 8, lsn);
  const c = (crc32c(page, FIL_PAGE_OFFSET, FIL_PAGE_FILE_FLUSH_LSN) ^ crc32c(page, FIL_PAGE_DATA, size - FIL_PAGE_DATA_END)) >>> 0;
  writeU32(page, 0, c);
  writeU32(page, size - 8, c);
}

/** Does the page carry a valid checksum for `algorithm`? All-zero pages count as valid (unused). */
export function verifyPageChecksum(page: Uint8Array, algorithm: ChecksumAlgorithm): boolean {
  const size = page.length;
  if (isAllZero(page)) return true;
  if (algorithm === 'full_crc32') return crc32c(page, 0, size - 4) === readU32(page, size - 4);
  const c = (crc32c(page, FIL_PAGE_OFFSET, FIL_PAGE_FILE_FLUSH_LSN) ^ crc32c(page, FIL_PAGE_DATA, size - FIL_PAGE_DATA_END)) >>> 0;
  return c === readU32(page, 0) && c === readU32(page, size - 8);
}
