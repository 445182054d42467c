/**
 * Debian's stock `mariadbd` as a child process of the compute: the command
 * line that suits shipping, readiness, clean shutdown and kill.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { loadComputeEnv } from './env.js';
import { ComputeError } from './errors.js';

export const MARIADBD_PATH = loadComputeEnv().mariadbdPath;
/**
 * util-linux `setpriv --pdeathsig KILL` execs mariadbd (same pid) with the
 * kernel's parent-death signal set: if the controller dies (kill -9), its
 * mariadbd dies too instead of acknowledging commits nobody ships.
 */
const SETPRIV_PATH = '/usr/bin/setpriv';
const ER_ACCESS_DENIED = 1045;

export interface MariadbdOptions {
  readonly datadir: string;
  /** Socket, pid file and error log go here, outside the datadir (they are not aux files). */
  readonly runDir: string;
  readonly port: number;
  readonly logFileSizeBytes: bigint;
  readonly pageSize: number;
  readonly bufferPoolSize: string;
  readonly readOnly: boolean;
  readonly extraArgs?: readonly string[];
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export function describeExit(s: ExitStatus): string {
  return s.signal ? `killed by ${s.signal}` : `exited with code ${String(s.code)}`;
}

export function mariadbdArgs(o: MariadbdOptions): string[] {
  return [
    '--no-defaults',
    '--user=root',
    `--datadir=${o.datadir}`,
    `--socket=${join(o.runDir, 'mysqld.sock')}`,
    `--pid-file=${join(o.runDir, 'mysqld.pid')}`,
    `--log-error=${join(o.runDir, 'mariadbd.err')}`,
    `--port=${o.port}`,
    '--bind-address=127.0.0.1',
    '--skip-name-resolve',
    '--skip-log-bin',
    // The basebackup's log size: a different one makes mariadbd replace the log, and the shipper reads this file.
    `--innodb-log-file-size=${o.logFileSizeBytes}`,
    `--innodb-page-size=${o.pageSize}`,
    '--innodb-flush-log-at-trx-commit=1',
    // The shipper preads the live log through the page cache. With O_DIRECT log writes (the default) a
    // read racing a write can leave an older version of a block in the page cache, whose garbage tail
    // past that version's end holds stale copies of earlier mtrs with valid CRCs: the shipper would
    // ship them. Buffered log writes keep every read coherent with the last write.
    '--innodb-log-file-buffering=ON',
    `--innodb-buffer-pool-size=${o.bufferPoolSize}`,
    // A dump file would only be an aux file that changes on every stop.
    '--innodb-buffer-pool-dump-at-shutdown=OFF',
    '--innodb-buffer-pool-load-at-startup=OFF',
    // Grants and other system tables are Aria tables, whose changes stay in Aria's page cache until its
    // next checkpoint (30 s by default): the aux capture only sees them on disk. Checkpoint every second.
    '--aria-checkpoint-interval=1',
    ...(o.readOnly ? ['--read-only', '--innodb-read-only'] : []),
    ...(o.extraArgs ?? []),
  ];
}

export class Mariadbd {
  readonly child: ChildProcess;
  readonly exited: Promise<ExitStatus>;
  private exitStatus: ExitStatus | undefined;
  private readonly logStart: number;

  constructor(readonly opts: MariadbdOptions) {
    const errLog = join(opts.runDir, 'mariadbd.err');
    let start = 0;
    try {
      start = statSync(errLog).size;
    } catch {
      // a fresh log
    }
    this.logStart = start;
    const fd = openSync(errLog, 'a');
    try {
      const args = mariadbdArgs(opts);
      this.child = existsSync(SETPRIV_PATH)
        ? spawn(SETPRIV_PATH, ['--pdeathsig', 'KILL', '--', MARIADBD_PATH, ...args], { stdio: ['ignore', fd, fd] })
        : spawn(MARIADBD_PATH, args, { stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      });
      this.child.once('error', () => {
        this.exitStatus = { code: 127, signal: null };
        resolve(this.exitStatus);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  get status(): ExitStatus | undefined {
    return this.exitStatus;
  }

  errorLogTail(lines = 30): string {
    try {
      const text = readFileSync(join(this.opts.runDir, 'mariadbd.err')).subarray(this.logStart).toString('utf8');
      return text.trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Resolves once the server answers a login over TCP; throws with the error log if mariadbd exits first. */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exitStatus) {
        throw new ComputeError('MariadbExited', `mariadbd ${describeExit(this.exitStatus)} during startup:\n${this.errorLogTail()}`);
      }
      try {
        const c = await mysql.createConnection({ host: '127.0.0.1', port: this.opts.port, user: 'root', password: '', connectTimeout: 2000 });
        try {
          await c.query('SELECT 1');
        } finally {
          c.destroy();
        }
        return;
      } catch (e) {
        // Access denied is an answer: the server takes connections (root has a password the controller need not know).
        if (e instanceof Error && 'errno' in e && e.errno === ER_ACCESS_DENIED) return;
      }
      if (Date.now() > deadline) {
        this.kill();
        throw new ComputeError('ComputeStartFailed', `mariadbd did not accept connections within ${timeoutMs} ms:\n${this.errorLogTail()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGTERM is mariadbd's clean shutdown (same as SQL SHUTDOWN); SIGKILL if it takes longer than `timeoutMs`. */
  async shutdown(timeoutMs: number): Promise<ExitStatus> {
    if (!this.running) return this.exitStatus!;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.kill(), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(t);
    }
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}
