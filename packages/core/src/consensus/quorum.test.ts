import { describe, expect, it } from 'vitest';
import { isQuorum, quorumLsn } from './quorum.js';
import { highestCommonPoint, lastLogTerm } from './term-history.js';

const joint = { generation: 2, members: [1, 2, 3], newMembers: [1, 2, 4] };

describe('quorum', () => {
  it('a joint configuration needs a majority of the old AND of the new members', () => {
    expect(isQuorum(joint, (id) => [1, 3].includes(id))).toBe(false); // old only
    expect(isQuorum(joint, (id) => [3, 4].includes(id))).toBe(false); // one of each
    expect(isQuorum(joint, (id) => [1, 2].includes(id))).toBe(true);
    expect(isQuorum(joint, (id) => [1, 3, 4].includes(id))).toBe(true);
  });
  it('quorumLsn is the lower of the two majorities\' positions', () => {
    const flush = new Map([[1, 50n], [2, 10n], [3, 40n], [4, 20n]]);
    expect(quorumLsn({ generation: 1, members: [1, 2, 3] }, (id) => flush.get(id))).toBe(40n);
    expect(quorumLsn(joint, (id) => flush.get(id))).toBe(20n);
    expect(quorumLsn(joint, (id) => (id === 4 || id === 2 ? undefined : flush.get(id)))).toBeNull();
  });
});

describe('term history', () => {
  const prop = [{ term: 1n, lsn: 100n }, { term: 3n, lsn: 150n }, { term: 5n, lsn: 170n }];
  it('the common point ends where either log leaves the last common term', () => {
    expect(highestCommonPoint(prop, [{ term: 1n, lsn: 100n }, { term: 2n, lsn: 120n }], 160n)).toEqual({ term: 1n, lsn: 120n });
    expect(highestCommonPoint(prop, [{ term: 1n, lsn: 100n }], 200n)).toEqual({ term: 1n, lsn: 150n });
    expect(highestCommonPoint(prop, [{ term: 1n, lsn: 100n }, { term: 3n, lsn: 150n }], 160n)).toEqual({ term: 3n, lsn: 160n });
    expect(highestCommonPoint(prop, [{ term: 2n, lsn: 100n }], 160n)).toBeNull();
  });
  it('a history that runs ahead of the WAL is clipped to the flush LSN', () => {
    // Adopted the proposer's history but only holds WAL to 130.
    expect(highestCommonPoint([{ term: 1n, lsn: 100n }, { term: 2n, lsn: 140n }], prop, 130n)).toEqual({ term: 1n, lsn: 130n });
    expect(lastLogTerm(prop, 130n)).toBe(1n);
    expect(lastLogTerm(prop, 150n)).toBe(3n);
  });
});
