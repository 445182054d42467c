/**
 * Time travel: a read-only SQL query against a branch as of an LSN or a time,
 * answered by an ephemeral read-only compute started for it and stopped after.
 */
import mysql from 'mysql2/promise';
import type { ConsoleDeps } from '../deps';
import { cliComputeStart, stopComputeIfRunning } from './computes';
import { ConsoleError, errorMessage, invalid } from './errors';

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

export async function timeTravelQuery(
  deps: ConsoleDeps,
  input: { branch: string; lsn?: string | undefined; at?: string | undefined; sql: string; database?: string | undefined },
): Promise<TimeTravelResult> {
  const sql = assertReadOnlySql(input.sql);
  const t0 = Date.now();
  const compute = await cliComputeStart(deps, { branch: input.branch, readOnly: true, lsn: input.lsn, at: input.at });
  try {
    const conn = await mysql.createConnection({ uri: compute.connectionUrl, ...(input.database ? { database: input.database } : {}), connectTimeout: 10_000 });
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
  } finally {
    await stopComputeIfRunning(deps, compute.name).catch(() => undefined);
  }
}
