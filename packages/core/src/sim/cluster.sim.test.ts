import { describe, expect, it } from 'vitest';
import { runSimulation, SimViolation, type SimOptions } from './cluster.js';
import { runSeeds } from './sim-seeds.test-util.js';

// 10,000 seeds in two files so vitest can use both cores: this one runs 1..5000.
describe('simulation: safety holds under crashes, loss, reordering, broken streams, lost disks and a membership change', () => {
  it('seeds 1..5000 keep every invariant', () => {
    const r = runSeeds(1, 5000);
    if (process.env.SIM_SEED === undefined) {
      // The runs must exercise the protocol, not idle.
      expect(r.elections).toBeGreaterThan(5000);
      expect(r.membershipDone).toBeGreaterThan(1000);
      expect(r.streamSeeds).toBeGreaterThan(3000);
      expect(r.connectionResets).toBeGreaterThan(10_000);
      expect(r.freshJoins).toBeGreaterThan(500);
      expect(r.losses).toBeGreaterThan(1000);
    }
  });
});

/** The first seed in [1, seedsMax] whose run raises a SimViolation, with its message. */
function firstViolation(seedsMax: number, o: Omit<SimOptions, 'seed'>): SimViolation | null {
  for (let seed = 1; seed <= seedsMax; seed++) {
    try {
      runSimulation({ seed, ...o });
    } catch (e) {
      if (!(e instanceof SimViolation)) throw e;
      console.log(`injected bug caught: ${e.message}`);
      return e;
    }
  }
  return null;
}

describe('simulation catches deliberately broken rules', () => {
  it('an acceptor that votes twice in a term breaks election safety within 50 seeds', () => {
    expect(firstViolation(50, { steps: 600, bugs: { voteTwice: true } })?.message).toMatch(/election safety|promise forgotten/);
  });

  it('a member that lost its disk and comes back as a fresh acceptor forgets its promises within 20 seeds', () => {
    const o = { steps: 600, diskLossP: 0.004, bugs: { rejoinLostAsFresh: true } };
    expect(firstViolation(20, o)?.message).toMatch(/promise forgotten/);
  });

  it('without the promise invariant, the same bug is caught by what it breaks: a double election or lost committed WAL', () => {
    const o = { steps: 600, diskLossP: 0.004, checkPromises: false, bugs: { rejoinLostAsFresh: true } };
    expect(firstViolation(100, o)?.message).toMatch(/election safety|leader completeness|log safety/);
  });

  it('the same runs without the bugs are clean (the detection is the bug, not noise)', () => {
    for (let seed = 1; seed <= 50; seed++) {
      runSimulation({ seed, steps: 600 });
      runSimulation({ seed, steps: 600, diskLossP: 0.004 });
    }
  });

  it('a replayed seed is deterministic', () => {
    const a = runSimulation({ seed: 4242, steps: 600 });
    const b = runSimulation({ seed: 4242, steps: 600 });
    expect(a).toEqual(b);
  });
});

describe('a member that missed the timeline', () => {
  it('joins as a fresh acceptor once up (never silently left out), on streams and datagrams', () => {
    let joined = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const r = runSimulation({ seed, steps: 1500, missedMember: true, diskLossP: 0, membershipChangeAtStep: null, network: seed % 2 === 0 ? 'stream' : 'datagram' });
      // At the end every member holds the timeline, or its safekeeper is down at that moment.
      if (Object.values(r.presence).every((p) => p === 'present')) joined++;
    }
    expect(joined).toBe(100);
  });

  it('a member that lost its timeline stays out and is reported, never rejoins empty', () => {
    let lost = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const r = runSimulation({ seed, steps: 600, missedMember: false, diskLossP: 0.01, membershipChangeAtStep: null });
      if (r.losses === 0) continue;
      expect(r.freshJoins).toBe(0);
      if (Object.values(r.presence).some((p) => p !== 'present')) lost++;
    }
    expect(lost).toBeGreaterThan(50);
  });
});
