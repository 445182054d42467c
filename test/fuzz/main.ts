/**
 * `npm run fuzz`: the nightly-size run of the fuzz harness
 * (test/support/fuzz/harness.ts) against real processes.
 *
 *   npm run fuzz                               20 000 iterations per service, a new seed (printed)
 *   npm run fuzz -- --seed 1234                the same requests again
 *   npm run fuzz -- --seed 1234 --service pageserver --batch 7   one batch again (a finding's replay line)
 *   npm run fuzz -- --iterations 100000 --service safekeeper,pageserver
 *   npm run fuzz -- --planted-bug              against the page server with a planted assertion (must fail)
 *
 * Exits 1 when there are findings, 2 on bad arguments.
 */
import { parseArgs } from 'node:util';
import { runFuzz, SERVICES } from '../support/fuzz/harness.js';
import type { Service } from '../support/fuzz/routes.js';

const NIGHTLY_ITERATIONS = 20_000;

function usage(message: string): never {
  process.stderr.write(`fuzz: ${message}\nusage: npm run fuzz -- [--seed N] [--iterations N] [--service safekeeper,pageserver,compute] [--batch N] [--batch-size N] [--concurrency N] [--planted-bug]\n`);
  process.exit(2);
}

function int(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(Number(v))) usage(`--${name} must be a non-negative integer`);
  return Number(v);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      iterations: { type: 'string' },
      service: { type: 'string' },
      batch: { type: 'string' },
      'batch-size': { type: 'string' },
      concurrency: { type: 'string' },
      'planted-bug': { type: 'boolean' },
    },
    strict: true,
  });
  const seed = int(values.seed, 'seed', Math.floor(Math.random() * 0x7fff_ffff)) >>> 0;
  const services = values.service?.split(',').map((s) => s.trim()) ?? [...SERVICES];
  for (const s of services) if (!(SERVICES as readonly string[]).includes(s)) usage(`unknown service ${s}: one of ${SERVICES.join(', ')}`);
  const report = await runFuzz({
    seed,
    iterations: int(values.iterations, 'iterations', NIGHTLY_ITERATIONS),
    services: services as Service[],
    ...(values.batch !== undefined ? { onlyBatch: int(values.batch, 'batch', 0) } : {}),
    ...(values['batch-size'] !== undefined ? { batchSize: int(values['batch-size'], 'batch-size', 250) } : {}),
    ...(values.concurrency !== undefined ? { concurrency: int(values.concurrency, 'concurrency', 8) } : {}),
    plantedBug: values['planted-bug'] ?? false,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(`${report.text()}\n`);
  return report.findings.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`fuzz: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
