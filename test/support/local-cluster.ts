/**
 * A local cluster through the CLI contract, as a user drives it: `./strata`
 * commands with STRATA_HOME set to a temporary directory, SQL through the
 * mysql:// URLs they print. `down` runs when the test process ends, so a
 * failed test leaves nothing running.
 */
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll } from 'vitest';
import { makeTempDir, removeTempDir } from './mariadb.js';
import { REPO_ROOT } from './redo-scenario.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const homes = new Set<string>();
process.on('exit', () => {
  for (const home of homes) {
    try {
      execFileSync(join(REPO_ROOT, 'strata'), ['down'], { cwd: REPO_ROOT, env: { ...process.env, STRATA_HOME: home }, stdio: 'ignore', timeout: 120_000 });
    } catch {
      // best effort at exit
    }
  }
});

export function localCli(home: string) {
  homes.add(home);
  return (args: string[], timeoutMs = 600_000): Promise<CliResult> =>
    new Promise((resolve) => {
      execFile(join(REPO_ROOT, 'strata'), args, { cwd: REPO_ROOT, timeout: timeoutMs, maxBuffer: 64 << 20, env: { ...process.env, STRATA_HOME: home, STRATA_TOKEN: '' } }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
    });
}

export type LocalCli = ReturnType<typeof localCli>;

/**
 * A test file's own cluster home: a temp STRATA_HOME and its `./strata` made
 * before the file's tests (`ready` hands them over), `down` and the home
 * removed after them.
 */
export function localClusterPerFile(prefix: string, ready: (home: string, cli: LocalCli) => void): void {
  let home: string | undefined;
  let cli: LocalCli | undefined;
  beforeAll(async () => {
    home = await makeTempDir(prefix);
    cli = localCli(home);
    ready(home, cli);
  }, 60_000);
  afterAll(async () => {
    if (cli) await cli(['down']);
    if (home) await removeTempDir(home);
  }, 300_000);
}

/** `compute NAME mysql://USER:PASSWORD@127.0.0.1:PORT/` → its parts. */
export function computeLine(stdout: string, name: string): { url: string; user: string; password: string; port: number } {
  const m = new RegExp(`^compute ${name.replace(/[.]/g, '\\.')} (mysql://(\\w+):(\\w*)@127\\.0\\.0\\.1:(\\d+)/)$`, 'm').exec(stdout);
  if (!m) throw new Error(`no "compute ${name} mysql://..." line in:\n${stdout}`);
  return { url: m[1]!, user: m[2]!, password: m[3]!, port: Number(m[4]) };
}

export function connectUrl(url: string): Promise<Connection> {
  const u = new URL(url);
  return mysql.createConnection({ host: u.hostname, port: Number(u.port), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password), supportBigNumbers: true, bigNumberStrings: true, multipleStatements: true });
}

export async function withUrl<T>(url: string, fn: (c: Connection) => Promise<T>): Promise<T> {
  const c = await connectUrl(url);
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function scalar(conn: Connection, sql: string): Promise<string> {
  const [rows] = await conn.query<RowDataPacket[]>(sql);
  const row = rows[0];
  if (!row) throw new Error(`no row from ${sql}`);
  return String(Object.values(row)[0]);
}

/** Row count and CHECKSUM TABLE, as one comparable string. */
export async function fingerprint(conn: Connection, table: string): Promise<string> {
  const [rows] = await conn.query<RowDataPacket[]>(`CHECKSUM TABLE ${table}`);
  return `${await scalar(conn, `SELECT COUNT(*) FROM ${table}`)} rows, checksum ${String(rows[0]?.['Checksum'])}`;
}

export async function innodbLsn(conn: Connection): Promise<bigint> {
  return BigInt(await scalar(conn, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'INNODB_LSN_CURRENT'"));
}
