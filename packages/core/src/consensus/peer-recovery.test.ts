import { describe, expect, it } from 'vitest';
import { peerRecoveryRange } from './peer-recovery.js';

const h = (...entries: [number, number][]) => entries.map(([term, lsn]) => ({ term: BigInt(term), lsn: BigInt(lsn) }));

describe('peerRecoveryRange', () => {
  it('same last log term and the same history: the peer\'s tail beyond my flush', () => {
    expect(peerRecoveryRange({ termHistory: h([1, 0], [2, 100]), flushLsn: 150n }, { termHistory: h([1, 0], [2, 100]), flushLsn: 400n })).toEqual({ from: 150n, to: 400n });
    // My WAL may end inside an older term of the same history: the same proposers wrote the rest.
    expect(peerRecoveryRange({ termHistory: h([1, 0], [2, 100]), flushLsn: 50n }, { termHistory: h([1, 0], [2, 100]), flushLsn: 400n })).toEqual({ from: 50n, to: 400n });
  });

  it('a different last log term: null', () => {
    expect(peerRecoveryRange({ termHistory: h([1, 0]), flushLsn: 150n }, { termHistory: h([1, 0], [3, 120]), flushLsn: 400n })).toBeNull();
  });

  it('my history is ahead (I adopted a newer term below the peer\'s flush): null', () => {
    expect(peerRecoveryRange({ termHistory: h([1, 0], [2, 100], [4, 150]), flushLsn: 150n }, { termHistory: h([1, 0], [2, 100]), flushLsn: 400n })).toBeNull();
  });

  it('the peer is not ahead of me: null', () => {
    const termHistory = h([1, 0], [2, 100]);
    expect(peerRecoveryRange({ termHistory, flushLsn: 400n }, { termHistory, flushLsn: 300n })).toBeNull();
    expect(peerRecoveryRange({ termHistory, flushLsn: 400n }, { termHistory, flushLsn: 400n })).toBeNull();
  });

  it('a divergent older entry (same last term, an earlier term started elsewhere): null', () => {
    expect(peerRecoveryRange({ termHistory: h([1, 0], [2, 90], [5, 200]), flushLsn: 250n }, { termHistory: h([1, 0], [2, 100], [5, 200]), flushLsn: 400n })).toBeNull();
    expect(peerRecoveryRange({ termHistory: h([1, 0], [3, 90], [5, 200]), flushLsn: 250n }, { termHistory: h([1, 0], [2, 90], [5, 200]), flushLsn: 400n })).toBeNull();
  });

  it('entries beginning at or after the peer\'s flush do not count; an empty history never recovers', () => {
    expect(peerRecoveryRange({ termHistory: h([1, 0], [7, 400]), flushLsn: 150n }, { termHistory: h([1, 0]), flushLsn: 400n })).toEqual({ from: 150n, to: 400n });
    expect(peerRecoveryRange({ termHistory: [], flushLsn: 0n }, { termHistory: [], flushLsn: 400n })).toBeNull();
  });
});
