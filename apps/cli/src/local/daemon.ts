/**
 * Background processes of a local cluster: each is one of the repository's
 * programs (the CLI, a service, the console launcher) started detached, with
 * its output appended to `$STRATA_HOME/logs/<name>.log` and its pid in
 * `$STRATA_HOME/run/<name>.pid`. A pid counts as ours only while /proc says
 * it still runs one of our programs, so a recycled pid is never signalled.
 *
 * Programs run from their bundles (apps/<app>/dist/, `turbo run build` or
 * `./strata`, which rebuilds stale ones before it starts); a program that was
 * never built runs from its TypeScript source under tsx, a few times slower
 * to start.
 *
 * Liveness, waiting for an exit or for readiness and a log's tail are
 * @strata/client/local's (the console starts daemons too); what stays here is
 * the CLI's own: its programs (the CLI itself, the console launcher), a pid
 * check bound to this checkout's path, and errors the CLI prints as they are.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, fchmodSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { daemonLogFile, type StartedDaemon, waitExit, waitReady as waitReadyShared } from '@strata/client/local';
import { StrataError } from '@strata/core';

/** The directory holding apps/cli: this module runs from apps/cli/src/local (source) or apps/cli/dist (bundle). */
function findRepoRoot(from: string): string {
  for (let dir = from, i = 0; i < 8; i++, dir = dirname(dir)) {
    if (existsSync(join(dir, 'apps', 'cli', 'package.json'))) return dir;
  }
  throw new Error(`no Strata repository above ${from}`);
}

export const REPO_ROOT = findRepoRoot(dirname(fileURLToPath(import.meta.url)));
const TSX_LOADER = join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs');

/** Each program's bundle and the source it is built from (scripts/build.mjs). */
export const PROGRAMS = {
  strata: { bundle: 'apps/cli/dist/strata.mjs', source: 'apps/cli/src/bin.ts' },
  safekeeper: { bundle: 'apps/safekeeper/dist/safekeeper.mjs', source: 'apps/safekeeper/src/bin.ts' },
  pageserver: { bundle: 'apps/pageserver/dist/pageserver.mjs', source: 'apps/pageserver/src/bin.ts' },
  console: { bundle: 'apps/console/dist/launcher.mjs', source: 'apps/console/launcher/bin.ts' },
} as const;
export type Program = keyof typeof PROGRAMS;

/** Node's arguments that run `program`: its bundle (source maps on, for stack traces), else its source under tsx. */
export function programArgv(program: Program): string[] {
  const { bundle, source } = PROGRAMS[program];
  const built = join(REPO_ROOT, bundle);
  return existsSync(built) ? ['--enable-source-maps', built] : ['--import', TSX_LOADER, join(REPO_ROOT, source)];
}

/** A daemon of the local cluster that could not be started or did not become ready (its log's tail in the message). */
export class DaemonError extends StrataError {
  readonly code = 'DAEMON_FAILED' as const;
  override readonly name = 'DaemonError';
}

function pidFile(home: string, name: string): string {
  return join(home, 'run', `${name}.pid`);
}

/** True when `pid` runs one of this repository's programs (not merely some process that got the number). */
export function isOurProcess(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(`${REPO_ROOT}/apps/`);
  } catch {
    return false;
  }
}

export function daemonPid(home: string, name: string): number | undefined {
  const file = pidFile(home, name);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && isOurProcess(pid) ? pid : undefined;
}

/** The environment every daemon inherits: this process's own (this module hands it on; it reads nothing of it). */
export function inheritedEnv(): NodeJS.ProcessEnv {
  return process.env;
}

/** Starts `program ...args` (default: `strata ...args`) in the background, detached from this process. */
export function startDaemon(home: string, name: string, args: readonly string[], env: Record<string, string> = {}, program: Program = 'strata'): StartedDaemon {
  const log = daemonLogFile(home, name);
  mkdirSync(dirname(log), { recursive: true });
  mkdirSync(join(home, 'run'), { recursive: true });
  const logOffset = existsSync(log) ? statSync(log).size : 0;
  // 0600: a compute prints its connection URL, password included, into its log.
  const fd = openSync(log, 'a', 0o600);
  try {
    fchmodSync(fd, 0o600);
    const argv = programArgv(program);
    writeFileSync(fd, `\n==== ${new Date().toISOString()} ${program} ${args.join(' ')} (node ${argv.join(' ')})\n`);
    const child = spawn(process.execPath, [...argv, ...args], {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...env },
    });
    if (child.pid === undefined) throw new DaemonError(`could not start ${name}`);
    child.unref();
    writeFileSync(pidFile(home, name), `${child.pid}\n`);
    return { pid: child.pid, logFile: log, logOffset };
  } finally {
    closeSync(fd);
  }
}

/** What a daemon wrote to its log since `from`. */
export function logSince(file: string, from: number): string {
  try {
    const size = statSync(file).size;
    if (size <= from) return '';
    const buf = Buffer.alloc(size - from);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buf, 0, buf.length, from);
    } finally {
      closeSync(fd);
    }
    return buf.toString('utf8');
  } catch {
    return '';
  }
}

/** How long a SIGKILLed process gets to disappear from the process table. */
export const KILL_WAIT_MS = 5000;

/** SIGKILL if `pid` is still alive; then wait for it to go. */
export async function killNow(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return; // Gone already.
  }
  await waitExit(pid, KILL_WAIT_MS);
}

/**
 * SIGTERM (each service's clean stop), SIGKILL after `timeoutMs` (`onKill`
 * hears of it first). Returns false if it was not running.
 */
export async function stopDaemon(home: string, name: string, timeoutMs: number, onKill?: () => void): Promise<boolean> {
  const pid = daemonPid(home, name);
  rmSync(pidFile(home, name), { force: true });
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  if (!(await waitExit(pid, timeoutMs))) {
    onKill?.();
    await killNow(pid);
  }
  return true;
}

/** @strata/client/local's wait for a daemon's readiness, failing with the CLI's DaemonError (printed as it is). */
export function waitReady(what: string, d: StartedDaemon, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  return waitReadyShared(what, d, probe, timeoutMs, (message) => new DaemonError(message));
}
