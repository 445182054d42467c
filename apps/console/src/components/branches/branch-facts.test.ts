import { describe, expect, it } from 'vitest';
import { lsnDistance } from './branch-facts';

describe('changes since a branch point', () => {
  it('bytes of WAL between two LSNs, never negative, unknown when either is', () => {
    expect(lsnDistance('57333', '44894')).toBe(12_439);
    expect(lsnDistance('44894', '57333')).toBe(0);
    expect(lsnDistance(null, '1')).toBeNull();
    expect(lsnDistance('1', undefined)).toBeNull();
  });
});
