import { describe, expect, it } from 'vitest';
import { WalTailCache } from './wal-tail-cache.js';

/** Bytes whose value says their LSN (mod 251), so any misplaced byte shows. */
function wal(from: bigint, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Number((from + BigInt(i)) % 251n);
  return out;
}

describe('WalTailCache', () => {
  it('answers any range inside what it holds, across appends, and nothing outside it', () => {
    const c = new WalTailCache(1000);
    let lsn = 5000n;
    for (const n of [100, 1, 300, 50, 200]) {
      c.push(lsn, wal(lsn, n));
      lsn += BigInt(n);
    }
    expect(c.range).toEqual({ startLsn: 5000n, endLsn: 5651n, bytes: 651 });
    for (const [a, b] of [[5000n, 5651n], [5099n, 5102n], [5400n, 5451n], [5650n, 5651n], [5200n, 5200n]] as const) expect(c.read(a, b)).toEqual(wal(a, Number(b - a)));
    expect(c.read(4999n, 5010n)).toBeUndefined();
    expect(c.read(5600n, 5652n)).toBeUndefined();
  });

  it('keeps only the newest bytes within its budget, and copies what it is given', () => {
    const c = new WalTailCache(1000);
    let lsn = 0n;
    for (let i = 0; i < 500; i++) {
      const buf = wal(lsn, 37);
      c.push(lsn, buf);
      buf.fill(0xff);
      lsn += 37n;
    }
    const r = c.range;
    expect(r.bytes).toBeLessThanOrEqual(1000);
    expect(r.endLsn).toBe(lsn);
    expect(r.endLsn - r.startLsn).toBe(BigInt(r.bytes));
    expect(c.read(r.startLsn, lsn)).toEqual(wal(r.startLsn, r.bytes));
    expect(c.read(r.startLsn - 1n, lsn)).toBeUndefined();
    // One append larger than the budget keeps its newest part.
    c.push(lsn, wal(lsn, 5000));
    expect(c.range).toEqual({ startLsn: lsn + 4000n, endLsn: lsn + 5000n, bytes: 1000 });
    expect(c.read(lsn + 4000n, lsn + 5000n)).toEqual(wal(lsn + 4000n, 1000));
  });

  it('forgets what a truncate removed, and restarts at bytes that do not continue its range', () => {
    const c = new WalTailCache(1 << 20);
    c.push(100n, wal(100n, 50));
    c.push(150n, wal(150n, 50));
    c.truncate(170n);
    expect(c.range).toEqual({ startLsn: 100n, endLsn: 170n, bytes: 70 });
    expect(c.read(160n, 171n)).toBeUndefined();
    // The new history after the truncate point (different bytes at the same LSNs).
    const other = wal(170n, 30).map((b) => b ^ 0x5a);
    c.push(170n, other);
    expect(c.read(165n, 200n)).toEqual(Uint8Array.from([...wal(165n, 5), ...other]));
    c.truncate(120n);
    expect(c.read(100n, 120n)).toEqual(wal(100n, 20));
    c.truncate(50n);
    expect(c.range.bytes).toBe(0);
    // A gap: the cache starts over at the new bytes.
    c.push(1000n, wal(1000n, 10));
    c.push(2000n, wal(2000n, 10));
    expect(c.range).toEqual({ startLsn: 2000n, endLsn: 2010n, bytes: 10 });
    expect(c.read(1000n, 1010n)).toBeUndefined();
  });
});
