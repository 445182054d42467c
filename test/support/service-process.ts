/**
 * A real `./strata <service>` process on loopback for integration tests:
 * start (ready once it prints "listening on"), kill -9, SIGTERM, restart on
 * the same data directory. Every process still running when the test
 * process exits is killed.
 *
 * By default the process is what users run: the launcher and the CLI's
 * esbuild bundle. `runFrom: 'source'` runs the same CLI from its TypeScript
 * source under tsx instead (how every service ran before the build), for
 * benchmarks that compare the two.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './mariadb.js';
import { REPO_ROOT } from './redo-scenario.js';

export interface ServiceProcess {
  readonly port: number;
  readonly dataDir: string;
  readonly hostPort: string;
  readonly url: string;
  readonly running: boolean;
  start(): Promise<void>;
  kill9(): Promise<void>;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
  output(): string;
}

/**
 * `built`: `./strata …`, the launcher, which rebuilds a stale bundle and runs apps/cli/dist/strata.mjs.
 * `source`: `node --import tsx apps/cli/src/bin.ts …`, the launcher's own fallback when a build fails.
 */
export type RunFrom = 'built' | 'source';

const TSX_LOADER = join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs');
const CLI_SOURCE = join(REPO_ROOT, 'apps/cli/src/bin.ts');

/** The program and arguments that run `strata …args`. */
function strataCommand(runFrom: RunFrom, args: readonly string[]): { file: string; args: string[] } {
  return runFrom === 'built' ? { file: join(REPO_ROOT, 'strata'), args: [...args] } : { file: process.execPath, args: ['--import', TSX_LOADER, CLI_SOURCE, ...args] };
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export interface ServiceOptions {
  /** Names the process in errors: "safekeeper 2", "page server". */
  readonly name: string;
  /** Made below the caller's base directory. */
  readonly dataDir: string;
  /** `./strata` arguments, given the port the process listens on. */
  readonly args: (port: number) => readonly string[];
  /** Default `built`. */
  readonly runFrom?: RunFrom;
}

export async function serviceProcess(opts: ServiceOptions): Promise<ServiceProcess> {
  const port = await freePort();
  await mkdir(opts.dataDir, { recursive: true });
  let child: ChildProcess | undefined;
  let log = '';
  const p: ServiceProcess = {
    port,
    dataDir: opts.dataDir,
    hostPort: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      const cmd = strataCommand(opts.runFrom ?? 'built', opts.args(port));
      const c = spawn(cmd.file, cmd.args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      live.add(c);
      c.once('exit', () => live.delete(c));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${opts.name} did not start:\n${log}`)), 30_000);
        c.stdout?.on('data', (d: Buffer) => {
          log += d.toString();
          if (log.includes('listening on')) {
            clearTimeout(timer);
            resolve();
          }
        });
        c.stderr?.on('data', (d: Buffer) => {
          log += d.toString();
        });
        c.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`${opts.name} exited with ${code}:\n${log}`));
        });
      });
    },
    async kill9() {
      if (!child || !p.running) return;
      const c = child;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!child || !p.running) return child?.exitCode ?? null;
      const c = child;
      const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
      c.kill('SIGTERM');
      return exited;
    },
    output: () => log,
  };
  return p;
}
