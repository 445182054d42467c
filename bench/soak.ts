/**
 * soak: a local cluster under sustained writes, watched every 10 s, then restarted from storage.
 *
 * 1. `./strata up --no-console` in a temporary STRATA_HOME.
 * 2. Bulk load: `--rows N` (default 2,000,000) rows into a table with a secondary index, by
 *    `INSERT … SELECT … FROM seq_1_to_N` in chunks; then sysbench's tables (4 tables) and
 *    `oltp_write_only` (4 threads) for `--minutes N` (default 10), in three equal segments.
 *    Between phases the writes stop for a moment: the LSN and CHECKSUM TABLE of every table
 *    are recorded there (three earlier points), and once more at the end (the head).
 * 3. Every 10 s, while all of that runs: TPS, ingest lag (quorum commit − ingested), remote-
 *    consistent lag (ingested − uploaded: how far uploads trail ingest, the quantity issue 10
 *    bounds), the upload queue's bytes, GetPage reconstruction p50/p99 over the interval, layer
 *    counts, page server RSS, safekeeper and page server disk.
 * 4. At the end: main's compute is stopped and started again from storage (timed to its first
 *    answer); basebackups at the head and the three earlier points (timed); the head basebackup
 *    is booted on a plain mariadbd, whose `mariadb-backup --backup` + `--prepare` is the
 *    baseline (the same data, in the same run); read-only computes at the earlier points.
 *    Every checksum must equal the one recorded at its point.
 *
 * Goals (issue 10): restart ≤ 1.0× the mariabackup time; GetPage reconstruction p99 ≤ 2 ms;
 * ingest lag bounded (not growing) during the bulk load; page server RSS ≤ 1 GiB; safekeeper WAL
 * ≤ 2× the upload lag bound (and, shown alongside, remote-consistent lag within that bound).
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { checksumTables, makeTempDir, removeTempDir, startMariadb, type MariadbServer } from '../test/support/mariadb.js';
import { type Bench, type BenchOptions, count, describeMachine, formatMachine, type Machine, MIB } from './support/bench.js';
import { type LocalClusterInfo, observations, pageserverTimeline, parsePrometheus, type PromSample, quantile, quantileBucket, readLocalCluster, select, sumOf, timelineOf } from './support/cluster-probe.js';
import { replaceMarkedSection } from './support/docs-section.js';
import { LAG_PROBE_INTERVAL_MS, mibText, reconstructText, type Sample, Sampler, SAMPLE_INTERVAL_MS } from './support/soak-sampler.js';
import { type Cluster, computeMetricsText, innodbLsn, parseComputeLine, query, REPO_ROOT, run, strata, type Target, upCluster, waitShipped } from './support/strata-local.js';
import { backupPrepare, ensureTools, parseSysbench, prepare, SYSBENCH, type SysbenchResult, sysbenchArgs } from './support/sysbench.js';

const NAME = 'soak';
const RESULTS_JSON = join(REPO_ROOT, 'bench/results/soak.json');
const DOCS_MD = join(REPO_ROOT, 'docs/benchmarks.md');
const DEFAULT_MINUTES = 10;
const DEFAULT_ROWS = 2_000_000;
/** One INSERT … SELECT per chunk: a transaction of a few seconds, so the bulk load is many commits, as an application's would be. */
const BULK_CHUNK_ROWS = 50_000;
/** sysbench: 4 tables of up to 100k rows (the issue's size), smaller for quick runs so the prepare does not dominate them. */
const OLTP = { tables: 4, threads: 4, segments: 3, tableSizeMax: 100_000 };
const MIB_16 = 16 * MIB;
const HEAD = 'head';
const GIB = 1024 * MIB;
/** The page server freezes its open layer at this size (PAGESERVER_CHECKPOINT_BYTES, which `up` passes through). */
const CHECKPOINT_BYTES = Number(process.env['PAGESERVER_CHECKPOINT_BYTES'] ?? 64 * MIB);
/** remote_consistent_lsn may trail ingest by the open layer plus the one layer being uploaded (issue 10). */
const UPLOAD_LAG_BOUND_BYTES = 2 * CHECKPOINT_BYTES;
/** An interval with fewer reconstructions than this says little about a p99. */
const RECONSTRUCT_MIN_OBSERVATIONS = 100;
const GOAL = { restartRatioMax: 1.0, reconstructP99MsMax: 2, rssBytesMax: GIB, walFactor: 2, lagGrowthFactor: 1.5, lagSlackBytes: MIB_16 };
/** Generous ceilings: the benchmark must end with a clear error, never hang on a stuck cluster. */
const TIMEOUT_MS = { bulkChunk: 600_000, computeStart: 900_000, computeStop: 300_000, basebackup: 1_800_000, catchUp: 1_800_000, down: 300_000 };

interface Point {
  readonly label: string;
  readonly lsn: bigint;
  readonly atSec: number;
  readonly checksums: Map<string, string>;
}

interface Check {
  readonly what: string;
  readonly ok: boolean;
  readonly detail: string;
}

interface StepFailure {
  readonly step: string;
  readonly error: string;
}

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secText = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`);

// ---------------------------------------------------------------------------------------------
// Workload

/** `rows` rows in chunks into a table with a secondary index on a scattered key (so the index takes random inserts). */
async function bulkLoad(main: Target, rows: number, sampler: Sampler, signal: AbortSignal): Promise<number> {
  await query(main, 'CREATE DATABASE IF NOT EXISTS soak');
  await query(main, 'CREATE TABLE soak.bulk (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, k INT UNSIGNED NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL, KEY k (k)) ENGINE=InnoDB');
  const conn = await mysql.createConnection({ host: '127.0.0.1', port: main.port, user: main.user, password: main.password });
  // A page server that died leaves the INSERT waiting on a page: cut the connection instead of waiting out the timeout.
  const cut = () => conn.destroy();
  signal.addEventListener('abort', cut);
  const t0 = performance.now();
  try {
    for (let done = 0; done < rows; ) {
      signal.throwIfAborted();
      const n = Math.min(BULK_CHUNK_ROWS, rows - done);
      await conn.query({
        sql: `INSERT INTO soak.bulk (id, k, c, pad) SELECT id, CRC32(id), CONCAT(MD5(id), MD5(id + 1)), SHA1(id) FROM (SELECT seq + ${done} AS id FROM soak.seq_1_to_${n}) s`,
        timeout: TIMEOUT_MS.bulkChunk,
      });
      done += n;
      sampler.rowsInserted = done;
    }
    return performance.now() - t0;
  } finally {
    signal.removeEventListener('abort', cut);
    conn.destroy();
  }
}

async function oltpSegment(main: Target, tableSize: number, seconds: number, signal: AbortSignal): Promise<SysbenchResult> {
  const { stdout } = await run(
    SYSBENCH,
    ['oltp_write_only', ...sysbenchArgs(main, OLTP.tables, tableSize), `--threads=${OLTP.threads}`, `--time=${seconds}`, '--percentile=95', '--report-interval=0', 'run'],
    {},
    (seconds + 600) * 1000,
    signal,
  );
  return parseSysbench(stdout);
}

async function tablesOf(t: Target): Promise<string[]> {
  const rows = await query(t, "SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ('soak', 'sbtest') AND ENGINE = 'InnoDB' ORDER BY 1");
  return rows.map((r) => String(r['t']));
}

async function checksums(t: Target, tables: readonly string[]): Promise<Map<string, string>> {
  const conn = await mysql.createConnection({ host: '127.0.0.1', port: t.port, user: t.user, password: t.password });
  try {
    return await checksumTables(conn, [...tables]);
  } finally {
    conn.destroy();
  }
}

/**
 * With the writes stopped: the LSN of everything written so far (once the quorum has it) and
 * every table's checksum, which any copy of the database at that LSN must reproduce.
 */
async function recordPoint(cluster: Cluster, sampler: Sampler, label: string): Promise<Point> {
  const lsn = await innodbLsn(cluster.main);
  await waitShipped(cluster.home, 'main', lsn);
  const sums = await checksums(cluster.main, await tablesOf(cluster.main));
  process.stdout.write(`${NAME}: point "${label}": LSN ${lsn}, ${sums.size} table checksums recorded\n`);
  return { label, lsn, atSec: Math.round(sampler.nowSec()), checksums: sums };
}

/** Until the page server has ingested `lsn`: how long ingest trails once the writes stop. */
async function waitIngested(info: LocalClusterInfo, lsn: bigint, signal: AbortSignal): Promise<number> {
  const t0 = performance.now();
  const timeline = timelineOf(info, 'main');
  for (;;) {
    signal.throwIfAborted();
    const ps = await pageserverTimeline(info, timeline).catch(() => undefined);
    if (ps && ps.lastRecordLsn >= lsn) return performance.now() - t0;
    if (performance.now() - t0 > TIMEOUT_MS.catchUp) throw new Error(`the page server did not ingest LSN ${lsn} within ${TIMEOUT_MS.catchUp / 1000} s (at ${ps?.lastRecordLsn ?? '?'})`);
    await sleep(250);
  }
}

function compareChecksums(what: string, expected: Point, got: Map<string, string>): Check {
  const diffs = [...expected.checksums].filter(([t, sum]) => got.get(t) !== sum).map(([t, sum]) => `${t} ${got.get(t) ?? 'missing'} ≠ ${sum}`);
  return { what, ok: diffs.length === 0, detail: diffs.length === 0 ? `${expected.checksums.size} tables identical to "${expected.label}" (LSN ${expected.lsn})` : diffs.join(', ') };
}

// ---------------------------------------------------------------------------------------------
// End of the run

interface Basebackup {
  readonly label: string;
  readonly lsn: string;
  readonly ms: number;
  readonly bytes: number;
  readonly files: number;
}

interface Ending {
  stopMs?: number;
  restartMs?: number;
  basebackups: Basebackup[];
  baseline?: { backupMs: number; prepareMs: number };
  checks: Check[];
}

async function timedBasebackup(home: string, p: Point, out: string, signal: AbortSignal): Promise<Basebackup> {
  const t0 = performance.now();
  const { stdout } = await strata(home, ['basebackup', '--branch', 'main', '--lsn', p.lsn.toString(), '--out', out], { timeoutMs: TIMEOUT_MS.basebackup, signal });
  const ms = performance.now() - t0;
  const m = /basebackup at LSN (\d+): (\d+) files, (\d+) bytes/.exec(stdout);
  return { label: p.label, lsn: m?.[1] ?? p.lsn.toString(), ms, files: Number(m?.[2] ?? Number.NaN), bytes: Number(m?.[3] ?? Number.NaN) };
}

/** main's compute stopped cleanly, then started again from storage until it answers a query on each table. */
async function restartFromStorage(cluster: Cluster, sampler: Sampler, head: Point, end: Ending, signal: AbortSignal): Promise<Target> {
  sampler.main = undefined;
  let t0 = performance.now();
  await strata(cluster.home, ['compute', 'stop', '--branch', 'main'], { timeoutMs: TIMEOUT_MS.computeStop, signal });
  end.stopMs = performance.now() - t0;
  t0 = performance.now();
  const { stdout } = await strata(cluster.home, ['compute', 'start', '--branch', 'main'], { timeoutMs: TIMEOUT_MS.computeStart, signal });
  const main = parseComputeLine(stdout, 'main');
  // A restart is about being available again: a point lookup per table, not a scan (read throughput is the compute bench's).
  for (const t of head.checksums.keys()) await query(main, `SELECT * FROM ${t} WHERE id = 1`);
  end.restartMs = performance.now() - t0;
  sampler.main = main;
  end.checks.push(compareChecksums('main after the restart', head, await checksums(main, [...head.checksums.keys()])));
  return main;
}

/**
 * The baseline: the head's basebackup booted on a plain mariadbd, checked against the head's
 * checksums, then copied the way users copy a live database today. The datadir's root password
 * is the cluster's: the server starts without grant tables (so the harness can connect), and
 * FLUSH PRIVILEGES turns them on before mariadb-backup, which refuses to run without them.
 */
async function mariabackupBaseline(headDir: string, workDir: string, head: Point, login: Target, end: Ending): Promise<void> {
  let plain: MariadbServer | undefined;
  try {
    plain = await startMariadb(headDir, { bufferPoolSize: '128M', extraArgs: ['--skip-grant-tables'], errorLogPath: join(workDir, 'plain.err'), startTimeoutMs: 600_000 });
    const conn = await plain.connect();
    try {
      end.checks.push(compareChecksums('plain mariadbd on the head basebackup', head, await checksumTables(conn, [...head.checksums.keys()])));
      await conn.query('FLUSH PRIVILEGES');
    } finally {
      await conn.end();
    }
    end.baseline = await backupPrepare(plain, workDir, { user: login.user, password: login.password });
  } finally {
    // The harness's clean shutdown logs in without a password, which the grant tables now refuse; the copy is thrown away.
    await plain?.kill();
  }
}

async function readOnlyCheck(home: string, p: Point, end: Ending, signal: AbortSignal): Promise<void> {
  const { stdout } = await strata(home, ['compute', 'start', '--branch', 'main', '--read-only', '--lsn', p.lsn.toString()], { timeoutMs: TIMEOUT_MS.computeStart, signal });
  const ro = parseComputeLine(stdout);
  try {
    end.checks.push(compareChecksums(`read-only compute at "${p.label}"`, p, await checksums(ro, [...p.checksums.keys()])));
  } finally {
    await strata(home, ['compute', 'stop', '--name', ro.name], { timeoutMs: TIMEOUT_MS.computeStop }).catch((e: unknown) => process.stdout.write(`${NAME}:   ! could not stop ${ro.name}: ${errText(e)}\n`));
  }
}

// ---------------------------------------------------------------------------------------------
// The run

interface Measured {
  readonly machine: Machine;
  readonly minutes: number;
  readonly rows: number;
  readonly tableSize: number;
  bulkMs?: number;
  bulkCatchUpMs?: number;
  /** Commits the compute held for the page server's ingest during the bulk load (ingest-backpressure.ts), and for how long. */
  bulkBackpressure?: { waits: number; waitMs: number } | null;
  headCatchUpMs?: number;
  oltp: SysbenchResult[];
  points: Point[];
  end: Ending;
  failures: StepFailure[];
  sampler?: Sampler;
  loadAfter: number;
}

/** The page server's own account of what went wrong: its distinct error lines since the start. */
function pageserverErrors(home: string, max = 8): string[] {
  const file = join(home, 'logs', 'pageserver.log');
  if (!existsSync(file)) return [];
  const seen = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    // Structured lines at error level, and what a crash prints outside the logger (a stack trace).
    const isError = line.startsWith('{') ? /"level":"(error|fatal)"/.test(line) : /error|exception|maximum call stack|fatal|uncaught/i.test(line);
    if (!isError) continue;
    // The same failure repeats every compaction pass: keep one of each, told apart without their numbers.
    seen.set(line.replace(/\d+/g, 'N').slice(0, 200), line.slice(0, 400));
  }
  return [...seen.values()].slice(-max);
}

/**
 * Runs one step of the ending; a failure is recorded and the next step still runs. Once the
 * page server is gone, the steps are skipped with that reason instead of each timing out.
 */
async function step(m: Measured, name: string, signal: AbortSignal, fn: () => Promise<void>): Promise<void> {
  process.stderr.write(`${NAME}: ${name}\n`);
  try {
    signal.throwIfAborted();
    await fn();
  } catch (e) {
    // An aborted command fails with a generic AbortError: the abort's reason says what happened.
    const why = signal.aborted ? `skipped: ${errText(signal.reason)}` : errText(e);
    m.failures.push({ step: name, error: why });
    process.stdout.write(`${NAME}: FAILED ${name}: ${why.split('\n').slice(0, 6).join(' | ')}\n`);
  }
}

async function workload(m: Measured, cluster: Cluster, info: LocalClusterInfo, sampler: Sampler, signal: AbortSignal): Promise<void> {
  process.stderr.write(`${NAME}: bulk load of ${count(m.rows)} rows\n`);
  sampler.phase = 'bulk';
  m.bulkMs = await bulkLoad(cluster.main, m.rows, sampler, signal);
  m.bulkBackpressure = await backpressureOf(info).catch(() => null);
  sampler.phase = 'catch-up';
  const afterBulk = await recordPoint(cluster, sampler, 'after the bulk load');
  m.points.push(afterBulk);
  m.bulkCatchUpMs = await waitIngested(info, afterBulk.lsn, signal);
  process.stderr.write(`${NAME}: sysbench prepare (${OLTP.tables} × ${count(m.tableSize)} rows), then oltp_write_only for ${m.minutes} min in ${OLTP.segments} segments\n`);
  sampler.phase = 'prepare';
  await prepare(cluster.main, OLTP.tables, m.tableSize, signal);
  const segmentSec = Math.round((m.minutes * 60) / OLTP.segments);
  for (let i = 1; i <= OLTP.segments; i++) {
    sampler.phase = 'oltp';
    m.oltp.push(await oltpSegment(cluster.main, m.tableSize, segmentSec, signal));
    if (i < OLTP.segments) {
      sampler.phase = 'pause';
      m.points.push(await recordPoint(cluster, sampler, `after ${i}/${OLTP.segments} of the OLTP`));
    }
  }
}

async function ending(m: Measured, cluster: Cluster, info: LocalClusterInfo, sampler: Sampler, dir: string, signal: AbortSignal): Promise<void> {
  sampler.phase = 'settle';
  const head = await recordPoint(cluster, sampler, HEAD);
  m.headCatchUpMs = await waitIngested(info, head.lsn, signal);
  sampler.phase = 'restart';
  await step(m, 'restart main from storage', signal, () => restartFromStorage(cluster, sampler, head, m.end, signal).then(() => undefined));
  sampler.phase = 'basebackup';
  const headDir = join(dir, 'basebackup-head');
  for (const p of [...m.points, head]) {
    const out = p === head ? headDir : join(dir, 'basebackup');
    await step(m, `basebackup at "${p.label}" (LSN ${p.lsn})`, signal, async () => {
      m.end.basebackups.push(await timedBasebackup(cluster.home, p, out, signal));
    });
    if (p !== head) await fs.rm(out, { recursive: true, force: true });
  }
  sampler.phase = 'baseline';
  if (m.end.basebackups.some((b) => b.label === head.label)) {
    await step(m, 'mariadb-backup --backup + --prepare of the head on a plain mariadbd', signal, () => mariabackupBaseline(headDir, dir, head, cluster.main, m.end));
  } else m.failures.push({ step: 'mariadb-backup baseline', error: 'no basebackup at the head to boot a plain mariadbd on' });
  await fs.rm(headDir, { recursive: true, force: true });
  sampler.phase = 'verify';
  for (const p of m.points) await step(m, `read-only compute at "${p.label}"`, signal, () => readOnlyCheck(cluster.home, p, m.end, signal));
  m.points.push(head);
}

async function measure(m: Measured): Promise<void> {
  const dir = await makeTempDir('bench-soak');
  const home = join(dir, 'strata');
  const abort = new AbortController();
  try {
    process.stderr.write(`${NAME}: starting a local cluster (./strata up --no-console)\n`);
    const cluster = await upCluster(home);
    const info = readLocalCluster(home);
    const sampler = new Sampler(info, (reason) => abort.abort(new Error(reason)));
    sampler.main = cluster.main;
    m.sampler = sampler;
    sampler.start();
    try {
      await workload(m, cluster, info, sampler, abort.signal);
      await ending(m, cluster, info, sampler, dir, abort.signal);
    } catch (e) {
      // An aborted step fails with a generic AbortError: the sampler's reason says what happened.
      const why = abort.signal.aborted ? errText(abort.signal.reason) : errText(e);
      m.failures.push({ step: `the workload (phase ${sampler.phase})`, error: why });
      process.stdout.write(`${NAME}: FAILED during ${sampler.phase}: ${why.split('\n').slice(0, 6).join(' | ')}\n`);
    } finally {
      await sampler.stop();
    }
  } catch (e) {
    m.failures.push({ step: 'starting the cluster', error: errText(e) });
    process.stdout.write(`${NAME}: FAILED starting the cluster: ${errText(e).split('\n').slice(0, 6).join(' | ')}\n`);
  } finally {
    if (m.failures.length > 0) {
      for (const line of pageserverErrors(home)) process.stdout.write(`${NAME}: page server log: ${line}\n`);
      keepLogs(home);
    }
    // Also after a failed `up`: whatever it started must not outlive the benchmark.
    if (existsSync(home)) await strata(home, ['down'], { timeoutMs: TIMEOUT_MS.down }).catch((e: unknown) => process.stdout.write(`${NAME}: ./strata down failed: ${errText(e)}\n`));
    if (process.env['STRATA_KEEP_TEST_DIRS'] === undefined) await removeTempDir(dir);
    else process.stdout.write(`${NAME}: kept ${dir}\n`);
    m.loadAfter = os.loadavg()[0] ?? 0;
  }
}

/** The cluster's logs outlive a failed run (its data does not: it may be gigabytes). */
function keepLogs(home: string): void {
  const from = join(home, 'logs');
  if (!existsSync(from)) return;
  const to = join(os.tmpdir(), `strata-soak-logs-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(to, { recursive: true });
  cpSync(from, to, { recursive: true });
  // MariaDB's own error log of each compute: what InnoDB said when a query failed.
  const computes = join(home, 'computes');
  if (existsSync(computes)) {
    for (const name of readdirSync(computes)) {
      const err = join(computes, name, 'run', 'mariadbd.err');
      if (existsSync(err)) cpSync(err, join(to, `mariadbd-${name}.err`));
    }
  }
  process.stdout.write(`${NAME}: the cluster's logs are kept in ${to}\n`);
}

// ---------------------------------------------------------------------------------------------
// Goals and report

type Verdict = 'PASS' | 'MISS' | 'N/A';

interface Goal {
  readonly goal: string;
  readonly verdict: Verdict;
  readonly measured: string;
}

const verdict = (ok: boolean): Verdict => (ok ? 'PASS' : 'MISS');
const max = (xs: readonly number[]): number | undefined => (xs.length === 0 ? undefined : Math.max(...xs));

function restartGoal(m: Measured): Goal {
  const goal = `restart from storage ≤ ${GOAL.restartRatioMax.toFixed(1)}× mariadb-backup --backup + --prepare`;
  const { restartMs, baseline } = m.end;
  if (restartMs === undefined || baseline === undefined) {
    return { goal, verdict: 'MISS', measured: `not measured (${restartMs === undefined ? 'no restart completed' : 'no baseline'})` };
  }
  const ratio = restartMs / (baseline.backupMs + baseline.prepareMs);
  return { goal, verdict: verdict(ratio <= GOAL.restartRatioMax), measured: `${secText(restartMs)} vs ${secText(baseline.backupMs)} + ${secText(baseline.prepareMs)} → ${ratio.toFixed(2)}×` };
}

function reconstructGoal(m: Measured): Goal {
  const goal = `GetPage reconstruction p99 ≤ ${GOAL.reconstructP99MsMax} ms (every 10 s interval with ≥ ${RECONSTRUCT_MIN_OBSERVATIONS} reconstructions)`;
  const samples = m.sampler?.samples ?? [];
  const run = m.sampler?.runReconstruct;
  if (!run || observations(run) === 0) return { goal, verdict: 'N/A', measured: 'no page was reconstructed' };
  const worst = samples.filter((s) => (s.reconstruct?.n ?? 0) >= RECONSTRUCT_MIN_OBSERVATIONS).reduce<Sample | undefined>((w, s) => (!w || s.reconstruct!.p99Ms > w.reconstruct!.p99Ms ? s : w), undefined);
  const runP99 = quantile(run, 0.99) * 1000;
  const worstP99 = worst?.reconstruct?.p99Ms ?? runP99;
  const io = worst?.reconstruct?.ioP99Ms;
  // The share blocked on layer file reads says whether a slow interval was the disk (a page the OS cache had dropped) or the work.
  const ioText = io !== undefined && Number.isFinite(io) ? `; its p99 blocked reading layer files ${io.toFixed(3)} ms` : '';
  const where = worst ? `worst interval ${worstP99.toFixed(3)} ms at ${worst.tSec} s (${worst.phase}${ioText})` : 'no interval had enough reconstructions';
  // The histogram's buckets are coarse (…, 1, 2.5, 5 ms): say which one the run's p99 is in, since the figure is interpolated within it.
  const bucket = quantileBucket(run, 0.99);
  const inBucket = bucket ? ` (in the ${bucket[0] * 1000}–${bucket[1] * 1000} ms bucket)` : '';
  return {
    goal,
    verdict: verdict(worstP99 <= GOAL.reconstructP99MsMax),
    measured: `${where}; whole run p50 ${(quantile(run, 0.5) * 1000).toFixed(3)} ms, p99 ${runP99.toFixed(3)} ms${inBucket} over ${count(observations(run))} pages`,
  };
}

/** What main's compute says it held commits for (its metrics reset when it restarts: read right after the bulk load). */
async function backpressureOf(info: LocalClusterInfo): Promise<{ waits: number; waitMs: number } | null> {
  const samples = parsePrometheus(await computeMetricsText(info.home, 'main'));
  const one = (name: string) => select(samples, name)[0]?.value;
  const waits = one('strata_compute_ingest_backpressure_waits');
  const waitMs = one('strata_compute_ingest_backpressure_wait_ms');
  return waits === undefined || waitMs === undefined ? null : { waits, waitMs };
}

/** Bounded, not growing: the second half of the bulk load peaks no higher than 1.5× the first half's peak (or 16 MiB above it). */
function ingestGoal(m: Measured): Goal {
  const goal = `ingest lag bounded during the bulk load (2nd-half peak ≤ ${GOAL.lagGrowthFactor}× 1st-half peak, or + ${GOAL.lagSlackBytes / MIB} MiB)`;
  const points = (m.sampler?.lagPoints ?? []).filter((p) => p.phase === 'bulk');
  if (points.length < 6) return { goal, verdict: 'N/A', measured: `${points.length} lag points during the bulk load: too short to judge` };
  const mid = (points[0]!.tSec + points[points.length - 1]!.tSec) / 2;
  const first = max(points.filter((p) => p.tSec <= mid).map((p) => p.lagBytes)) ?? 0;
  const second = max(points.filter((p) => p.tSec > mid).map((p) => p.lagBytes)) ?? 0;
  const ok = second <= Math.max(first * GOAL.lagGrowthFactor, first + GOAL.lagSlackBytes);
  const caughtUp = m.bulkCatchUpMs === undefined ? '' : `; caught up ${secText(m.bulkCatchUpMs)} after the load`;
  // The bound holds by slowing the writer where the page server cannot keep up: say how much.
  const bp = m.bulkBackpressure;
  const held = bp ? `; the compute held ${count(bp.waits)} commits for the page server, ${secText(bp.waitMs)} in total` : '';
  return { goal, verdict: verdict(ok), measured: `peak ${mibText(first)} then ${mibText(second)} (${points.length} points every ${LAG_PROBE_INTERVAL_MS / 1000} s)${caughtUp}${held}` };
}

function rssGoal(m: Measured): Goal {
  const goal = `page server RSS ≤ ${GOAL.rssBytesMax / GIB} GiB`;
  const peak = max((m.sampler?.samples ?? []).flatMap((s) => (s.pageserverRssBytes === null ? [] : [s.pageserverRssBytes])));
  if (peak === undefined) return { goal, verdict: 'N/A', measured: 'never sampled' };
  return { goal, verdict: verdict(peak <= GOAL.rssBytesMax), measured: `peak ${mibText(peak)}` };
}

function walGoal(m: Measured): Goal {
  const bound = GOAL.walFactor * UPLOAD_LAG_BOUND_BYTES;
  const goal = `safekeeper WAL ≤ ${GOAL.walFactor}× the upload lag bound (${mibText(UPLOAD_LAG_BOUND_BYTES)}: open layer + one upload) = ${mibText(bound)} per safekeeper`;
  const peak = max((m.sampler?.samples ?? []).flatMap((s) => (s.safekeeperDiskBytes === null ? [] : [Math.max(...s.safekeeperDiskBytes)])));
  if (peak === undefined) return { goal, verdict: 'N/A', measured: 'never sampled' };
  return { goal, verdict: verdict(peak <= bound), measured: `peak ${mibText(peak)} on one safekeeper's disk` };
}

function remoteLagGoal(m: Measured): Goal {
  const goal = `remote-consistent lag behind ingest ≤ the upload lag bound (${mibText(UPLOAD_LAG_BOUND_BYTES)})`;
  const samples = (m.sampler?.samples ?? []).filter((s) => s.remoteLagBytes !== null);
  if (samples.length === 0) return { goal, verdict: 'N/A', measured: 'never sampled' };
  const worst = samples.reduce((w, s) => (s.remoteLagBytes! > w.remoteLagBytes! ? s : w));
  return { goal, verdict: verdict(worst.remoteLagBytes! <= UPLOAD_LAG_BOUND_BYTES), measured: `peak ${mibText(worst.remoteLagBytes)} at ${worst.tSec} s (${worst.phase})` };
}

function checksumGoal(m: Measured): Goal {
  // A read-only compute per earlier point, main after its restart, the plain server on the head basebackup.
  const expected = m.points.filter((p) => p.label !== HEAD).length + 2;
  const bad = m.end.checks.filter((c) => !c.ok);
  const measured = `${m.end.checks.length - bad.length} of ${expected} copies identical${bad.length ? `; differ: ${bad.map((c) => c.what).join(', ')}` : ''}`;
  return { goal: 'identical checksums at every point', verdict: verdict(bad.length === 0 && m.end.checks.length === expected), measured };
}

function goals(m: Measured): Goal[] {
  const gs = [restartGoal(m), reconstructGoal(m), ingestGoal(m), rssGoal(m), walGoal(m), remoteLagGoal(m), checksumGoal(m)];
  // A PASS on the part of a run that happened before a failure proves less than it says.
  const partial = m.failures.length > 0 ? ' (run incomplete: see FAILED above)' : '';
  return gs.map((g) => ({ ...g, measured: g.measured + partial }));
}

function counterSummary(metrics: readonly PromSample[]): string {
  if (metrics.length === 0) return 'page server counters: not scraped';
  const runs = (result: string) => sumOf(metrics, 'pageserver_compaction_runs_total', { result });
  const written = (kind: string) => sumOf(metrics, 'pageserver_compaction_layers_written_total', { kind });
  return (
    `page server counters at the end: compaction ${runs('ok')} ok / ${runs('error')} failed, layers written by compaction ${written('delta')} delta / ${written('image')} image, ` +
    `${sumOf(metrics, 'pageserver_remote_upload_failures')} upload failures, ${sumOf(metrics, 'pageserver_wal_receiver_errors_total')} WAL receiver errors`
  );
}

function reportLines(m: Measured, gs: readonly Goal[]): string[] {
  const p = NAME;
  const lines: string[] = [];
  const tx = m.oltp.reduce((n, r) => n + r.transactions, 0);
  const oltpSec = m.oltp.length * Math.round((m.minutes * 60) / OLTP.segments);
  lines.push(`${p}: bulk load ${count(m.rows)} rows in ${secText(m.bulkMs)} (${m.bulkMs ? count((m.rows * 1000) / m.bulkMs) : '-'} rows/s); ingest caught up ${secText(m.bulkCatchUpMs)} after it`);
  lines.push(`${p}: sysbench oltp_write_only ${OLTP.tables} × ${count(m.tableSize)} rows, ${OLTP.threads} threads, ${m.oltp.length} × ${Math.round((m.minutes * 60) / OLTP.segments)} s: ${count(tx)} transactions, ${oltpSec ? (tx / oltpSec).toFixed(1) : '-'} TPS (segments ${m.oltp.map((r) => r.tps.toFixed(0)).join(', ')}); ingest caught up ${secText(m.headCatchUpMs)} after it`);
  const { restartMs, stopMs, baseline } = m.end;
  lines.push(`${p}: restart from storage (compute start --branch main to a point query on every table): ${secText(restartMs)} (the clean stop before it: ${secText(stopMs)}); mariadb-backup of the same data on a plain mariadbd: --backup ${secText(baseline?.backupMs)} + --prepare ${secText(baseline?.prepareMs)}`);
  for (const b of m.end.basebackups) lines.push(`${p}: basebackup at "${b.label}" (LSN ${b.lsn}): ${secText(b.ms)}, ${mibText(b.bytes)} of tar, ${b.files} files`);
  for (const c of m.end.checks) lines.push(`${p}: checksums ${c.ok ? 'identical' : 'DIFFER'}: ${c.what}: ${c.detail}`);
  lines.push(`${p}: ${counterSummary(m.sampler?.lastMetrics ?? [])}`);
  for (const f of m.failures) lines.push(`${p}: FAILED ${f.step}: ${f.error.split('\n').slice(0, 4).join(' | ').slice(0, 600)}`);
  for (const g of gs) lines.push(`${p}: ${g.verdict} ${g.goal}: ${g.measured}`);
  lines.push(`${p}: machine: ${formatMachine(m.machine)}, ${m.loadAfter.toFixed(2)} at the end`);
  return lines;
}

function resultsTable(gs: readonly Goal[]): string[] {
  return ['| goal | result | measured |', '| --- | --- | --- |', ...gs.map((g) => `| ${g.goal} | **${g.verdict}** | ${g.measured} |`)];
}

/** One sample a minute for the docs (the results file has all of them). */
function sampleTable(samples: readonly Sample[]): string[] {
  const every = Math.max(1, Math.round(60_000 / SAMPLE_INTERVAL_MS));
  const rows = samples.filter((_, i) => i % every === every - 1 || i === samples.length - 1);
  return [
    '| t | phase | TPS | rows/s | ingest lag | remote lag | upload queue | reconstruct p50/p99 ms (n) | L0/deltas/images | ps RSS | sk disk (max) | ps disk |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((s) => `| ${s.tSec} s | ${s.phase} | ${s.tps?.toFixed(0) ?? '-'} | ${s.rowsPerSec === null ? '-' : count(s.rowsPerSec)} | ${mibText(s.ingestLagBytes)} | ${mibText(s.remoteLagBytes)} | ${mibText(s.uploadQueueBytes)} | ${reconstructText(s.reconstruct)} | ${s.layers ? `${s.layers.l0}/${s.layers.deltas}/${s.layers.images}` : '-'} | ${mibText(s.pageserverRssBytes)} | ${s.safekeeperDiskBytes ? mibText(Math.max(...s.safekeeperDiskBytes)) : '-'} | ${mibText(s.pageserverDiskBytes)} |`),
  ];
}

function docsSection(m: Measured, opts: BenchOptions, gs: readonly Goal[], lines: readonly string[]): string {
  return [
    `Latest run: ${new Date().toISOString().slice(0, 10)}, \`${opts.command}\`, on ${formatMachine(m.machine)}.`,
    '',
    ...resultsTable(gs),
    '',
    ...sampleTable(m.sampler?.samples ?? []),
    '',
    '```',
    ...lines,
    '```',
  ].join('\n');
}

function resultsJson(m: Measured, opts: BenchOptions, gs: readonly Goal[]): string {
  const { sampler, points, ...rest } = m;
  return JSON.stringify(
    {
      date: new Date().toISOString(),
      command: opts.command,
      uploadLagBoundBytes: UPLOAD_LAG_BOUND_BYTES,
      ...rest,
      points: points.map((p) => ({ label: p.label, lsn: p.lsn.toString(), atSec: p.atSec, checksums: Object.fromEntries(p.checksums) })),
      goals: gs,
      samples: sampler?.samples ?? [],
      lagPoints: sampler?.lagPoints ?? [],
    },
    null,
    2,
  );
}

async function runBench(opts: BenchOptions): Promise<void> {
  ensureTools(NAME);
  const minutes = opts.minutes ?? DEFAULT_MINUTES;
  const rows = opts.rows ?? DEFAULT_ROWS;
  const m: Measured = {
    machine: describeMachine(),
    minutes,
    rows,
    tableSize: Math.max(1_000, Math.min(OLTP.tableSizeMax, Math.round(rows / 20))),
    oltp: [],
    points: [],
    end: { basebackups: [], checks: [] },
    failures: [],
    loadAfter: Number.NaN,
  };
  await measure(m);
  const gs = goals(m);
  const lines = reportLines(m, gs);
  process.stdout.write(lines.join('\n') + '\n' + resultsTable(gs).map((l) => `${NAME}: ${l}`).join('\n') + '\n');
  const quick = minutes < DEFAULT_MINUTES || rows < DEFAULT_ROWS;
  if (quick) process.stdout.write(`${NAME}: quick run (below ${DEFAULT_MINUTES} min or ${count(DEFAULT_ROWS)} rows): results not recorded\n`);
  else if (m.failures.length > 0) process.stdout.write(`${NAME}: the run failed: results not recorded\n`);
  else {
    await fs.mkdir(join(REPO_ROOT, 'bench/results'), { recursive: true });
    await fs.writeFile(RESULTS_JSON, resultsJson(m, opts, gs) + '\n');
    replaceMarkedSection(DOCS_MD, 'soak-results', docsSection(m, opts, gs, lines));
    process.stdout.write(`${NAME}: results written to bench/results/soak.json and docs/benchmarks.md\n`);
  }
  if (m.failures.length > 0) throw new Error(`${m.failures.length} step(s) failed: ${m.failures.map((f) => f.step).join('; ')}`);
}

export const bench: Bench = {
  name: NAME,
  description: `a local cluster under ${count(DEFAULT_ROWS)} bulk-inserted rows and ${DEFAULT_MINUTES} min of sysbench oltp_write_only, sampled every 10 s; restart from storage vs mariadb-backup, basebackups at four points, checksums`,
  run: runBench,
};
