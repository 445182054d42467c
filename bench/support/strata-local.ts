/**
 * A local Strata cluster driven the way users drive it: `./strata up --no-console` in a
 * temporary STRATA_HOME, computes started and stopped through the CLI, SQL over TCP. Shared by
 * the benchmarks that need a whole cluster (compute, soak).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const STRATA = join(REPO_ROOT, 'strata');

/** Where SQL goes: a compute (or a plain server) on loopback. */
export interface Target {
  readonly name: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

export interface RunOptions {
  readonly env?: Record<string, string>;
  readonly timeoutMs?: number;
  /** Kills the command when aborted (a benchmark that saw the cluster die stops waiting on it). */
  readonly signal?: AbortSignal;
}

/** Runs a command to completion; the error carries its whole output, which is what explains a failure. */
export function run(cmd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 3_600_000, signal?: AbortSignal): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 64 << 20, ...(signal ? { signal } : {}) }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}\n${stdout}`));
      else resolve({ stdout, stderr });
    });
  });
}

/**
 * What `./strata` does before its first command: bring the bundles of the CLI and the services
 * up to date, so that a benchmark times what users run (call it before anything is timed).
 */
export async function buildBundlesIfStale(): Promise<void> {
  await run(process.execPath, [join(REPO_ROOT, 'scripts/build.mjs'), '--if-stale', '--quiet', 'cli', 'safekeeper', 'pageserver']);
}

/** The CLI acts on the cluster in `home`; an empty STRATA_TOKEN makes it use that cluster's admin token. */
export function strataEnv(home: string): Record<string, string> {
  return { STRATA_HOME: home, STRATA_TOKEN: '' };
}

export function strata(home: string, args: string[], opts: Omit<RunOptions, 'env'> = {}): Promise<{ stdout: string; stderr: string }> {
  return run(STRATA, args, strataEnv(home), opts.timeoutMs, opts.signal);
}

/** The `compute NAME mysql://USER:PASSWORD@127.0.0.1:PORT/` line `up` and `compute start` print. */
export function parseComputeLine(stdout: string, name?: string): Target {
  const re = new RegExp(`^compute (${name === undefined ? '\\S+' : name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}) mysql://(\\w+):(\\w*)@127\\.0\\.0\\.1:(\\d+)/$`, 'm');
  const m = re.exec(stdout);
  if (!m) throw new Error(`no compute line${name === undefined ? '' : ` for ${name}`} in:\n${stdout}`);
  return { name: m[1]!, user: m[2]!, password: m[3]!, port: Number(m[4]) };
}

export interface Cluster {
  readonly home: string;
  readonly main: Target;
}

export async function upCluster(home: string): Promise<Cluster> {
  const { stdout } = await run(STRATA, ['up', '--no-console'], strataEnv(home));
  const main = parseComputeLine(stdout, 'main');
  return { home, main: { ...main, name: 'strata' } };
}

export async function query(t: Target, sql: string, timeoutMs?: number): Promise<mysql.RowDataPacket[]> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port: t.port, user: t.user, password: t.password, connectTimeout: 10_000 });
  try {
    const [rows] = await c.query<mysql.RowDataPacket[]>({ sql, ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }) });
    return rows;
  } finally {
    // A timed-out query leaves the connection unusable for a clean QUIT.
    c.destroy();
  }
}

export interface ComputeStatus {
  storage?: 'basebackup' | 'fuse';
  controllerPid?: number;
  mariadbdPid?: number;
  shipper: { commitLsn: string; commitLagP50Ms: number; commitLagP99Ms: number } | null;
  /** FUSE mode: the local file cache and the fsyncs that waited for the quorum. */
  datadirFs?: { lfcHits: number; lfcMisses: number; pagesFetched: number; fsyncWaits: number } | null;
}

export async function computeStatus(home: string, name: string): Promise<ComputeStatus> {
  const state = JSON.parse(readFileSync(join(home, 'computes', name, 'compute.json'), 'utf8')) as { controlUrl: string };
  // The control port takes the cluster's admin token.
  const headers = { authorization: `Bearer ${readFileSync(join(home, 'keys', 'admin.jwt'), 'utf8').trim()}` };
  return (await (await fetch(`${state.controlUrl}/v1/status`, { headers, signal: AbortSignal.timeout(10_000) })).json()) as ComputeStatus;
}

/** A compute's Prometheus metrics (its control endpoint), as text. */
export async function computeMetricsText(home: string, name: string): Promise<string> {
  const state = JSON.parse(readFileSync(join(home, 'computes', name, 'compute.json'), 'utf8')) as { controlUrl: string };
  const headers = { authorization: `Bearer ${readFileSync(join(home, 'keys', 'admin.jwt'), 'utf8').trim()}` };
  return (await fetch(`${state.controlUrl}/metrics`, { headers, signal: AbortSignal.timeout(10_000) })).text();
}

/** InnoDB's current LSN: the end of the last mtr the server wrote. */
export async function innodbLsn(t: Target): Promise<bigint> {
  return BigInt(String((await query(t, "SHOW GLOBAL STATUS LIKE 'Innodb_lsn_current'"))[0]?.['Value']));
}

/** Waits until the compute's shipper has the quorum's commit for everything InnoDB wrote up to `lsn`. */
export async function waitShipped(home: string, computeName: string, lsn: bigint, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (BigInt((await computeStatus(home, computeName)).shipper?.commitLsn ?? '0') < lsn) {
    if (Date.now() > deadline) throw new Error(`the shipper of ${computeName} did not commit LSN ${lsn} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the shipper committed what InnoDB has written and the page server ingested it. */
export async function settle(c: Cluster): Promise<bigint> {
  const lsn = await innodbLsn(c.main);
  await waitShipped(c.home, 'main', lsn);
  await run(STRATA, ['wait-lsn', '--branch', 'main', '--lsn', lsn.toString(), '--timeout-ms', '1800000'], strataEnv(c.home));
  return lsn;
}
