import { describe, expect, it } from 'vitest';
import { collect, fixtureLog } from './fixture-log.test-util.js';
import { memoryLogSource, scanLog } from './log-scan.js';
import { ownsPage, type PagePartition } from './mtr.js';
import { isPageRecord, type RedoRecord } from './records.js';

function describeRecord(r: RedoRecord): string {
  return JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
}

function scan(partition?: PagePartition): { records: string[][]; end: bigint } {
  const { mtrs, end } = collect(scanLog(memoryLogSource(fixtureLog()), 50841n, 16384, partition ? { partition } : {}));
  return { records: mtrs.map((m) => m.records.map(describeRecord)), end: end.endLsn };
}

describe('page partitions (a replay split over threads)', () => {
  it('every page is owned by exactly one share, page 0 by all', () => {
    for (const count of [2, 3]) {
      for (let page = 0; page < 50; page++) {
        const owners = Array.from({ length: count }, (_, index) => ownsPage({ index, count }, 7, page)).filter(Boolean).length;
        expect(owners).toBe(page === 0 ? count : 1);
      }
    }
  });

  it('the shares together parse exactly the records of a whole parse, mtr by mtr, with the same log end', () => {
    const whole = scan();
    expect(whole.records.flat().length).toBeGreaterThan(100);
    for (const count of [2, 3]) {
      const shares = Array.from({ length: count }, (_, index) => scan({ index, count }));
      for (const s of shares) expect(s.end).toBe(whole.end);
      whole.records.forEach((records, i) => {
        const union = new Set(shares.flatMap((s) => s.records[i]!));
        expect([...union].sort()).toEqual([...new Set(records)].sort());
        for (const s of shares) expect(s.records[i]!.length).toBeLessThanOrEqual(records.length);
      });
      // A share really skips: the other shares' pages are not in it.
      const first = shares[0]!.records.flat().map((j) => JSON.parse(j) as RedoRecord);
      expect(first.filter((r) => isPageRecord(r) && !ownsPage({ index: 0, count }, r.spaceId, r.pageNo))).toEqual([]);
      expect(first.length).toBeLessThan(whole.records.flat().length);
    }
  });
});
