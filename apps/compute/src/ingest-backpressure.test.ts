import { describe, expect, it } from 'vitest';
import { IngestBackpressure, mustWait } from './ingest-backpressure.js';

const MIB = 1n << 20n;

describe('ingest back-pressure', () => {
  it('holds a commit only past the lag bound, and never on an unknown position or when off', () => {
    expect(mustWait(100n * MIB, 40n * MIB, 64n * MIB)).toBe(false);
    expect(mustWait(100n * MIB, 30n * MIB, 64n * MIB)).toBe(true);
    expect(mustWait(100n * MIB, undefined, 64n * MIB)).toBe(false);
    expect(mustWait(100n * MIB, 0n, 0n)).toBe(false);
  });

  it('holds commits while the page server is behind and lets them go as it catches up', async () => {
    let ingested = 0n;
    let asked = 0;
    const bp = new IngestBackpressure({
      maxLagBytes: 10n * MIB,
      refreshMs: 0,
      pollMs: 5,
      ingestedLsn: () => {
        asked++;
        return Promise.resolve(ingested);
      },
    });
    // The first commit learns the position without waiting for it.
    await bp.admit(50n * MIB);
    await new Promise((r) => setTimeout(r, 10));
    expect(bp.stats().ingestedLsn).toBe(0n);
    let done = false;
    const held = bp.admit(50n * MIB).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false);
    expect(bp.stats().holding).toBe(1);
    ingested = 45n * MIB;
    await held;
    expect(bp.stats()).toMatchObject({ waits: 1, holding: 0, ingestedLsn: 45n * MIB });
    expect(bp.stats().waitMs).toBeGreaterThanOrEqual(40);
    expect(asked).toBeGreaterThan(2);
  });

  it('does not hold commits when the page server cannot be asked, and holds one at most waitMsMax', async () => {
    let fail = false;
    const lines: string[] = [];
    const bp = new IngestBackpressure({
      maxLagBytes: MIB,
      refreshMs: 0,
      pollMs: 5,
      waitMsMax: 60,
      log: (l) => lines.push(l),
      ingestedLsn: () => (fail ? Promise.reject(new Error('connection refused')) : Promise.resolve(0n)),
    });
    await bp.admit(10n * MIB);
    await new Promise((r) => setTimeout(r, 5));
    // Stuck at 0: held, but only for waitMsMax.
    const t0 = Date.now();
    await bp.admit(10n * MIB);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(55);
    expect(Date.now() - t0).toBeLessThan(1_000);
    fail = true;
    await new Promise((r) => setTimeout(r, 5));
    await bp.admit(10n * MIB);
    await new Promise((r) => setTimeout(r, 5));
    const t1 = Date.now();
    await bp.admit(10n * MIB);
    expect(Date.now() - t1).toBeLessThan(20);
    expect(bp.stats().ingestedLsn).toBeUndefined();
    expect(bp.stats().failures).toBeGreaterThan(0);
    expect(lines.some((l) => l.includes('position is unknown'))).toBe(true);
  });

  it('asks nothing when off', async () => {
    let asked = 0;
    const bp = new IngestBackpressure({ maxLagBytes: 0n, ingestedLsn: () => Promise.resolve(BigInt(asked++)) });
    await bp.admit(1n << 40n);
    expect(asked).toBe(0);
  });
});
