import { describe, expect, it } from 'vitest';
import { commitLsnOf, WalPushError } from './wal-push.js';

describe("wal push checks the commit LSN of a safekeeper's timeline reply", () => {
  const base = 'http://127.0.0.1:7676';

  it('reads a decimal LSN up to 2^64 - 1, other fields ignored', () => {
    expect(commitLsnOf({ commitLsn: '5000', flushLsn: '6000' }, base)).toBe(5000n);
    expect(commitLsnOf({ commitLsn: '18446744073709551615' }, base)).toBe((1n << 64n) - 1n);
  });

  it.each([
    [{ commitLsn: '18446744073709551616' }, 'commitLsn: must fit in 64 bits'],
    [{ commitLsn: 'abc' }, 'commitLsn: must be a decimal LSN'],
    [{ commitLsn: '-5' }, 'commitLsn: must be a decimal LSN'],
    [{ commitLsn: 5000 }, 'commitLsn: '],
    [{}, 'commitLsn: '],
    [null, 'reply: '],
  ])('refuses %j with a WAL_PUSH_FAILED error saying why', (body, why) => {
    const e = (() => {
      try {
        return commitLsnOf(body, base);
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(WalPushError);
    expect(e).toMatchObject({ code: 'WAL_PUSH_FAILED' });
    expect((e as Error).message).toContain(`${base}: the timeline's commitLsn is not an LSN (${why}`);
  });
});
