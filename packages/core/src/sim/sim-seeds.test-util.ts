import { expect } from 'vitest';
import { runSimulation, SimViolation } from './cluster.js';
import { SIM_STEPS } from './params.js';

/** Run seeds [first, last]; a failure names the seed and how to replay it. */
export function runSeeds(first: number, last: number): { elections: number; membershipDone: number } {
  const only = process.env.SIM_SEED;
  const seeds = only !== undefined ? [Number(only)] : range(first, last);
  let elections = 0;
  let membershipDone = 0;
  for (const seed of seeds) {
    try {
      const r = runSimulation({ seed, steps: SIM_STEPS });
      elections += r.elections;
      if (r.membershipChange === 'done') membershipDone++;
    } catch (e) {
      if (e instanceof SimViolation) {
        const how = `replay: SIM_SEED=${seed} npx vitest run packages/core/src/sim  or  npx tsx packages/core/src/sim/run.ts --seed ${seed}`;
        console.error(`simulation failed: ${e.message}\n${how}`);
        expect.fail(`${e.message} (${how})`);
      }
      throw e;
    }
  }
  return { elections, membershipDone };
}

function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let i = a; i <= b; i++) out.push(i);
  return out;
}
