import { describe, expect, it } from 'vitest';
import { writeU32 } from '../bytes.js';
import { UnsupportedPage } from '../errors.js';
import { checkRebuildable, checksumAlgorithmOf, decodeSpaceFlags, defaultSpaceFlags, FSP_SPACE_FLAGS, spaceFlagsOfPage0, unsupportedSpaceFormat } from './page.js';

const FULL_CRC32_16K = 0x15;

function page0(flags: number): Uint8Array {
  const p = new Uint8Array(16384);
  writeU32(p, FSP_SPACE_FLAGS, flags);
  return p;
}

describe('tablespace flags, one reading for the CLI replay and the page server', () => {
  it('page 0 says its flags; a zero field keeps flags already known (page 0 just initialised), else it is the legacy format', () => {
    const known = decodeSpaceFlags(FULL_CRC32_16K);
    expect(spaceFlagsOfPage0(page0(FULL_CRC32_16K))).toEqual(known);
    expect(spaceFlagsOfPage0(page0(0), known)).toBe(known);
    expect(spaceFlagsOfPage0(page0(0))).toMatchObject({ raw: 0, fullCrc32: false, pageSize: 16384 });
    expect(spaceFlagsOfPage0(page0(0), defaultSpaceFlags(16384))).toMatchObject({ fullCrc32: false });
  });

  it('the checksum follows full_crc32, and is full_crc32 while the flags are unknown', () => {
    expect(checksumAlgorithmOf(undefined)).toBe('full_crc32');
    expect(checksumAlgorithmOf(defaultSpaceFlags(4096))).toBe('full_crc32');
    expect(checksumAlgorithmOf(decodeSpaceFlags(0))).toBe('crc32');
  });

  it('ROW_FORMAT=COMPRESSED and PAGE_COMPRESSED spaces are not rebuilt (UnsupportedPage)', () => {
    const zip = decodeSpaceFlags(4 << 1);
    const pageCompressed = decodeSpaceFlags(FULL_CRC32_16K | (1 << 5));
    expect(unsupportedSpaceFormat(zip)).toBe('ROW_FORMAT=COMPRESSED');
    expect(unsupportedSpaceFormat(pageCompressed)).toBe('PAGE_COMPRESSED');
    expect(unsupportedSpaceFormat(decodeSpaceFlags(FULL_CRC32_16K))).toBeUndefined();
    expect(() => checkRebuildable(zip, 7, 3, 'db/z.ibd')).toThrow(new UnsupportedPage(7, 3, 'db/z.ibd uses ROW_FORMAT=COMPRESSED, which Strata does not rebuild'));
    expect(() => checkRebuildable(decodeSpaceFlags(FULL_CRC32_16K), 7, 3, 'db/z.ibd')).not.toThrow();
  });
});
