import { describe, expect, it } from 'vitest';
import { highestCommit, ingestLagBytes } from './ingest-lag';

describe('ingest lag, as the Overview and the chart both read it', () => {
  it('the highest commit LSN of the safekeepers that report the timeline', () => {
    expect(highestCommit([5n, 9n, 7n])).toBe(9n);
    expect(highestCommit([])).toBeNull();
  });
  it('commit − last record, never negative; unknown without a commit', () => {
    expect(ingestLagBytes(100n + 25n * 1024n * 1024n, 100n)).toBe(25n * 1024n * 1024n);
    expect(ingestLagBytes(100n, 150n)).toBe(0n);
    expect(ingestLagBytes(null, 150n)).toBeNull();
  });
});
