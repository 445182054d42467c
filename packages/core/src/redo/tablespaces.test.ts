import { describe, expect, it } from 'vitest';
import { FSP_FREE_LIMIT, FSP_SIZE, FSP_SPACE_FLAGS } from './page.js';
import { recordMayChangeSpaceFlags } from './tablespaces.js';

describe('recordMayChangeSpaceFlags', () => {
  const at = (offset: number, len: number) => ({ type: 'WRITE' as const, spaceId: 5, pageNo: 0, offset, data: new Uint8Array(len) });
  it('is true only for resets and writes overlapping FSP_SPACE_FLAGS', () => {
    expect(recordMayChangeSpaceFlags(at(FSP_SPACE_FLAGS, 4))).toBe(true);
    expect(recordMayChangeSpaceFlags(at(FSP_SPACE_FLAGS - 2, 3))).toBe(true);
    // FSP_SIZE and FSP_FREE_LIMIT, written as a tablespace grows:
    expect(recordMayChangeSpaceFlags(at(FSP_SIZE, 4))).toBe(false);
    expect(recordMayChangeSpaceFlags(at(FSP_FREE_LIMIT, 4))).toBe(false);
    expect(recordMayChangeSpaceFlags(at(FSP_SPACE_FLAGS + 4, 8))).toBe(false);
    expect(recordMayChangeSpaceFlags({ type: 'MEMSET', spaceId: 5, pageNo: 0, offset: 0, length: 100, fill: new Uint8Array([0]) })).toBe(true);
    expect(recordMayChangeSpaceFlags({ type: 'INIT_PAGE', spaceId: 5, pageNo: 0 })).toBe(true);
    expect(recordMayChangeSpaceFlags({ type: 'OPTION', spaceId: 5, pageNo: 0, payload: new Uint8Array(4) })).toBe(false);
  });
});
