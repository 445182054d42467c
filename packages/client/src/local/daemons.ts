/**
 * Background processes of a local cluster, as the CLI and the console both
 * start them: one of the repository's programs run detached, its output
 * appended to `$STRATA_HOME/logs/<name>.log` (0600: a compute prints its
 * connection URL there), its pid in `run/<name>.pid`. A pid counts as ours
 * only while /proc says it runs a program under the repository's `apps/`,
 * so a recycled pid is never signalled. Programs run from their bundles
 * (apps/<app>/dist/, built by `./strata` or `turbo run build`) when there
 * are some, else from their TypeScript source under tsx. A path into the
 * repository is not an import: this package still imports no app.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, fchmodSync, mkdirSync, openSync, readFileSync, readSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LocalClusterError } from './errors.js';

/** The services' programs and the compute controller. */
export const DAEMON_PROGRAMS = {
  safekeeper: { bundle: 'apps/safekeeper/dist/safekeeper.mjs', source: 'apps/safekeeper/src/bin.ts' },
  pageserver: { bundle: 'apps/pageserver/dist/pageserver.mjs', source: 'apps/pageserver/src/bin.ts' },
  compute: { bundle: 'apps/compute/dist/compute.mjs', source: 'apps/compute/src/bin.ts' },
} as const;
export type DaemonProgram = keyof typeof DAEMON_PROGRAMS;

/** Node's arguments that run `program` of the repository at `repoRoot`. */
export function programArgv(repoRoot: string, program: DaemonProgram): string[] {
  const { bundle, source } = DAEMON_PROGRAMS[program];
  // Real paths: `strata down` recognizes a daemon by the repository's own path in its command line.
  const real = (path: string) => (existsSync(path) ? realpathSync(path) : undefined);
  const built = real(join(repoRoot, bundle));
  if (built !== undefined) return ['--enable-source-maps', built];
  const entry = real(join(repoRoot, source));
  const loader = real(join(repoRoot, 'node_modules/tsx/dist/loader.mjs'));
  if (entry === undefined || loader === undefined) throw new LocalClusterError('failed', `no ${program} program under ${repoRoot} (${source} and tsx are needed)`);
  return ['--enable-source-maps', '--import', loader, entry];
}

export function daemonLogFile(home: string, name: string): string {
  return join(home, 'logs', `${name}.log`);
}

function pidFile(home: string, name: string): string {
  return join(home, 'run', `${name}.pid`);
}

/** True while `pid` runs: not a zombie (detached daemons are reaped by init, which may take a while). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}

/** True while `pid` runs one of the repository's programs (not merely some process that got the number). */
export function isDaemonProcess(pid: number): boolean {
  try {
    return isRunning(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('/apps/');
  } catch {
    return false;
  }
}

export function daemonPid(home: string, name: string): number | undefined {
  const file = pidFile(home, name);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && isDaemonProcess(pid) ? pid : undefined;
}

export interface StartedDaemon {
  readonly pid: number;
  readonly logFile: string;
  /** Where this start's output begins in the log (earlier runs are above it). */
  readonly logOffset: number;
}

export interface DaemonSpec {
  readonly home: string;
  /** `safekeeper-2`, `pageserver`, `compute-main`: names its log and pid files. */
  readonly name: string;
  readonly repoRoot: string;
  readonly program: DaemonProgram;
  readonly args: readonly string[];
  /** The starter's environment, which the daemon inherits (PATH, STRATA_MARIADBD…); `env` is laid over it. */
  readonly baseEnv: NodeJS.ProcessEnv;
  readonly env?: Record<string, string> | undefined;
  /**
   * A nice value (1–19) for the whole process, every thread of it and what it
   * spawns: a compute is started below the storage services it shares the
   * machine with (see COMPUTE_NICE).
   */
  readonly nice?: number | undefined;
}

/**
 * The local cluster's computes run at this nice value (STRATA_COMPUTE_NICE
 * overrides it; 0 turns it off). On one machine the safekeepers and the page
 * server are shared by every compute, and a compute's own load must not starve
 * them: under the soak's load on two cores, the page server's ingest fell
 * behind and its reads waited for a CPU. Separate machines give Neon the same
 * isolation. A nice value only matters when the CPUs are contended.
 */
export const COMPUTE_NICE = 5;

export function computeNice(env: NodeJS.ProcessEnv): number {
  const raw = env['STRATA_COMPUTE_NICE'];
  if (raw === undefined || raw === '') return COMPUTE_NICE;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 19) throw new LocalClusterError('failed', `STRATA_COMPUTE_NICE must be an integer from 0 to 19, got "${raw}"`);
  return n;
}

export function startDaemon(spec: DaemonSpec): StartedDaemon {
  const log = daemonLogFile(spec.home, spec.name);
  mkdirSync(dirname(log), { recursive: true });
  mkdirSync(join(spec.home, 'run'), { recursive: true });
  const logOffset = existsSync(log) ? statSync(log).size : 0;
  const fd = openSync(log, 'a', 0o600);
  try {
    fchmodSync(fd, 0o600);
    const argv = programArgv(spec.repoRoot, spec.program);
    writeFileSync(fd, `\n==== ${new Date().toISOString()} ${spec.program} ${spec.args.join(' ')} (node ${argv.join(' ')})\n`);
    // Through nice(1), which execs node: the value holds for every thread from the first (os.setPriority reaches one thread only).
    const [cmd, cmdArgs] = spec.nice ? ['nice', ['-n', String(spec.nice), process.execPath, ...argv, ...spec.args]] : [process.execPath, [...argv, ...spec.args]];
    const child = spawn(cmd, cmdArgs, { cwd: realpathSync(spec.repoRoot), detached: true, stdio: ['ignore', fd, fd], env: { ...spec.baseEnv, ...spec.env } });
    if (child.pid === undefined) throw new LocalClusterError('failed', `could not start ${spec.name}`);
    // Detached and unreferenced: the daemon outlives the process that started it (the console, a CLI command).
    child.unref();
    writeFileSync(pidFile(spec.home, spec.name), `${child.pid}\n`);
    return { pid: child.pid, logFile: log, logOffset };
  } finally {
    closeSync(fd);
  }
}

/** The last lines a daemon wrote since `from` (at most 64 KiB): what an error about its start quotes. */
export function logTail(file: string, from: number, lines = 25): string {
  try {
    const size = statSync(file).size;
    const start = Math.max(from, size - 64 * 1024);
    if (size <= start) return '';
    const buf = Buffer.alloc(size - start);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buf, 0, buf.length, start);
    } finally {
      closeSync(fd);
    }
    return buf.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Polls `probe` until it returns true; fails with the daemon's log if it dies or runs out of time
 * (`fail` makes the error: a LocalClusterError unless the caller has its own, as the CLI does).
 */
export async function waitReady(what: string, d: StartedDaemon, probe: () => Promise<boolean>, timeoutMs: number, fail: (message: string) => Error = (message) => new LocalClusterError('failed', message)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (!isRunning(d.pid)) throw fail(`${what} exited during start; its log (${d.logFile}):\n${logTail(d.logFile, d.logOffset)}`);
    if (Date.now() > deadline) throw fail(`${what} was not ready within ${timeoutMs} ms; its log (${d.logFile}):\n${logTail(d.logFile, d.logOffset)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function waitExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

/** SIGTERM (each service's clean stop), SIGKILL after `timeoutMs`. False if it was not running. */
export async function stopDaemon(home: string, name: string, timeoutMs: number): Promise<boolean> {
  const pid = daemonPid(home, name);
  rmSync(pidFile(home, name), { force: true });
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  if (!(await waitExit(pid, timeoutMs))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
    await waitExit(pid, 5_000);
  }
  return true;
}
