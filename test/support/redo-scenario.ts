/**
 * One redo-replay experiment against a real MariaDB: base after a clean
 * shutdown, a workload, a clean shutdown, `./strata redo apply`, then the
 * rebuilt datadir is compared page by page with MariaDB's own and booted.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Connection } from 'mysql2/promise';
import { redo } from '@strata/core';
import { openLogFile } from '@strata/datadir';
import { comparePages, copyDatadir, formatComparison, type PageComparison } from './datadir-compare.js';
import {
  checkTables,
  checksumTables,
  installDatadir,
  type CheckTableFailure,
  makeTempDir,
  type MariadbServer,
  readLogCheckpoint,
  removeTempDir,
  startMariadb,
  type StartOptions,
} from './mariadb.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ScenarioOptions {
  readonly name: string;
  readonly server?: StartOptions;
  /** Runs before the base is taken (schema, seed rows). */
  readonly setup: (conn: Connection, server: MariadbServer) => Promise<void>;
  /** Runs after the base, on a restarted server: its redo is what gets replayed. */
  readonly workload: (conn: Connection, server: MariadbServer) => Promise<void>;
  /** Further `redo apply` runs with these extra arguments (threads, cache size); each must rebuild the same pages. */
  readonly variants?: readonly (readonly string[])[];
}

export interface ScenarioResult {
  readonly dir: string;
  readonly base: string;
  readonly final: string;
  readonly out: string;
  readonly baseCheckpoint: bigint;
  readonly finalCheckpoint: bigint;
  readonly applyStdout: string;
  readonly comparison: PageComparison;
  readonly checksumsFinal: Map<string, string>;
  readonly checksumsOut: Map<string, string>;
  readonly checkFailures: CheckTableFailure[];
  /** Whether mariadbd ran crash recovery when it booted on the output (it must not: the output's log is fresh). */
  readonly recoveredOnBoot: boolean;
  readonly applyStderr: string;
  readonly report: string;
  /** One per `variants` entry: its arguments, its output and how its pages compare with MariaDB's. */
  readonly variantComparisons: { args: readonly string[]; stdout: string; comparison: PageComparison }[];
  /** How many records of each type (EXTENDED by subtype) the replayed span held. */
  readonly recordTypes: Map<string, number>;
  cleanup(): Promise<void>;
}

/** Count record types in the final log from `fromLsn`: proof of what a workload exercised. */
export function countRecordTypes(logPath: string, fromLsn: bigint, pageSize = 16384): Map<string, number> {
  const reader = openLogFile(logPath);
  const counts = new Map<string, number>();
  try {
    for (const m of reader.mtrs(fromLsn, pageSize)) {
      for (const r of m.records) {
        const name = redo.recordTypeName(r);
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
    }
  } finally {
    reader.close();
  }
  return counts;
}

export function runStrata(args: string[], timeoutMs = 300_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(REPO_ROOT, 'strata'), args, { cwd: REPO_ROOT, timeout: timeoutMs, maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export async function withConnection<T>(server: MariadbServer, fn: (c: Connection) => Promise<T>): Promise<T> {
  const conn = await server.connect({ multipleStatements: true, database: 'test' });
  try {
    return await fn(conn);
  } finally {
    await conn.end();
  }
}

/** Base → workload → clean shutdown, kept on disk for the caller's replays. */
export async function recordWorkload(opts: ScenarioOptions): Promise<{ dir: string; base: string; final: string; checksumsFinal: Map<string, string> }> {
  const dir = await makeTempDir(`strata-${opts.name}-`);
  const final = join(dir, 'final');
  const base = join(dir, 'base');
  const serverOpts: StartOptions = { logFileSize: '256M', ...opts.server };
  await installDatadir(final, serverOpts);
  let server = await startMariadb(final, serverOpts);
  await withConnection(server, (c) => opts.setup(c, server));
  await server.shutdown();
  await copyDatadir(final, base);
  server = await startMariadb(final, serverOpts);
  const checksumsFinal = await withConnection(server, async (c) => {
    await opts.workload(c, server);
    return checksumsAll(c);
  });
  await server.shutdown();
  return { dir, base, final, checksumsFinal };
}

async function checksumsAll(c: Connection): Promise<Map<string, string>> {
  return checksumTables(c);
}

export async function runRedoScenario(opts: ScenarioOptions): Promise<ScenarioResult> {
  const rec = await recordWorkload(opts);
  const out = join(rec.dir, 'out');
  const apply = await runStrata(['redo', 'apply', '--base', rec.base, '--log', join(rec.final, 'ib_logfile0'), '--out', out, '--aux-from', rec.final]);
  if (apply.code !== 0) throw new Error(`strata redo apply failed (${apply.code}):\n${apply.stdout}\n${apply.stderr}`);
  const comparison = await comparePages(rec.final, out);
  const variantComparisons: ScenarioResult['variantComparisons'] = [];
  for (const [i, args] of (opts.variants ?? []).entries()) {
    const vOut = join(rec.dir, `out-variant-${i}`);
    const v = await runStrata(['redo', 'apply', '--base', rec.base, '--log', join(rec.final, 'ib_logfile0'), '--out', vOut, '--aux-from', rec.final, ...args]);
    if (v.code !== 0) throw new Error(`strata redo apply ${args.join(' ')} failed (${v.code}):\n${v.stdout}\n${v.stderr}`);
    variantComparisons.push({ args, stdout: v.stdout, comparison: await comparePages(rec.final, vOut) });
  }
  const server = await startMariadb(out, { ...opts.server });
  let checksumsOut: Map<string, string>;
  let checkFailures: CheckTableFailure[];
  let recoveredOnBoot = false;
  try {
    [checksumsOut, checkFailures] = await withConnection(server, async (c) => [await checksumsAll(c), await checkTables(c)] as const);
    recoveredOnBoot = /Starting crash recovery/.test(await server.errorLogTail(400));
  } finally {
    await server.shutdown();
  }
  const baseCheckpoint = (await readLogCheckpoint(rec.base)).checkpointLsn;
  const finalCheckpoint = (await readLogCheckpoint(rec.final)).checkpointLsn;
  const recordTypes = countRecordTypes(join(rec.final, 'ib_logfile0'), (await readLogCheckpoint(rec.base)).endLsn, opts.server?.pageSize);
  const types = [...recordTypes].sort().map(([k, v]) => `${k}=${v}`).join(' ');
  const report = `${opts.name}: base ${baseCheckpoint} → final ${finalCheckpoint}\n${apply.stdout}${formatComparison(comparison)}\nrecords: ${types}`;
  return {
    ...rec,
    out,
    baseCheckpoint,
    finalCheckpoint,
    applyStdout: apply.stdout,
    applyStderr: apply.stderr,
    recoveredOnBoot,
    comparison,
    variantComparisons,
    checksumsOut,
    checkFailures,
    report,
    recordTypes,
    cleanup: () => removeTempDir(rec.dir),
  };
}
