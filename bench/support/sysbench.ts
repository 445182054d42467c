/**
 * The tools the cluster benchmarks measure with and against: sysbench for the workload,
 * mariadb-backup for the baseline copy of a database (`--backup` + `--prepare`, what users
 * run today to get a consistent copy).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import type { MariadbServer } from '../../test/support/mariadb.js';
import { query, run, type Target } from './strata-local.js';

export const SYSBENCH = '/usr/bin/sysbench';
export const BACKUP = '/usr/bin/mariadb-backup';

/** Installs sysbench and mariadb-backup when missing (as root), else says how. */
export function ensureTools(bench: string): void {
  const missing = [SYSBENCH, BACKUP].filter((p) => !existsSync(p));
  if (missing.length === 0) return;
  const pkgs = missing.map((p) => (p === SYSBENCH ? 'sysbench' : 'mariadb-backup'));
  if (process.getuid?.() !== 0) throw new Error(`${bench}: needs ${pkgs.join(', ')}: apt-get install ${pkgs.join(' ')}`);
  process.stderr.write(`${bench}: installing ${pkgs.join(', ')}\n`);
  execFileSync('apt-get', ['install', '-y', ...pkgs], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

export interface SysbenchResult {
  readonly tps: number;
  readonly p95Ms: number;
  readonly transactions: number;
}

export function sysbenchArgs(t: Target, tables: number, tableSize: number): string[] {
  return [
    `--mysql-host=127.0.0.1`, `--mysql-port=${t.port}`, `--mysql-user=${t.user}`, `--mysql-password=${t.password}`, '--mysql-db=sbtest',
    `--tables=${tables}`, `--table-size=${tableSize}`, '--db-driver=mysql',
  ];
}

/** A fresh `sbtest` database with sysbench's tables. */
export async function prepare(t: Target, tables: number, tableSize: number, signal?: AbortSignal): Promise<void> {
  await query(t, 'DROP DATABASE IF EXISTS sbtest');
  await query(t, 'CREATE DATABASE sbtest');
  await run(SYSBENCH, ['oltp_common', ...sysbenchArgs(t, tables, tableSize), `--threads=${Math.min(tables, 2)}`, 'prepare'], {}, 3_600_000, signal);
}

export function parseSysbench(out: string): SysbenchResult {
  const tx = /transactions:\s+(\d+)\s+\(([\d.]+) per sec\.\)/.exec(out);
  const p95 = /95th percentile:\s+([\d.]+)/.exec(out);
  if (!tx || !p95) throw new Error(`cannot read sysbench's summary:\n${out}`);
  return { transactions: Number(tx[1]), tps: Number(tx[2]), p95Ms: Number(p95[1]) };
}

/** `mariadb-backup --backup` + `--prepare` of a running server into `dir/backup` (removed afterwards). */
export async function backupPrepare(plain: MariadbServer, dir: string, login = { user: 'root', password: '' }): Promise<{ backupMs: number; prepareMs: number }> {
  const target = join(dir, 'backup');
  await fs.rm(target, { recursive: true, force: true });
  let t0 = performance.now();
  await run(BACKUP, ['--backup', `--target-dir=${target}`, '--host=127.0.0.1', `--port=${plain.port}`, `--user=${login.user}`, `--password=${login.password}`, `--datadir=${plain.datadir}`]);
  const backupMs = performance.now() - t0;
  t0 = performance.now();
  await run(BACKUP, ['--prepare', `--target-dir=${target}`]);
  const prepareMs = performance.now() - t0;
  await fs.rm(target, { recursive: true, force: true });
  return { backupMs, prepareMs };
}
