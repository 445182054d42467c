import { describe, expect, it } from 'vitest';
import { layoutBranchGraph, lsnFraction } from './branch-graph';

describe('the branch graph layout', () => {
  const tree = [
    { name: 'main', parent: null, lsn: null, startLsn: '1000', lastRecordLsn: '9000' },
    { name: 'late', parent: 'main', lsn: '7000', startLsn: '7000', lastRecordLsn: '7500' },
    { name: 'early', parent: 'main', lsn: '3000', startLsn: '3000', lastRecordLsn: '4000' },
    { name: 'grandchild', parent: 'early', lsn: '3500', startLsn: '3500', lastRecordLsn: '3600' },
  ];

  it('a parent comes before its children; siblings by branch point; each child knows its parent row', () => {
    const l = layoutBranchGraph(tree);
    expect(l.rows.map((r) => [r.name, r.depth, r.parentRow])).toEqual([
      ['main', 0, null],
      ['early', 1, 0],
      ['grandchild', 2, 1],
      ['late', 1, 0],
    ]);
    expect(l.min).toBe(1000n);
    expect(l.max).toBe(9000n);
  });

  it('a child starts at its branch point; an unknown head is a point at the start', () => {
    const l = layoutBranchGraph([tree[0]!, { name: 'dev', parent: 'main', lsn: '5000', startLsn: null, lastRecordLsn: null }]);
    expect(l.rows[1]).toMatchObject({ start: 5000n, head: 5000n, headKnown: false, branchLsn: 5000n });
  });

  it('an orphan (its parent not listed) is drawn as a root', () => {
    expect(layoutBranchGraph([{ name: 'x', parent: 'gone', lsn: '5', startLsn: null, lastRecordLsn: '6' }]).rows.map((r) => r.parentRow)).toEqual([null]);
  });

  it('fractions', () => {
    expect(lsnFraction(1500n, 1000n, 2000n)).toBe(0.5);
    expect(lsnFraction(7n, 7n, 7n)).toBe(0.5);
  });
});
