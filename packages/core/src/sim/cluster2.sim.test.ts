import { describe, it } from 'vitest';
import { runSeeds } from './sim-seeds.test-util.js';

// Second half of the 10,000 seeds (see cluster.sim.test.ts).
describe('simulation: safety holds under crashes, loss, reordering, broken streams, lost disks and a membership change', () => {
  it.skipIf(process.env.SIM_SEED !== undefined)('seeds 5001..10000 keep every invariant', () => {
    runSeeds(5001, 10000);
  });
});
