/**
 * The WAL the safekeeper tests push: ≥ 20 MB of real MariaDB redo, the
 * source log's bytes to compare against, and `strata wal push` runs.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import { openLogFile } from '@strata/datadir';
import { readLogCheckpoint } from './mariadb.js';
import { recordWorkload, REPO_ROOT } from './redo-scenario.js';

export interface WalSource {
  /** The recording's temp dir: the caller removes it. */
  readonly dir: string;
  /** The datadir after the workload (clean shutdown). */
  readonly final: string;
  readonly logPath: string;
  /** Where the base's log ends: the pushes start here. */
  readonly fromLsn: bigint;
}

/** Records 4 × 40 000 rows of 250 bytes into one table: ≥ 20 MB of redo after the base. */
export async function recordWalSource(name: string): Promise<WalSource> {
  const rec = await recordWorkload({
    name,
    server: { logFileSize: '256M' },
    setup: async (c) => {
      await c.query('CREATE DATABASE s');
      await c.query('CREATE TABLE s.t (id INT PRIMARY KEY, k INT, v VARCHAR(300), KEY (k)) ENGINE=InnoDB');
    },
    workload: async (c) => {
      for (let i = 0; i < 4; i++) {
        await c.query(`INSERT INTO s.t SELECT ${i} * 100000 + seq, seq % 1000, REPEAT(CHAR(97 + seq % 26), 250) FROM seq_1_to_40000`);
      }
    },
  });
  const fromLsn = (await readLogCheckpoint(rec.base)).endLsn;
  const end = (await readLogCheckpoint(rec.final)).endLsn;
  expect(end - fromLsn).toBeGreaterThan(20n << 20n);
  return { dir: rec.dir, final: rec.final, logPath: join(rec.final, 'ib_logfile0'), fromLsn };
}

/** The source log's bytes `[from, to)`. */
export function sourceBytes(logPath: string, from: bigint, to: bigint): Uint8Array {
  const r = openLogFile(logPath);
  try {
    return r.readAt(from, Number(to - from));
  } finally {
    r.close();
  }
}

export interface PushOptions {
  /** `--safekeepers`: comma-separated HOST:PORTs. */
  readonly safekeepers: string;
  readonly tenant: string;
  readonly timeline: string;
  readonly logPath: string;
  readonly fromLsn: bigint;
  /** Paces the push, so that kills and changes land while it is still running on any machine. */
  readonly mibPerSec: number;
}

/** `strata wal push` in the background; `done` resolves when it exits. */
export function pushInBackground(o: PushOptions): { done: Promise<{ code: number; stdout: string; stderr: string }> } {
  const child = spawn(
    join(REPO_ROOT, 'strata'),
    ['wal', 'push', '--safekeepers', o.safekeepers, '--tenant', o.tenant, '--timeline', o.timeline, '--log', o.logPath, '--from', String(o.fromLsn), '--max-mib-per-sec', String(o.mibPerSec)],
    { cwd: REPO_ROOT },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return { done: new Promise((resolve) => child.once('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }))) };
}

/** The LSN in a push's `committed N` line (0 when there is none). */
export function committedLsn(stdout: string): bigint {
  return BigInt(/^committed (\d+)$/m.exec(stdout)?.[1] ?? '0');
}
