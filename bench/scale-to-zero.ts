/**
 * scale-to-zero: how long a client waits when it connects to the endpoint of a branch whose
 * compute was stopped (issue 13: ≤ 1.5 s to the first answered query), against a connection to
 * a compute that already runs.
 *
 * On `./strata up --no-console` in a temporary home, RUNS times:
 *   1. `./strata compute stop --branch main`, then wait until the endpoint proxy reports main's
 *      endpoint `stopped` and let the machine settle;
 *   2. **wake**: connect to main's endpoint (the stable address `up` prints) → `SELECT 1`
 *      answered. The proxy starts the compute exactly as `./strata compute start --branch main`
 *      does (a compute controller process, FUSE storage where the machine has /dev/fuse, the
 *      safekeepers' election, mariadbd), holds the connection, then pipes it;
 *   3. **baseline**: with that compute running, WARM_SAMPLES connections through the same
 *      endpoint → `SELECT 1`, and as many straight to the compute's own port (what the proxy's
 *      extra hop costs).
 * Medians; the ratio is wake / baseline (how many warm connections one wake costs). The proxy's
 * own figure for each wake (client accepted → compute taking connections) splits the wait into
 * the compute's start and the rest (the handshake and the query through the pipe).
 *
 * Every run rewrites bench/results/scale-to-zero.json and the `scale-to-zero-results` section of
 * docs/benchmarks.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { z } from 'zod';
import { makeTempDir, removeTempDir } from '../test/support/mariadb.js';
import { type Bench, type BenchOptions, describeMachine, formatMachine, type Machine } from './support/bench.js';
import { replaceMarkedSection } from './support/docs-section.js';
import { buildBundlesIfStale, computeStatus, parseComputeLine, REPO_ROOT, run, strata, STRATA, strataEnv, type Target } from './support/strata-local.js';

const NAME = 'scale-to-zero';
const RUNS = 5;
const WARM_SAMPLES = 10;
const GOAL_MS = 1500;
/** A client's own patience: far above any wake, so a slow one is measured rather than cut off. */
const CONNECT_TIMEOUT_MS = 60_000;
const SETTLE_MS = 1000;
const RESULTS_JSON = join(REPO_ROOT, 'bench/results/scale-to-zero.json');
const DOCS_MD = join(REPO_ROOT, 'docs/benchmarks.md');

interface Measured {
  readonly machine: Machine;
  readonly storage: string;
  /** Connect to the stopped endpoint → SELECT 1 answered, per run. */
  readonly wakeMs: number[];
  /** The proxy's figure for the same wakes: client accepted → the compute takes connections. */
  readonly proxyWakeMs: number[];
  /** Connect → SELECT 1 with the compute running: through the endpoint, and straight to the compute. */
  readonly warmEndpointMs: number[];
  readonly warmDirectMs: number[];
}

const reportSchema = z.object({ endpoints: z.array(z.object({ branch: z.string(), phase: z.string(), lastWakeMs: z.number().nullable(), wakes: z.number() })) });

function endpointReport(home: string, branch: string): z.infer<typeof reportSchema>['endpoints'][number] | undefined {
  const file = join(home, 'run', 'endpoints.json');
  if (!existsSync(file)) return undefined;
  try {
    return reportSchema.parse(JSON.parse(readFileSync(file, 'utf8'))).endpoints.find((e) => e.branch === branch);
  } catch {
    return undefined; // Replaced by rename: read again on the next poll.
  }
}

async function waitPhase(home: string, branch: string, phase: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (endpointReport(home, branch)?.phase !== phase) {
    if (Date.now() > deadline) throw new Error(`the endpoint of ${branch} did not report ${phase} within ${timeoutMs} ms (now ${endpointReport(home, branch)?.phase ?? 'no report'})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A new connection → `SELECT 1` answered, in ms. */
async function firstQueryMs(t: Target): Promise<number> {
  const t0 = performance.now();
  const c = await mysql.createConnection({ host: '127.0.0.1', port: t.port, user: t.user, password: t.password, connectTimeout: CONNECT_TIMEOUT_MS });
  try {
    const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT 1 AS one');
    if (String(rows[0]?.['one']) !== '1') throw new Error(`SELECT 1 through ${t.name} answered ${JSON.stringify(rows)}`);
    return performance.now() - t0;
  } finally {
    await c.end();
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function measure(home: string): Promise<Omit<Measured, 'machine'>> {
  const { stdout } = await run(STRATA, ['up', '--no-console'], strataEnv(home));
  const direct = { ...parseComputeLine(stdout, 'main'), name: 'the compute' };
  const ep = /^endpoint main mysql:\/\/(\w+):(\w*)@127\.0\.0\.1:(\d+)\/$/m.exec(stdout);
  if (!ep) throw new Error(`./strata up printed no endpoint for main:\n${stdout}`);
  const endpoint: Target = { name: 'main\'s endpoint', user: ep[1]!, password: ep[2]!, port: Number(ep[3]) };
  const storage = (await computeStatus(home, 'main')).storage ?? 'unknown';
  const m = { storage, wakeMs: [] as number[], proxyWakeMs: [] as number[], warmEndpointMs: [] as number[], warmDirectMs: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    await strata(home, ['compute', 'stop', '--branch', 'main']);
    await waitPhase(home, 'main', 'stopped');
    // The stop's last writes (its final ship, the page server's ingest) are not part of the next wake.
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const wakesBefore = endpointReport(home, 'main')?.wakes ?? 0;
    m.wakeMs.push(await firstQueryMs(endpoint));
    // The proxy writes its report every 50 ms: wait for the one that counts this wake.
    const deadline = Date.now() + 5000;
    while ((endpointReport(home, 'main')?.wakes ?? 0) <= wakesBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const proxy = endpointReport(home, 'main');
    if (!proxy || proxy.wakes <= wakesBefore || proxy.lastWakeMs === null) throw new Error('the endpoint proxy reported no wake');
    m.proxyWakeMs.push(proxy.lastWakeMs);
    const proxyMs = proxy.lastWakeMs;
    process.stderr.write(`${NAME}: wake ${i + 1}/${RUNS}: ${Math.round(m.wakeMs.at(-1)!)} ms (compute start as the proxy saw it: ${proxyMs} ms)\n`);
    for (let j = 0; j < WARM_SAMPLES; j++) {
      m.warmEndpointMs.push(await firstQueryMs(endpoint));
      m.warmDirectMs.push(await firstQueryMs(direct));
    }
  }
  return m;
}

const ms = (x: number) => `${Math.round(x)} ms`;

function reportLines(m: Measured): string[] {
  const wake = median(m.wakeMs);
  const warm = median(m.warmEndpointMs);
  const direct = median(m.warmDirectMs);
  return [
    `machine: ${formatMachine(m.machine)}; compute storage: ${m.storage}`,
    `wake-to-first-query (connect to a stopped endpoint → SELECT 1 answered): median ${ms(wake)} vs a connection to a running compute through the endpoint ${ms(warm)} → ${(wake / warm).toFixed(0)}× (one wake costs that many warm connections); ${wake <= GOAL_MS ? 'within' : 'OVER'} the ${ms(GOAL_MS)} goal`,
    `  wakes: ${m.wakeMs.map(ms).join(', ')}; the compute's start inside them (proxy: client accepted → compute taking connections): median ${ms(median(m.proxyWakeMs))} (${m.proxyWakeMs.map(ms).join(', ')})`,
    `  running compute: through the endpoint median ${ms(warm)}, straight to the compute's port median ${ms(direct)} (the proxy's hop: ${ms(warm - direct)}); ${m.warmEndpointMs.length} samples each`,
  ];
}

function docsSection(m: Measured, opts: BenchOptions, lines: string[]): string {
  const wake = median(m.wakeMs);
  const warm = median(m.warmEndpointMs);
  return [
    `Latest run: ${new Date().toISOString().slice(0, 10)}, \`${opts.command}\`, on ${formatMachine(m.machine)}.`,
    '',
    '| connect → `SELECT 1` answered | median |',
    '| --- | --- |',
    `| stopped endpoint (wake) | **${ms(wake)}** (goal ≤ ${ms(GOAL_MS)}) |`,
    `| of which the compute's start (as the proxy times it) | ${ms(median(m.proxyWakeMs))} |`,
    `| running compute, through the endpoint (baseline) | ${ms(warm)} |`,
    `| running compute, straight to its port | ${ms(median(m.warmDirectMs))} |`,
    `| ratio wake / baseline | **${(wake / warm).toFixed(0)}×** |`,
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
  const home = await makeTempDir('bench-scale-to-zero');
  let m: Measured;
  try {
    m = { machine, ...(await measure(home)) };
  } finally {
    await run(STRATA, ['down'], strataEnv(home)).catch(() => undefined);
    await removeTempDir(home);
  }
  const lines = reportLines(m);
  for (const line of lines) process.stdout.write(line + '\n');
  await fs.mkdir(join(REPO_ROOT, 'bench/results'), { recursive: true });
  await fs.writeFile(RESULTS_JSON, JSON.stringify({ date: new Date().toISOString(), command: opts.command, ...m }, null, 2) + '\n');
  replaceMarkedSection(DOCS_MD, `${NAME}-results`, docsSection(m, opts, lines));
}

export const bench: Bench = {
  name: NAME,
  description: 'connect to a stopped branch endpoint → first SELECT 1 (the compute woken) vs a connection to a running compute',
  run: runBench,
};
