import { describe, expect, it } from 'vitest';
import { lsnHeader, WalReadError } from './wal-read.js';

describe('wal read checks the LSNs a safekeeper answers with', () => {
  const base = 'http://127.0.0.1:7676';
  const read = (v: string | undefined) => lsnHeader(new Headers(v === undefined ? {} : { 'x-strata-end-lsn': v }), 'x-strata-end-lsn', base);

  it('reads a decimal LSN up to 2^64 - 1', () => {
    expect(read('0')).toBe(0n);
    expect(read('123456')).toBe(123456n);
    expect(read('18446744073709551615')).toBe((1n << 64n) - 1n);
  });

  it.each([
    ['-1', 'must be a decimal LSN'],
    ['0x10', 'must be a decimal LSN'],
    ['012', 'must be a decimal LSN'],
    ['1e3', 'must be a decimal LSN'],
    ['', 'must be a decimal LSN'],
    ['18446744073709551616', 'must fit in 64 bits'],
  ])('refuses %j with a WAL_READ_FAILED error naming the header (%s)', (v, why) => {
    const e = (() => {
      try {
        return read(v);
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(WalReadError);
    expect(e).toMatchObject({ code: 'WAL_READ_FAILED' });
    expect((e as Error).message).toBe(`${base}: answered x-strata-end-lsn: ${JSON.stringify(v)}, not an LSN (${why})`);
  });

  it('refuses a reply without the header (it no longer reads as LSN 0)', () => {
    expect(() => read(undefined)).toThrow(new WalReadError(`${base}: answered without an x-strata-end-lsn header`));
  });
});
