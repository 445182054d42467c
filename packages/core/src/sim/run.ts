/**
 * Replay one simulation seed with a trace:
 *   npx tsx packages/core/src/sim/run.ts --seed N [--steps K] [--quiet]
 */
import { runSimulation, SimViolation } from './cluster.js';
import { SIM_STEPS } from './params.js';

// The only impure corner of packages/core, a command-line entry point: it
// reaches the host through globalThis so the pure build needs no node types.
const host = globalThis as unknown as {
  process: { argv: string[]; exitCode?: number };
  console: { log(line: string): void };
};
const argv: readonly string[] = host.process.argv.slice(2);
const log = (line: string) => host.console.log(line);

function flag(name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

const seed = Number(flag('--seed') ?? '1');
const steps = Number(flag('--steps') ?? String(SIM_STEPS));
const quiet = argv.includes('--quiet');
try {
  const r = runSimulation({ seed, steps, trace: quiet ? undefined : log });
  log(
    `seed ${seed}: ok — ${r.elections} elections, committed up to ${r.committedLsn}, membership ${r.membershipChange}, ${r.messagesDelivered} messages`,
  );
} catch (e) {
  if (!(e instanceof SimViolation)) throw e;
  log(`FAILED ${e.message}`);
  host.process.exitCode = 1;
}
