import { expect } from 'vitest';
import { runSimulation, SimViolation } from './cluster.js';
import { SIM_STEPS } from './params.js';

/** Run seeds [first, last]; a failure names the seed and how to replay it. */
export interface SeedsSummary {
  elections: number;
  membershipDone: number;
  streamSeeds: number;
  connectionResets: number;
  freshJoins: number;
  losses: number;
}

export function runSeeds(first: number, last: number): SeedsSummary {
  const only = process.env.SIM_SEED;
  const seeds = only !== undefined ? [Number(only)] : range(first, last);
  const sum: SeedsSummary = { elections: 0, membershipDone: 0, streamSeeds: 0, connectionResets: 0, freshJoins: 0, losses: 0 };
  for (const seed of seeds) {
    try {
      const r = runSimulation({ seed, steps: SIM_STEPS });
      sum.elections += r.elections;
      if (r.membershipChange === 'done') sum.membershipDone++;
      if (r.network === 'stream') sum.streamSeeds++;
      sum.connectionResets += r.connectionResets;
      sum.freshJoins += r.freshJoins;
      sum.losses += r.losses;
    } catch (e) {
      if (e instanceof SimViolation) {
        const how = `replay: SIM_SEED=${seed} npx vitest run packages/core/src/sim  or  npx tsx packages/core/src/sim/run.ts --seed ${seed}`;
        console.error(`simulation failed: ${e.message}\n${how}`);
        expect.fail(`${e.message} (${how})`);
      }
      throw e;
    }
  }
  return sum;
}

function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let i = a; i <= b; i++) out.push(i);
  return out;
}
