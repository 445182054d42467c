/**
 * Time travel: a read-only SQL query against a branch as of an LSN or a time,
 * answered by an ephemeral read-only compute started for it and stopped after.
 *
 * The query never runs as root. On the ephemeral compute (its datadir is
 * thrown away at its stop, so nothing here reaches the branch) the console
 * creates a dedicated account for this one query: SELECT and SHOW VIEW on
 * each user schema, nothing on `mysql`, `sys` or the server (no FILE, so no
 * LOAD_FILE or INTO OUTFILE; the compute's secure_file_priv is an empty
 * directory besides).
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import type { ConsoleDeps } from '../deps';
import { assertLsnNotPastHead } from './branches';
import { startCompute, stopComputeIfRunning } from './computes';
import { ConsoleError, errorMessage, invalid } from './errors';
import { runRecorded } from './operations';
import { refreshLocalCluster } from './registry';

export const ROWS_MAX = 1_000;
const QUERY_TIMEOUT_MS = 30_000;
const READ_ONLY_FIRST_WORDS = new Set(['select', 'with', 'show', 'describe', 'desc', 'explain']);

/** One statement that only reads. The compute is read-only as well; this is the first fence. */
export function assertReadOnlySql(sql: string): string {
  const stripped = sql
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/(--|#)[^\n]*/g, ' ')
    .trim()
    .replace(/;\s*$/, '');
  if (!stripped) throw invalid('the query is empty');
  if (stripped.includes(';')) throw invalid('one statement only');
  const first = stripped.split(/\s+/)[0]!.toLowerCase();
  if (!READ_ONLY_FIRST_WORDS.has(first)) throw invalid(`only read-only statements (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN); got ${first.toUpperCase()}`);
  if (/\b(into\s+(out|dump)file|for\s+update|lock\s+in\s+share\s+mode)\b/i.test(stripped)) throw invalid('the query writes or locks');
  return stripped;
}

/** Schemas of the server itself: never granted to the reader. */
const SYSTEM_SCHEMAS = new Set(['mysql', 'information_schema', 'performance_schema', 'sys']);
/** Connections reach a compute over TCP on 127.0.0.1 (it runs with skip-name-resolve). */
const READER_HOST = '127.0.0.1';

/**
 * A schema name as the database part of a GRANT: backquoted, and `_`/`%`
 * escaped, since they are wildcards there (a schema `my_ql` would otherwise
 * grant `mysql`).
 */
export function grantSchema(name: string): string {
  return '`' + name.replace(/`/g, '``').replace(/([_%])/g, '\\$1') + '`';
}

export interface ReaderAccount {
  user: string;
  password: string;
}

/** Creates the query's own read-only account on the ephemeral compute, as the cluster's admin account. */
export async function createReader(adminUrl: string): Promise<ReaderAccount> {
  const conn = await mysql.createConnection({ uri: adminUrl, connectTimeout: 10_000 });
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA');
    const schemas = rows.map((r) => String(r['name'])).filter((s) => !SYSTEM_SCHEMAS.has(s.toLowerCase()));
    // One account per query: two queries sharing a compute must not reset each other's password.
    const reader = { user: `strata_tt_${randomBytes(6).toString('hex')}`, password: randomBytes(18).toString('base64url') };
    await conn.query('CREATE USER ?@? IDENTIFIED BY ?', [reader.user, READER_HOST, reader.password]);
    for (const s of schemas) await conn.query(`GRANT SELECT, SHOW VIEW ON ${grantSchema(s)}.* TO ?@?`, [reader.user, READER_HOST]);
    return reader;
  } finally {
    await conn.end().catch(() => undefined);
  }
}

/** The compute's URL with the reader's account instead of the admin's. */
function readerUrl(adminUrl: string, reader: ReaderAccount): string {
  const u = new URL(adminUrl);
  u.username = encodeURIComponent(reader.user);
  u.password = encodeURIComponent(reader.password);
  return u.toString();
}

export interface TimeTravelResult {
  compute: string;
  columns: string[];
  rows: (string | null)[][];
  truncated: boolean;
  elapsedMs: number;
}

function cell(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

const STEPS = ['check the query and the point in time', 'start a read-only compute', 'run the query as a read-only account', 'stop the compute'];

/** Each run is in the operations log (kind timetravel.query): who asked what of which branch, when, and how it ended. */
export async function timeTravelQuery(
  deps: ConsoleDeps,
  input: { branch: string; lsn?: string | undefined; at?: string | undefined; sql: string; database?: string | undefined },
  actorId: string | null,
): Promise<TimeTravelResult> {
  const cluster = await refreshLocalCluster(deps);
  const logged = { branch: input.branch, ...(input.lsn !== undefined ? { lsn: input.lsn } : {}), ...(input.at !== undefined ? { at: input.at } : {}), sql: input.sql, ...(input.database ? { database: input.database } : {}) };
  return runRecorded(
    deps,
    cluster,
    { kind: 'timetravel.query', input: logged, steps: STEPS, actorId },
    async (ctx) => {
      const sql = await ctx.step(0, async () => {
        const checked = assertReadOnlySql(input.sql);
        if (input.lsn !== undefined) await assertLsnNotPastHead(deps, input.branch, input.lsn);
        return checked;
      });
      const t0 = Date.now();
      const compute = await ctx.step(1, async (detail) => {
        const c = await startCompute(deps, cluster, { branch: input.branch, readOnly: true, lsn: input.lsn, at: input.at }, detail);
        detail(c.name);
        return c;
      });
      try {
        return await ctx.step(2, async (detail) => {
          const r = await runAsReader(compute, sql, input.database, t0);
          detail(`${r.rows.length} rows${r.truncated ? ' (truncated)' : ''} in ${r.elapsedMs} ms`);
          return r;
        });
      } finally {
        await ctx.step(3, () => stopComputeIfRunning(deps, compute.name)).catch(() => undefined);
      }
    },
    (r) => ({ compute: r.compute, rows: r.rows.length, truncated: r.truncated, elapsedMs: r.elapsedMs }),
  );
}

async function runAsReader(compute: { name: string; connectionUrl: string }, sql: string, database: string | undefined, t0: number): Promise<TimeTravelResult> {
  try {
    const reader = await createReader(compute.connectionUrl);
    const conn = await mysql.createConnection({ uri: readerUrl(compute.connectionUrl, reader), ...(database ? { database } : {}), connectTimeout: 10_000 });
    try {
      await conn.query('SET SESSION TRANSACTION READ ONLY');
      const [rows, fields] = await conn.query({ sql, rowsAsArray: true, timeout: QUERY_TIMEOUT_MS });
      const list = Array.isArray(rows) ? (rows as unknown[][]) : [];
      return {
        compute: compute.name,
        columns: (fields ?? []).map((f) => f.name),
        rows: list.slice(0, ROWS_MAX).map((r) => r.map(cell)),
        truncated: list.length > ROWS_MAX,
        elapsedMs: Date.now() - t0,
      };
    } finally {
      await conn.end().catch(() => undefined);
    }
  } catch (e) {
    if (e instanceof ConsoleError) throw e;
    throw new ConsoleError('QUERY_FAILED', `MariaDB: ${errorMessage(e)}`, { service: `compute ${compute.name}` });
  }
}
