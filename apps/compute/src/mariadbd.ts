/**
 * Debian's stock `mariadbd` as a child process of the compute: the command
 * line that suits shipping, readiness, clean shutdown and kill.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, fchownSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadComputeEnv } from './env.js';
import { ComputeError } from './errors.js';
import type { OsUser } from './os-user.js';
import { greets } from './server-probe.js';

export const MARIADBD_PATH = loadComputeEnv().mariadbdPath;
/**
 * util-linux `setpriv --pdeathsig KILL` execs mariadbd (same pid) with the
 * kernel's parent-death signal set: if the controller dies (kill -9), its
 * mariadbd dies too instead of acknowledging commits nobody ships.
 */
const SETPRIV_PATH = '/usr/bin/setpriv';

export interface MariadbdOptions {
  readonly datadir: string;
  /** Socket, pid file and error log go here, outside the datadir (they are not aux files). */
  readonly runDir: string;
  readonly port: number;
  readonly logFileSizeBytes: bigint;
  readonly pageSize: number;
  readonly bufferPoolSize: string;
  readonly readOnly: boolean;
  /**
   * The unprivileged account mariadbd is exec'd as (it must own the datadir and
   * run directory: see os-user.ts). Undefined: mariadbd runs as the controller's
   * own user — as root only for the bootstrap's private, socket-only start.
   */
  readonly osUser: OsUser | undefined;
  readonly extraArgs?: readonly string[];
  /**
   * Descriptors of the controller that mariadbd must not inherit (the FUSE
   * device of a FUSE datadir, which libfuse opens without O_CLOEXEC: held by
   * mariadbd, it would keep the mount's connection alive after the
   * controller died, and mariadbd would wait on its own filesystem forever).
   */
  readonly closeFds?: readonly number[];
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export function describeExit(s: ExitStatus): string {
  return s.signal ? `killed by ${s.signal}` : `exited with code ${String(s.code)}`;
}

/**
 * An empty directory mariadbd may read and write files in (`secure_file_priv`):
 * LOAD_FILE, LOAD DATA INFILE and SELECT … INTO OUTFILE reach nothing else.
 * It belongs to the controller's user, mode 0555, so mariadbd cannot even
 * write into it.
 */
export function secureFilesDir(runDir: string): string {
  return join(runDir, 'secure-files');
}

const runningAsRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

export function mariadbdArgs(o: MariadbdOptions): string[] {
  return [
    '--no-defaults',
    // mariadbd refuses to start as root without being told to; with an osUser it is never root (setpriv drops to it first).
    ...(o.osUser === undefined && runningAsRoot() ? ['--user=root'] : []),
    `--datadir=${o.datadir}`,
    `--secure-file-priv=${secureFilesDir(o.runDir)}`,
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

/** (Re)creates the empty secure_file_priv directory, owned by the controller and not writable by mariadbd. */
function prepareSecureFilesDir(runDir: string): void {
  const dir = secureFilesDir(runDir);
  if (existsSync(dir) && readdirSync(dir).length > 0) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  if (runningAsRoot()) chownSync(dir, 0, 0);
  chmodSync(dir, 0o555);
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
    prepareSecureFilesDir(opts.runDir);
    const fd = openSync(errLog, 'a');
    const devNull = opts.closeFds?.length ? openSync('/dev/null', 'r') : undefined;
    try {
      // mariadbd reopens its error log by name, as its own user.
      if (opts.osUser) fchownSync(fd, opts.osUser.uid, opts.osUser.gid);
      const args = mariadbdArgs(opts);
      // setpriv switches user before exec, so the parent-death signal is set for the final user: had mariadbd
      // switched itself (--user), the kernel would clear the signal at its setuid and a killed controller
      // would leave its server running.
      const drop = opts.osUser ? [`--reuid=${opts.osUser.uid}`, `--regid=${opts.osUser.gid}`, '--clear-groups'] : [];
      if (opts.osUser && !existsSync(SETPRIV_PATH)) throw new ComputeError('ComputeStartFailed', `${SETPRIV_PATH} (util-linux) is needed to run mariadbd as ${opts.osUser.name}`);
      // The child's copy of each descriptor to close becomes /dev/null (libuv dup2s it over the inherited one).
      const stdio: Array<'ignore' | number> = ['ignore', fd, fd];
      for (const n of opts.closeFds ?? []) {
        while (stdio.length <= n) stdio.push('ignore');
        stdio[n] = devNull!;
      }
      this.child = existsSync(SETPRIV_PATH)
        ? spawn(SETPRIV_PATH, [...drop, '--pdeathsig', 'KILL', '--', MARIADBD_PATH, ...args], { stdio })
        : spawn(MARIADBD_PATH, args, { stdio });
    } finally {
      if (devNull !== undefined) closeSync(devNull);
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

  /** Resolves once the server greets a connection over TCP (server-probe.ts); throws with the error log if mariadbd exits first. */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exitStatus) {
        throw new ComputeError('MariadbExited', `mariadbd ${describeExit(this.exitStatus)} during startup:\n${this.errorLogTail()}`);
      }
      if (await greets(this.opts.port)) return;
      if (Date.now() > deadline) {
        this.kill();
        throw new ComputeError('ComputeStartFailed', `mariadbd did not accept connections within ${timeoutMs} ms:\n${this.errorLogTail()}`);
      }
      // A refused connect costs next to nothing, and a client woken through a branch endpoint waits for this poll.
      await new Promise((r) => setTimeout(r, 20));
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
