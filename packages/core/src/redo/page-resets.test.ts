import { describe, expect, it } from 'vitest';
import { fixtureLog, fixtureMtrs } from './fixture-log.test-util.js';
import { LogScanner, memoryLogSource } from './log-scan.js';
import type { Mtr } from './mtr.js';
import { collectPageResets, supersededByReset } from './page-resets.js';
import type { RedoRecord } from './records.js';

function mtr(startLsn: bigint, ...records: RedoRecord[]): Mtr {
  return { startLsn, endLsn: startLsn + 10n, bytes: new Uint8Array(0), records };
}
const init = (spaceId: number, pageNo: number): RedoRecord => ({ type: 'INIT_PAGE', spaceId, pageNo });
const free = (spaceId: number, pageNo: number): RedoRecord => ({ type: 'FREE_PAGE', spaceId, pageNo });
const write = (spaceId: number, pageNo: number): RedoRecord => ({ type: 'WRITE', spaceId, pageNo, offset: 38, data: Uint8Array.of(1) });

function resetsOf(mtrs: Mtr[], untilLsn?: bigint) {
  let i = 0;
  return collectPageResets(() => mtrs[i++], untilLsn);
}

describe('page resets', () => {
  it('keeps the last init or free of each page; records before an init are superseded, those after it are not', () => {
    const resets = resetsOf([
      mtr(100n, init(5, 3), write(5, 3)),
      mtr(200n, write(5, 3), write(5, 4)),
      mtr(300n, init(5, 3), write(5, 3)),
      mtr(400n, write(5, 3)),
    ]);
    expect(resets.get(5)?.get(3)).toEqual({ startLsn: 300n, freed: false });
    expect(resets.get(5)?.has(4)).toBe(false);
    expect(supersededByReset(resets, 5, 3, 100n)).toBe(true);
    expect(supersededByReset(resets, 5, 3, 200n)).toBe(true);
    // The resetting mtr itself and everything after it apply.
    expect(supersededByReset(resets, 5, 3, 300n)).toBe(false);
    expect(supersededByReset(resets, 5, 3, 400n)).toBe(false);
    expect(supersededByReset(resets, 5, 4, 200n)).toBe(false);
    expect(supersededByReset(resets, 6, 3, 100n)).toBe(false);
  });

  it('a page that ends freed has nothing to apply, even records logged after the FREE_PAGE; FREE then INIT in one mtr leaves it initialised', () => {
    const resets = resetsOf([
      mtr(100n, write(1, 7), free(1, 7)),
      mtr(200n, write(1, 7)),
      mtr(300n, free(1, 8), init(1, 8), write(1, 8)),
    ]);
    expect(resets.get(1)?.get(7)).toEqual({ startLsn: 100n, freed: true });
    expect(supersededByReset(resets, 1, 7, 200n)).toBe(true);
    expect(resets.get(1)?.get(8)).toEqual({ startLsn: 300n, freed: false });
    expect(supersededByReset(resets, 1, 8, 300n)).toBe(false);
  });

  it('stops where the replay stops (--until-lsn): a reset past it supersedes nothing', () => {
    const mtrs = [mtr(100n, write(2, 9)), mtr(200n, init(2, 9))];
    expect(supersededByReset(resetsOf(mtrs), 2, 9, 100n)).toBe(true);
    expect(supersededByReset(resetsOf(mtrs, 205n), 2, 9, 100n)).toBe(false);
    expect(supersededByReset(resetsOf(mtrs, 210n), 2, 9, 100n)).toBe(true);
  });

  it('a resets-only scan of the real fixture log finds the same resets as a full parse', () => {
    const full = fixtureMtrs();
    let i = 0;
    const fromFull = collectPageResets(() => full[i++]);
    const scanner = new LogScanner(memoryLogSource(fixtureLog()), 50841n, 16384, { resetsOnly: true });
    const quick: Mtr[] = [];
    const fromQuick = collectPageResets(() => {
      const m = scanner.next();
      if (m) quick.push(m);
      return m;
    });
    expect(fromFull.size).toBeGreaterThan(0);
    expect(fromQuick).toEqual(fromFull);
    // The same mtrs, holding only their FREE_PAGE and INIT_PAGE records.
    expect(quick.map((m) => m.endLsn)).toEqual(full.map((m) => m.endLsn));
    quick.forEach((m, k) => {
      expect(m.records).toEqual(full[k]!.records.filter((r) => r.type === 'INIT_PAGE' || r.type === 'FREE_PAGE'));
    });
  });
});
