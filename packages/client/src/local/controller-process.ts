/**
 * The compute controller program of a local cluster (apps/compute/src/bin.ts)
 * started detached, the way every daemon of the cluster is: its output
 * appended to `$STRATA_HOME/logs/compute-<name>.log` (0600: it prints the
 * connection URL with its password), its pid in `run/compute-<name>.pid`, so
 * `strata compute stop`, `strata down` and the console all find it. A path
 * into the repository is not an import: this package still imports no app.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, fchmodSync, mkdirSync, openSync, readSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalClusterError } from './errors.js';

export interface StartedController {
  readonly pid: number;
  readonly logFile: string;
  /** Where this start's output begins in the log (earlier runs are above it). */
  readonly logOffset: number;
}

/** Node's arguments that run the controller: from its TypeScript source under tsx (it has no bundle of its own). */
export function controllerArgv(repoRoot: string): string[] {
  const source = join(repoRoot, 'apps/compute/src/bin.ts');
  const loader = join(repoRoot, 'node_modules/tsx/dist/loader.mjs');
  if (!existsSync(source) || !existsSync(loader)) throw new LocalClusterError('failed', `no compute controller under ${repoRoot} (apps/compute/src/bin.ts and tsx are needed)`);
  return ['--enable-source-maps', '--import', loader, source];
}

/** `baseEnv`: the starter's environment, which the controller inherits (PATH, STRATA_MARIADBD…); `env` is laid over it. */
export function startController(home: string, name: string, repoRoot: string, args: readonly string[], baseEnv: NodeJS.ProcessEnv, env: Record<string, string>): StartedController {
  const daemon = `compute-${name}`;
  const logFile = join(home, 'logs', `${daemon}.log`);
  mkdirSync(join(home, 'logs'), { recursive: true });
  mkdirSync(join(home, 'run'), { recursive: true });
  const logOffset = existsSync(logFile) ? statSync(logFile).size : 0;
  const fd = openSync(logFile, 'a', 0o600);
  try {
    fchmodSync(fd, 0o600);
    const argv = controllerArgv(repoRoot);
    writeFileSync(fd, `\n==== ${new Date().toISOString()} compute controller ${args.join(' ')}\n`);
    const child = spawn(process.execPath, [...argv, ...args], { cwd: repoRoot, detached: true, stdio: ['ignore', fd, fd], env: { ...baseEnv, ...env } });
    if (child.pid === undefined) throw new LocalClusterError('failed', `could not start the controller of compute ${name}`);
    // Detached and unreferenced: the compute outlives the process that started it (the console, a CLI command).
    child.unref();
    writeFileSync(join(home, 'run', `${daemon}.pid`), `${child.pid}\n`);
    return { pid: child.pid, logFile, logOffset };
  } finally {
    closeSync(fd);
  }
}

/** The last lines a controller wrote since `from` (at most 64 KiB): what an error about its start quotes. */
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
