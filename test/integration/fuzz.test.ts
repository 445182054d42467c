/**
 * Issue 16, "no remote input reaches an assertion": the fuzz harness
 * (test/support/fuzz/) at a bounded size, against real safekeeper and page
 * server processes with auth on, a valid tenant token and the admin token,
 * and the compute's control port. `npm run fuzz` is the nightly size.
 *
 * STRATA_FUZZ_SEED picks the seed (default: a fixed one, so that a failure
 * here replays the same way on every machine); the report names the seed
 * and the replay command of every finding.
 */
import { describe, expect, it } from 'vitest';
import { runFuzz } from '../support/fuzz/harness.js';

const SEED = process.env['STRATA_FUZZ_SEED'] !== undefined ? Number(process.env['STRATA_FUZZ_SEED']) : 20261207;
/** Per service: about a minute of the 90 s this file may take on two cores, with the planted run. */
const ITERATIONS = 3000;

describe('fuzz harness (real processes, auth on)', () => {
  it('[FUZZ] every route and stream of the safekeeper, the page server and the compute control port: answers typed, processes alive, state unchanged', async () => {
    const report = await runFuzz({ seed: SEED, iterations: ITERATIONS, log: (l) => console.log(l) });
    console.log(report.text());
    for (const s of ['safekeeper', 'pageserver', 'compute'] as const) expect(report.stats[s].iterations, report.text()).toBe(ITERATIONS);
    expect(report.findings, report.text()).toEqual([]);
    // A route the harness has no template for is fuzzed only generically: give it one in routes.ts.
    expect(report.uncoveredRoutes, report.text()).toEqual([]);
  });

  it('[FUZZ][PLANTED] an unguarded assertion planted in a test build of the page server is caught and reported with its seed', async () => {
    const seed = 4242;
    const report = await runFuzz({ seed, iterations: 1500, services: ['pageserver'], plantedBug: true });
    const text = report.text();
    console.log(text);
    expect(report.findings.length, text).toBeGreaterThan(0);
    // The assertion's own message, from the answer (500) or the process's last words, and a way to replay it.
    expect(text).toContain('STRATA_FUZZ_PLANTED_BUG');
    expect(report.findings.some((f) => f.kind === 'process-died' || f.kind === 'server-error')).toBe(true);
    expect(text).toContain(`npm run fuzz -- --seed ${seed} --service pageserver --batch`);
  });
});
