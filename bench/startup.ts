/**
 * startup: how fast the processes users run start, and how fast a local cluster stops.
 *
 * 1. Each service (safekeeper, page server), spawn → its "listening on" line, on a fresh empty
 *    data directory, RUNS times each, interleaved:
 *    - built: exactly what `./strata up` runs (apps/cli/src/local/daemon.ts `programArgv`: the
 *      esbuild bundle in apps/<app>/dist/, source maps on);
 *    - built without --enable-source-maps, to show what the maps cost;
 *    - baseline: the same entry from TypeScript source under tsx (how every daemon ran before
 *      the build).
 *    Medians; the ratio is tsx / built (above 1: the bundle starts faster). Target: ≤ 300 ms.
 * 2. `./strata up --no-console` on an existing home (a cluster created and stopped first,
 *    untimed): the whole command, three safekeepers, the page server and the main compute,
 *    and `./strata down` right after with that compute running. Target for down: ≤ 10 s.
 *
 * Every run rewrites bench/results/startup.json and the `startup-results` section of
 * docs/benchmarks.md.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { programArgv, PROGRAMS } from '../apps/cli/src/local/daemon.js';
import { makeTempDir, removeTempDir } from '../test/support/mariadb.js';
import { type Bench, type BenchOptions, describeMachine, formatMachine, type Machine } from './support/bench.js';
import { replaceMarkedSection } from './support/docs-section.js';
import { buildBundlesIfStale } from './support/strata-local.js';

const NAME = 'startup';
const RUNS = 5;
const UP_RUNS = 3;
const LISTEN_TARGET_MS = 300;
const DOWN_TARGET_MS = 10_000;
const START_TIMEOUT_MS = 30_000;
const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const STRATA = join(REPO_ROOT, 'strata');
const RESULTS_JSON = join(REPO_ROOT, 'bench/results/startup.json');
const DOCS_MD = join(REPO_ROOT, 'docs/benchmarks.md');
const TSX_LOADER = join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs');

type Service = 'safekeeper' | 'pageserver';
type Variant = 'built' | 'builtNoMaps' | 'tsx';

interface ServiceResult {
  readonly service: Service;
  /** Median spawn → listening, per variant; every sample alongside. */
  readonly medianMs: Record<Variant, number>;
  readonly samplesMs: Record<Variant, number[]>;
}

interface Measured {
  readonly machine: Machine;
  readonly services: ServiceResult[];
  readonly upMs: number[];
  readonly downMs: number[];
}

/** Runs a command to completion; the error carries its output. */
function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: 600_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}\n${stdout}`));
      else resolve();
    });
  });
}

/** The CLI acts on the cluster in `home` with that cluster's admin token. */
function strataEnv(home: string): Record<string, string> {
  return { STRATA_HOME: home, STRATA_TOKEN: '' };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function serviceArgs(service: Service, dataDir: string): string[] {
  // Port 0: the kernel picks one, the "listening on" line names it. An empty page server connects to no safekeeper.
  return service === 'safekeeper'
    ? ['--id', '1', '--listen', '127.0.0.1:0', '--data', dataDir]
    : ['--listen', '127.0.0.1:0', '--data', dataDir, '--safekeepers', '127.0.0.1:1'];
}

function nodeArgv(service: Service, variant: Variant): string[] {
  const built = programArgv(service);
  if (variant === 'built') return built;
  if (variant === 'builtNoMaps') return built.filter((a) => a !== '--enable-source-maps');
  return ['--import', TSX_LOADER, join(REPO_ROOT, PROGRAMS[service].source)];
}

/** Spawn → the first "listening on" on stdout, then SIGTERM and wait for the exit. */
async function timeStart(service: Service, variant: Variant, dataDir: string): Promise<number> {
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, [...nodeArgv(service, variant), ...serviceArgs(service, dataDir)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${service} (${variant}) did not listen within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
      child.stdout!.on('data', (d: Buffer) => {
        output += d.toString();
        if (output.includes('listening on')) {
          clearTimeout(timer);
          resolve(performance.now() - t0);
        }
      });
      child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${service} (${variant}) exited with ${code} before listening:\n${output}`));
      });
    });
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

async function measureService(service: Service, dir: string): Promise<ServiceResult> {
  const variants: Variant[] = ['built', 'builtNoMaps', 'tsx'];
  const samplesMs: Record<Variant, number[]> = { built: [], builtNoMaps: [], tsx: [] };
  // One untimed start of each: the first start after a build pays for a cold page cache.
  for (const v of variants) await timeStart(service, v, join(dir, `${service}-warm-${v}`));
  for (let i = 0; i < RUNS; i++) {
    for (const v of variants) samplesMs[v].push(await timeStart(service, v, join(dir, `${service}-${v}-${i}`)));
  }
  return {
    service,
    samplesMs,
    medianMs: { built: median(samplesMs.built), builtNoMaps: median(samplesMs.builtNoMaps), tsx: median(samplesMs.tsx) },
  };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function measureCluster(home: string): Promise<{ upMs: number[]; downMs: number[] }> {
  const env = strataEnv(home);
  // The existing home: a cluster created (mariadb-install-db, the tenant import) and stopped.
  await run(STRATA, ['up', '--no-console'], env);
  await run(STRATA, ['down'], env);
  const upMs: number[] = [];
  const downMs: number[] = [];
  try {
    for (let i = 0; i < UP_RUNS; i++) {
      upMs.push(await timed(() => run(STRATA, ['up', '--no-console'], env)));
      // `up` leaves the main compute running: this is down with a compute to stop.
      downMs.push(await timed(() => run(STRATA, ['down'], env)));
    }
  } finally {
    await run(STRATA, ['down'], env).catch(() => undefined);
  }
  return { upMs, downMs };
}

const ms = (x: number) => `${Math.round(x)} ms`;
const verdict = (x: number, target: number) => (x <= target ? `within the ${ms(target)} target` : `OVER the ${ms(target)} target`);

function reportLines(m: Measured): string[] {
  const lines = [`machine: ${formatMachine(m.machine)}`];
  for (const s of m.services) {
    const { built, tsx } = s.medianMs;
    const ratio = tsx / built;
    lines.push(`${s.service} spawn → listening: built ${ms(built)} vs tsx from source ${ms(tsx)} → ${ratio.toFixed(2)}× (${ratio >= 1 ? 'built faster' : 'tsx faster'}); ${verdict(built, LISTEN_TARGET_MS)}`);
  }
  for (const s of m.services) {
    const { built, builtNoMaps, tsx } = s.medianMs;
    lines.push(
      `  ${s.service}: medians of ${RUNS}: built ${ms(built)} (without source maps ${ms(builtNoMaps)}), tsx ${ms(tsx)}; ` +
        `samples built ${s.samplesMs.built.map(ms).join(', ')}; tsx ${s.samplesMs.tsx.map(ms).join(', ')}`,
    );
  }
  lines.push(`./strata up --no-console on an existing home: median ${ms(median(m.upMs))} (${m.upMs.map(ms).join(', ')})`);
  lines.push(`./strata down with the main compute running: median ${ms(median(m.downMs))} (${m.downMs.map(ms).join(', ')}); ${verdict(Math.max(...m.downMs), DOWN_TARGET_MS)} (slowest)`);
  return lines;
}

function docsSection(m: Measured, opts: BenchOptions, lines: string[]): string {
  return [
    `Latest run: ${new Date().toISOString().slice(0, 10)}, \`${opts.command}\`, on ${formatMachine(m.machine)}.`,
    '',
    `| service | built (what \`up\` runs) | built, no source maps | tsx from source | ratio tsx / built |`,
    '| --- | --- | --- | --- | --- |',
    ...m.services.map((s) => `| ${s.service} | ${ms(s.medianMs.built)} | ${ms(s.medianMs.builtNoMaps)} | ${ms(s.medianMs.tsx)} | **${(s.medianMs.tsx / s.medianMs.built).toFixed(2)}×** |`),
    '',
    `\`./strata up --no-console\` on an existing home: ${ms(median(m.upMs))} (median of ${UP_RUNS}); \`./strata down\` with the main compute running: ${ms(median(m.downMs))}.`,
    '',
    '```',
    ...lines,
    '```',
  ].join('\n');
}

async function runBench(opts: BenchOptions): Promise<void> {
  const machine = describeMachine();
  // Untimed.
  await buildBundlesIfStale();
  const dir = await makeTempDir('bench-startup');
  let m: Measured;
  try {
    const services = [await measureService('safekeeper', dir), await measureService('pageserver', dir)];
    const cluster = await measureCluster(join(dir, 'home'));
    m = { machine, services, ...cluster };
  } finally {
    await removeTempDir(dir);
  }
  const lines = reportLines(m);
  for (const line of lines) process.stdout.write(line + '\n');
  await fs.mkdir(join(REPO_ROOT, 'bench/results'), { recursive: true });
  await fs.writeFile(RESULTS_JSON, JSON.stringify({ date: new Date().toISOString(), command: opts.command, ...m }, null, 2) + '\n');
  replaceMarkedSection(DOCS_MD, 'startup-results', docsSection(m, opts, lines));
  process.stdout.write(`${NAME}: results written to bench/results/startup.json and docs/benchmarks.md\n`);
}

export const bench: Bench = {
  name: NAME,
  description: 'safekeeper and page server spawn → listening, built bundle vs tsx from source (median of 5); ./strata up on an existing home; ./strata down with a compute running',
  run: runBench,
};
