/**
 * compute: MariaDB on Strata vs a plain local MariaDB, in the same run.
 *
 * 1. A local cluster through the CLI users run (`./strata up --no-console`
 *    in a temporary STRATA_HOME: three safekeepers, a page server, the
 *    compute on `main` with its shipper), and a plain `mariadbd` on its own
 *    datadir with the compute's InnoDB settings (buffer pool, log file size,
 *    `innodb_flush_log_at_trx_commit=1`, no binlog).
 * 2. TPS: `sysbench oltp_write_only` and `oltp_read_write` against plain
 *    MariaDB and against Strata in both storage modes (same tables, threads
 *    and duration): `main`'s compute in FUSE mode (the default: a COMMIT
 *    returns once the quorum has it, zero RPO) and a compute on a branch of
 *    it forced to basebackup mode (a COMMIT returns after the local fsync,
 *    the shipper follows). TPS and p95 ratios; the commit latency the quorum
 *    adds (mtr written → quorum commit, p50/p99) from each compute's status;
 *    the FUSE compute's local file cache hit ratio.
 * 4. Idle: the FUSE compute's controller (which serves the filesystem) and
 *    its mariadbd, CPU over IDLE_SECONDS with no queries (from /proc).
 * 3. Cold start, per database size (default 100 MiB and 1 GiB; `--size-mb N`
 *    for one size): the same sysbench data loaded into both; then the time
 *    a user waits for a copy at this point in time: with Strata, `./strata
 *    compute start --branch main --read-only` until a first query (a
 *    point query) answers, in both storage modes: FUSE (the datadir served from the page
 *    server, pages on demand) and basebackup (every page copied first);
 *    today, `mariadb-backup --backup` + `--prepare` of the plain server.
 *
 * Goals (issue 5): ≥ 0.9× plain MariaDB's TPS, commit lag p99 ≤ 20 ms, cold
 * start ≤ 1.0× the mariabackup time; issue 12: a FUSE cold start ≤ 1 s
 * whatever the size, ≤ 0.25× mariabackup at 1 GiB.
 */
import * as os from 'node:os';
import { join } from 'node:path';
import * as fs from 'node:fs/promises';
import { installDatadir, makeTempDir, removeTempDir, startMariadb, type MariadbServer } from '../test/support/mariadb.js';
import { type Bench, type BenchOptions, describeMachine, formatMachine, type Machine } from './support/bench.js';
import { replaceMarkedSection } from './support/docs-section.js';
import { type Cluster, computeStatus, parseComputeLine, query, REPO_ROOT, run, settle, STRATA, strataEnv, type Target, upCluster } from './support/strata-local.js';
import { backupPrepare, ensureTools, parseSysbench, prepare, SYSBENCH, type SysbenchResult, sysbenchArgs } from './support/sysbench.js';

const NAME = 'compute';
const RESULTS_JSON = join(REPO_ROOT, 'bench/results/compute.json');
const DOCS_MD = join(REPO_ROOT, 'docs/benchmarks.md');
const DEFAULT_SIZES_MB = [100, 1024];
/** Runs with a database at least this big update the results and docs. */
const RECORDED_SIZE_MB_MIN = 100;
const TPS = { tables: 4, tableSize: 20_000, threads: 4, seconds: 30 };
const IDLE_SECONDS = 60;
/** sysbench's rows take about this much InnoDB space each (data + secondary index). */
const BYTES_PER_ROW = 240;

interface ColdStart {
  readonly sizeMb: number;
  readonly rows: number;
  /** FUSE mode (the default where /dev/fuse exists): to a point query's answer. */
  readonly strataMs: number;
  /** FUSE mode: pages fetched from the page server by then, and the database's pages (InnoDB's data + index lengths). */
  readonly pagesFetched?: number;
  readonly databasePages?: number;
  /** FUSE mode, after the start: a full CHECKSUM TABLE of sbtest1, and whether it equals main's. */
  readonly checksumMs?: number;
  readonly checksumMatches?: boolean;
  readonly basebackupMs: number;
  readonly backupMs: number;
  readonly prepareMs: number;
}

type Side = 'strata' | 'basebackup' | 'plain';

interface Measured {
  readonly machine: Machine;
  /** strata: FUSE mode (main); basebackup: a branch's compute in basebackup mode. */
  readonly writeOnly: Record<Side, SysbenchResult>;
  readonly readWrite: Record<Side, SysbenchResult>;
  /** Redo written → quorum commit, FUSE mode (what a COMMIT waits for on top of MariaDB's own work). */
  readonly lag: { p50Ms: number; p99Ms: number };
  readonly basebackupLag: { p50Ms: number; p99Ms: number };
  readonly lfc: { hits: number; misses: number; pagesFetched: number };
  /** CPU-seconds over IDLE_SECONDS with no queries. */
  readonly idle: { seconds: number; controllerCpuS: number; mariadbdCpuS: number };
  readonly cold: ColdStart[];
  readonly loadAfter: number;
}

async function oltp(test: string, t: Target): Promise<SysbenchResult> {
  const { stdout } = await run(SYSBENCH, [test, ...sysbenchArgs(t, TPS.tables, TPS.tableSize), `--threads=${TPS.threads}`, `--time=${TPS.seconds}`, '--percentile=95', '--report-interval=0', 'run']);
  return parseSysbench(stdout);
}

/** With Strata: a read-only compute at the head, from `compute start` to the first answered query, in one storage mode. */
interface StartMeasure {
  readonly ms: number;
  readonly pagesFetched?: number;
  readonly checksumMs?: number;
  readonly checksum?: string;
}

/**
 * A read-only copy at `lsn`, timed from `compute start` to the answer of a
 * first query (a point query on sbtest1: what a first query of an application
 * reads, not a scan that grows with the table). Then, unless `scan` is off,
 * the pages it fetched so far and a full CHECKSUM TABLE of sbtest1, timed
 * apart: the rows read on demand, checked against main's.
 */
async function strataColdStart(c: Cluster, lsn: bigint, storage: 'fuse' | 'basebackup', scan: boolean): Promise<StartMeasure> {
  const t0 = performance.now();
  const { stdout } = await run(STRATA, ['compute', 'start', '--branch', 'main', '--read-only', '--lsn', lsn.toString()], { ...strataEnv(c.home), STRATA_COMPUTE_STORAGE: storage });
  const ro = parseComputeLine(stdout);
  await query(ro, 'SELECT c FROM sbtest.sbtest1 WHERE id = 1');
  const ms = performance.now() - t0;
  try {
    if (!scan) return { ms };
    const pagesFetched = (await computeStatus(c.home, ro.name)).datadirFs?.pagesFetched;
    const t1 = performance.now();
    const rows = await query(ro, 'CHECKSUM TABLE sbtest.sbtest1');
    return { ms, checksumMs: performance.now() - t1, checksum: String(rows[0]?.['Checksum']), ...(pagesFetched !== undefined ? { pagesFetched } : {}) };
  } finally {
    await run(STRATA, ['compute', 'stop', '--name', ro.name], strataEnv(c.home));
  }
}

/** InnoDB's pages of the sysbench schema on `t` (data + index lengths). */
async function databasePages(t: Target): Promise<number> {
  const rows = await query(t, "SELECT SUM(data_length + index_length) AS b FROM information_schema.tables WHERE table_schema = 'sbtest'");
  return Math.round(Number(rows[0]?.['b'] ?? 0) / 16384);
}

/** utime + stime of a process, in seconds. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), from field 3 on.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function idleCpu(home: string, name: string): Promise<Measured['idle']> {
  const st = await computeStatus(home, name);
  const pids = { controller: st.controllerPid!, mariadbd: st.mariadbdPid! };
  // Let the last writes' background work (checkpoints, purge) settle first.
  await new Promise((r) => setTimeout(r, 10_000));
  const c0 = await cpuSeconds(pids.controller);
  const m0 = await cpuSeconds(pids.mariadbd);
  await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
  return { seconds: IDLE_SECONDS, controllerCpuS: (await cpuSeconds(pids.controller)) - c0, mariadbdCpuS: (await cpuSeconds(pids.mariadbd)) - m0 };
}

async function measure(sizes: number[], machine: Machine): Promise<Measured> {
  const dir = await makeTempDir('strata-bench-compute-');
  const home = join(dir, 'strata');
  let plain: MariadbServer | undefined;
  let cluster: Cluster | undefined;
  try {
    process.stderr.write(`${NAME}: starting a local cluster and a plain mariadbd\n`);
    cluster = await upCluster(home);
    await installDatadir(join(dir, 'plain'), { logFileSize: '256M', bufferPoolSize: '128M' });
    plain = await startMariadb(join(dir, 'plain'), { logFileSize: '256M', bufferPoolSize: '128M', extraArgs: ['--skip-log-bin', '--innodb-flush-log-at-trx-commit=1'] });
    const plainT: Target = { name: 'plain', port: plain.port, user: 'root', password: '' };
    const strataT = cluster.main;

    const mainStatus = await computeStatus(home, 'main');
    if (mainStatus.storage !== 'fuse') throw new Error(`${NAME}: main's compute runs in ${mainStatus.storage ?? '?'} mode, not FUSE (is /dev/fuse usable?)`);
    process.stderr.write(`${NAME}: sysbench prepare ${TPS.tables} × ${TPS.tableSize} rows on Strata (main) and plain\n`);
    await prepare(strataT, TPS.tables, TPS.tableSize);
    await prepare(plainT, TPS.tables, TPS.tableSize);
    // The same tables on a branch, for a compute forced to basebackup mode.
    const branchLsn = await settle(cluster);
    await run(STRATA, ['branch', 'create', '--from', 'main', '--name', 'bb', '--lsn', branchLsn.toString()], strataEnv(home));
    const { stdout: bbOut } = await run(STRATA, ['compute', 'start', '--branch', 'bb'], { ...strataEnv(home), STRATA_COMPUTE_STORAGE: 'basebackup' });
    const bbName = parseComputeLine(bbOut).name;
    const bbT: Target = { ...parseComputeLine(bbOut), name: 'strata-basebackup' };
    const results: { writeOnly: Partial<Record<Side, SysbenchResult>>; readWrite: Partial<Record<Side, SysbenchResult>> } = { writeOnly: {}, readWrite: {} };
    for (const [key, t] of [['strata', strataT], ['basebackup', bbT], ['plain', plainT]] as const) {
      process.stderr.write(`${NAME}: sysbench on ${t.name}: oltp_write_only and oltp_read_write for ${TPS.seconds} s each\n`);
      results.writeOnly[key] = await oltp('oltp_write_only', t);
      results.readWrite[key] = await oltp('oltp_read_write', t);
    }
    const st = await computeStatus(home, 'main');
    const lag = { p50Ms: st.shipper?.commitLagP50Ms ?? NaN, p99Ms: st.shipper?.commitLagP99Ms ?? NaN };
    const fsStats = st.datadirFs;
    const lfc = { hits: fsStats?.lfcHits ?? 0, misses: fsStats?.lfcMisses ?? 0, pagesFetched: fsStats?.pagesFetched ?? 0 };
    const bbSt = await computeStatus(home, bbName);
    const basebackupLag = { p50Ms: bbSt.shipper?.commitLagP50Ms ?? NaN, p99Ms: bbSt.shipper?.commitLagP99Ms ?? NaN };
    await run(STRATA, ['compute', 'stop', '--name', bbName], strataEnv(home));
    process.stderr.write(`${NAME}: idle CPU of main's FUSE compute over ${IDLE_SECONDS} s\n`);
    const idle = await idleCpu(home, 'main');

    const cold: ColdStart[] = [];
    for (const sizeMb of sizes) {
      const tables = 8;
      const rows = Math.ceil((sizeMb * 1024 * 1024) / BYTES_PER_ROW / tables);
      process.stderr.write(`${NAME}: loading ~${sizeMb} MiB (${tables} × ${rows} rows) into both\n`);
      await prepare(strataT, tables, rows);
      await prepare(plainT, tables, rows);
      const lsn = await settle(cluster);
      process.stderr.write(`${NAME}: cold start at ${sizeMb} MiB\n`);
      const fuse = await strataColdStart(cluster, lsn, 'fuse', true);
      const basebackupMs = (await strataColdStart(cluster, lsn, 'basebackup', false)).ms;
      const mainChecksum = String((await query(strataT, 'CHECKSUM TABLE sbtest.sbtest1'))[0]?.['Checksum']);
      const { backupMs, prepareMs } = await backupPrepare(plain, dir);
      cold.push({
        sizeMb,
        rows: rows * tables,
        strataMs: fuse.ms,
        ...(fuse.pagesFetched !== undefined ? { pagesFetched: fuse.pagesFetched } : {}),
        databasePages: await databasePages(strataT),
        ...(fuse.checksumMs !== undefined ? { checksumMs: fuse.checksumMs, checksumMatches: fuse.checksum === mainChecksum } : {}),
        basebackupMs,
        backupMs,
        prepareMs,
      });
    }
    return {
      machine,
      writeOnly: { strata: results.writeOnly.strata!, basebackup: results.writeOnly.basebackup!, plain: results.writeOnly.plain! },
      readWrite: { strata: results.readWrite.strata!, basebackup: results.readWrite.basebackup!, plain: results.readWrite.plain! },
      lag,
      basebackupLag,
      lfc,
      idle,
      cold,
      loadAfter: os.loadavg()[0] ?? 0,
    };
  } finally {
    await plain?.shutdown({ innodbFastShutdown: 2 }).catch(() => plain?.kill());
    if (cluster) await run(STRATA, ['down'], strataEnv(home)).catch(() => undefined);
    if (process.env['STRATA_KEEP_TEST_DIRS'] === undefined) await removeTempDir(dir);
  }
}

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const goal = (ok: boolean, text: string) => `${ok ? 'meets' : 'below'} the ${text} goal`;

function reportLines(m: Measured): string[] {
  const p = NAME;
  const lines: string[] = [];
  for (const [label, r] of [['oltp_write_only', m.writeOnly], ['oltp_read_write', m.readWrite]] as const) {
    const ratio = r.strata.tps / r.plain.tps;
    lines.push(
      `${p}: ${label} TPS on Strata (FUSE, zero RPO) ${f1(r.strata.tps)} vs plain MariaDB ${f1(r.plain.tps)} → ${f2(ratio)}× (${goal(ratio >= 0.7, '≥ 0.7× with zero RPO')}); p95 ${f2(r.strata.p95Ms)} ms vs ${f2(r.plain.p95Ms)} ms → ${f2(r.strata.p95Ms / r.plain.p95Ms)}×; ` +
        `basebackup mode (RPO > 0) ${f1(r.basebackup.tps)} TPS → ${f2(r.basebackup.tps / r.plain.tps)}×, p95 ${f2(r.basebackup.p95Ms)} ms`,
    );
  }
  lines.push(`${p}: commit latency the quorum adds (redo written → quorum commit), FUSE: p50 ${f1(m.lag.p50Ms)} ms, p99 ${f1(m.lag.p99Ms)} ms; basebackup mode's shipper lag (after the COMMIT returned): p50 ${f1(m.basebackupLag.p50Ms)} ms, p99 ${f1(m.basebackupLag.p99Ms)} ms`);
  const lookups = m.lfc.hits + m.lfc.misses;
  lines.push(`${p}: FUSE local file cache: ${lookups > 0 ? f1((100 * m.lfc.hits) / lookups) : '–'}% hits (${m.lfc.hits} hits, ${m.lfc.misses} misses), ${m.lfc.pagesFetched} pages fetched from the page server`);
  const idlePct = (100 * m.idle.controllerCpuS) / m.idle.seconds;
  lines.push(`${p}: idle over ${m.idle.seconds} s: compute controller + filesystem ${f2(m.idle.controllerCpuS)} CPU-s (${f2(idlePct)}% of a core, ${goal(idlePct < 1, '< 1%')}), mariadbd ${f2(m.idle.mariadbdCpuS)} CPU-s`);
  for (const c of m.cold) {
    const today = c.backupMs + c.prepareMs;
    const ratio = c.strataMs / today;
    if (c.pagesFetched !== undefined && c.databasePages) {
      const pct = (100 * c.pagesFetched) / c.databasePages;
      lines.push(
        `${p}: FUSE copy at ${c.sizeMb} MiB: ${c.pagesFetched.toLocaleString('en-US')} of ${c.databasePages.toLocaleString('en-US')} pages fetched by its first answer (${f2(pct)}%, ${goal(pct < 5, '< 5%')}); ` +
          `then CHECKSUM TABLE sbtest1 read on demand in ${c.checksumMs !== undefined ? f2(c.checksumMs / 1000) : '–'} s, ${c.checksumMatches ? 'equal to main' : 'DIFFERENT from main'}`,
      );
    }
    lines.push(
      `${p}: cold start of a copy at ${c.sizeMb} MiB (${c.rows.toLocaleString('en-US')} rows): Strata read-only compute (FUSE) ${f2(c.strataMs / 1000)} s, (basebackup) ${f2(c.basebackupMs / 1000)} s vs mariadb-backup --backup ${f2(c.backupMs / 1000)} s + --prepare ${f2(c.prepareMs / 1000)} s → FUSE ${f2(ratio)}× (${goal(c.strataMs <= 1000 && (c.sizeMb < 1024 || ratio <= 0.25), '≤ 1 s, ≤ 0.25× at 1 GiB')}), basebackup ${f2(c.basebackupMs / today)}×`,
    );
  }
  lines.push(`${p}: sysbench ${TPS.tables} tables × ${TPS.tableSize} rows, ${TPS.threads} threads, ${TPS.seconds} s per test; transactions Strata FUSE ${m.writeOnly.strata.transactions}/${m.readWrite.strata.transactions}, basebackup ${m.writeOnly.basebackup.transactions}/${m.readWrite.basebackup.transactions}, plain ${m.writeOnly.plain.transactions}/${m.readWrite.plain.transactions}`);
  lines.push(`${p}: machine: ${formatMachine(m.machine)}, ${m.loadAfter.toFixed(2)} at the end`);
  return lines;
}

function docsSection(m: Measured, opts: BenchOptions, lines: string[]): string {
  const rows = [
    ['oltp_write_only', m.writeOnly],
    ['oltp_read_write', m.readWrite],
  ] as const;
  return [
    `Latest run: ${new Date().toISOString().slice(0, 10)}, \`${opts.command}\`, on ${formatMachine(m.machine)}.`,
    '',
    '| sysbench test | Strata TPS (FUSE, zero RPO) | basebackup mode TPS | plain TPS | FUSE ratio | basebackup ratio | FUSE p95 | plain p95 | p95 ratio |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      ([n, r]) =>
        `| ${n} | ${f1(r.strata.tps)} | ${f1(r.basebackup.tps)} | ${f1(r.plain.tps)} | **${f2(r.strata.tps / r.plain.tps)}×** | ${f2(r.basebackup.tps / r.plain.tps)}× | ${f2(r.strata.p95Ms)} ms | ${f2(r.plain.p95Ms)} ms | ${f2(r.strata.p95Ms / r.plain.p95Ms)}× |`,
    ),
    '',
    `Commit latency the quorum adds (FUSE): p50 ${f1(m.lag.p50Ms)} ms, p99 ${f1(m.lag.p99Ms)} ms. Idle compute: ${f2((100 * m.idle.controllerCpuS) / m.idle.seconds)}% of a core.`,
    '',
    '| database | Strata read-only compute, FUSE (to first query) | basebackup mode | mariadb-backup --backup + --prepare | FUSE ratio | basebackup ratio |',
    '| --- | --- | --- | --- | --- | --- |',
    ...m.cold.map(
      (c) =>
        `| ${c.sizeMb} MiB | ${f2(c.strataMs / 1000)} s | ${f2(c.basebackupMs / 1000)} s | ${f2(c.backupMs / 1000)} s + ${f2(c.prepareMs / 1000)} s | **${f2(c.strataMs / (c.backupMs + c.prepareMs))}×** | ${f2(c.basebackupMs / (c.backupMs + c.prepareMs))}× |`,
    ),
    '',
    '```',
    ...lines,
    '```',
  ].join('\n');
}

async function runBench(opts: BenchOptions): Promise<void> {
  ensureTools(NAME);
  const sizes = opts.sizeMb !== undefined ? [opts.sizeMb] : DEFAULT_SIZES_MB;
  const machine = describeMachine();
  const m = await measure(sizes, machine);
  const lines = reportLines(m);
  for (const line of lines) process.stdout.write(line + '\n');
  if (Math.min(...sizes) >= RECORDED_SIZE_MB_MIN) {
    await fs.mkdir(join(REPO_ROOT, 'bench/results'), { recursive: true });
    await fs.writeFile(RESULTS_JSON, JSON.stringify({ date: new Date().toISOString(), command: opts.command, ...m }, null, 2) + '\n');
    replaceMarkedSection(DOCS_MD, 'compute-results', docsSection(m, opts, lines));
    process.stdout.write(`${NAME}: results written to bench/results/compute.json and docs/benchmarks.md\n`);
  } else process.stdout.write(`${NAME}: quick run (below ${RECORDED_SIZE_MB_MIN} MiB): results not recorded\n`);
}

export const bench: Bench = {
  name: NAME,
  description: 'MariaDB on Strata (compute + shipper + 3 safekeepers) vs plain MariaDB: sysbench TPS and p95, shipper commit lag, cold start of a copy vs mariadb-backup',
  run: runBench,
};
