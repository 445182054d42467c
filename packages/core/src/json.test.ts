import { describe, expect, it } from 'vitest';
import { hexId, lsnDecimal, lsnString } from './json.js';

describe('JSON schemas of core types', () => {
  it('reads a decimal LSN up to 2^64 - 1 as a bigint', () => {
    expect(lsnString.parse('0')).toBe(0n);
    expect(lsnString.parse('18446744073709551615')).toBe((1n << 64n) - 1n);
    expect(lsnDecimal.parse('12345')).toBe('12345');
  });

  it.each(['', '-1', '01', '1.5', '0x10', ' 1', '18446744073709551616', '123456789012345678901'])('refuses %j as an LSN', (s) => {
    expect(lsnString.safeParse(s).success).toBe(false);
    expect(lsnDecimal.safeParse(s).success).toBe(false);
  });

  it('takes ids as 32 lowercase hex digits only', () => {
    expect(hexId.safeParse('0'.repeat(32)).success).toBe(true);
    expect(hexId.safeParse('A'.repeat(32)).success).toBe(false);
    expect(hexId.safeParse('0'.repeat(31)).success).toBe(false);
  });
});
