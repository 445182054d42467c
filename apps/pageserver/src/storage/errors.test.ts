/**
 * The page server's storage errors are one family with core's: each is a
 * StrataError with a code, and "not ingested yet" (retry, 503) is not a kind
 * of "out of range" (the client's mistake, 400), so no handler that catches
 * the one can swallow the other.
 */
import { describe, expect, it } from 'vitest';
import { LsnOutOfRange, StrataError } from '@strata/core';
import { LsnBeforeGcHorizon, LsnNotYetAvailable, PageNotFound } from './errors.js';

describe('page server storage errors', () => {
  it('LsnNotYetAvailable is a StrataError of its own, not an LsnOutOfRange', () => {
    const e = new LsnNotYetAvailable(200n, 100n, 50);
    expect(e).toBeInstanceOf(StrataError);
    expect(e).not.toBeInstanceOf(LsnOutOfRange);
    expect(e.code).toBe('LSN_NOT_YET_AVAILABLE');
    expect({ lsn: e.lsn, lastRecordLsn: e.lastRecordLsn, waitedMs: e.waitedMs }).toEqual({ lsn: 200n, lastRecordLsn: 100n, waitedMs: 50 });
    expect(e.message).toMatch(/LSN 200 not ingested yet \(ingested up to 100; waited 50 ms\)/);
  });

  it('PageNotFound is a StrataError with a code', () => {
    const e = new PageNotFound(5, 3, 1000n);
    expect(e).toBeInstanceOf(StrataError);
    expect(e.code).toBe('PAGE_NOT_FOUND');
    expect(e.message).toBe('page 5:3 does not exist at LSN 1000');
  });

  it('LsnBeforeGcHorizon stays an LsnOutOfRange (a bad LSN for good, never retried)', () => {
    const e = new LsnBeforeGcHorizon(10n, 20n);
    expect(e).toBeInstanceOf(LsnOutOfRange);
    expect(e.code).toBe('LSN_OUT_OF_RANGE');
  });
});
