/**
 * Background processes of a local cluster: each is a `strata <command>`
 * started detached, with its output appended to `$STRATA_HOME/logs/<name>.log`
 * and its pid in `$STRATA_HOME/run/<name>.pid`. A pid counts as ours only
 * while /proc says it still runs our CLI, so a recycled pid is never signalled.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const CLI_MAIN = join(REPO_ROOT, 'apps/cli/src/main.ts');
const TSX_LOADER = join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs');

export class DaemonError extends Error {}

export function logFile(home: string, name: string): string {
  return join(home, 'logs', `${name}.log`);
}

function pidFile(home: string, name: string): string {
  return join(home, 'run', `${name}.pid`);
}

/** True when `pid` runs our CLI or another script of this repository (not merely some process that got the number). */
export function isOurProcess(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(CLI_MAIN) || cmdline.includes(`${REPO_ROOT}/apps/`);
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

export interface StartedDaemon {
  readonly pid: number;
  readonly logFile: string;
  /** Where this start's output begins in the log (earlier runs are above it). */
  readonly logOffset: number;
}

/** Starts `strata ...args` (or another TypeScript entry point of the repository) in the background, detached from this process. */
export function startDaemon(home: string, name: string, args: readonly string[], env: Record<string, string> = {}, script = CLI_MAIN): StartedDaemon {
  const log = logFile(home, name);
  mkdirSync(dirname(log), { recursive: true });
  mkdirSync(join(home, 'run'), { recursive: true });
  const logOffset = existsSync(log) ? statSync(log).size : 0;
  const fd = openSync(log, 'a');
  try {
    writeFileSync(fd, `\n==== ${new Date().toISOString()} ${script === CLI_MAIN ? 'strata' : script} ${args.join(' ')}\n`);
    const child = spawn(process.execPath, ['--import', TSX_LOADER, script, ...args], {
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

/** The last `lines` lines a daemon wrote since `from` (at most its last 64 KiB). */
export function logTail(file: string, from = 0, lines = 25): string {
  let size = 0;
  try {
    size = statSync(file).size;
  } catch {
    return '';
  }
  return logSince(file, Math.max(from, size - 64 * 1024)).trimEnd().split('\n').slice(-lines).join('\n');
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** SIGTERM (each service's clean stop), SIGKILL after `timeoutMs`. Returns false if it was not running. */
export async function stopDaemon(home: string, name: string, timeoutMs: number): Promise<boolean> {
  const pid = daemonPid(home, name);
  rmSync(pidFile(home, name), { force: true });
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  if (!(await waitExit(pid, timeoutMs))) {
    process.kill(pid, 'SIGKILL');
    await waitExit(pid, 5000);
  }
  return true;
}

/** Polls `probe` until it returns true; throws with the daemon's log if it dies or times out. */
export async function waitReady(what: string, d: StartedDaemon, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (!isAlive(d.pid)) throw new DaemonError(`${what} exited during start; its log (${d.logFile}):\n${logTail(d.logFile, d.logOffset)}`);
    if (Date.now() > deadline) throw new DaemonError(`${what} was not ready within ${timeoutMs} ms; its log (${d.logFile}):\n${logTail(d.logFile, d.logOffset)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}
