import { describe, expect, it } from 'vitest';
import { runSimulation, SimViolation } from './cluster.js';
import { runSeeds } from './sim-seeds.test-util.js';

// 10,000 seeds in two files so vitest can use both cores: this one runs 1..5000.
describe('simulation: safety holds under crashes, loss, reordering and a membership change', () => {
  it('seeds 1..5000 keep every invariant', () => {
    const r = runSeeds(1, 5000);
    if (process.env.SIM_SEED === undefined) {
      // The runs must exercise the protocol, not idle.
      expect(r.elections).toBeGreaterThan(5000);
      expect(r.membershipDone).toBeGreaterThan(1000);
    }
  });
});

describe('simulation catches deliberately broken rules', () => {
  it('an acceptor that votes twice in a term breaks election safety within 50 seeds', () => {
    let caught: SimViolation | null = null;
    for (let seed = 1; seed <= 50 && caught === null; seed++) {
      try {
        runSimulation({ seed, steps: 600, bugs: { voteTwice: true } });
      } catch (e) {
        if (!(e instanceof SimViolation)) throw e;
        caught = e;
      }
    }
    expect(caught?.message).toMatch(/election safety/);
  });

  it('the same runs without the bug are clean (the detection is the bug, not noise)', () => {
    for (let seed = 1; seed <= 50; seed++) runSimulation({ seed, steps: 600 });
  });

  it('a replayed seed is deterministic', () => {
    const a = runSimulation({ seed: 4242, steps: 600 });
    const b = runSimulation({ seed: 4242, steps: 600 });
    expect(a).toEqual(b);
  });
});
