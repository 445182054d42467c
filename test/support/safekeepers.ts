/**
 * Real safekeeper processes (`./strata safekeeper`) on loopback for
 * integration tests: start, kill -9, restart on the same data directory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './mariadb.js';
import { REPO_ROOT } from './redo-scenario.js';

export interface SafekeeperProcess {
  readonly id: number;
  readonly port: number;
  readonly dataDir: string;
  readonly hostPort: string;
  readonly url: string;
  readonly running: boolean;
  start(): Promise<void>;
  kill9(): Promise<void>;
  stop(): Promise<void>;
  output(): string;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** `extraArgs` go after the required flags, e.g. `--remote-storage file:///...`. */
export async function safekeeper(id: number, baseDir: string, extraArgs: readonly string[] = []): Promise<SafekeeperProcess> {
  const port = await freePort();
  const dataDir = join(baseDir, `sk${id}`);
  await mkdir(dataDir, { recursive: true });
  let child: ChildProcess | undefined;
  let log = '';
  const sk: SafekeeperProcess = {
    id,
    port,
    dataDir,
    hostPort: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      const c = spawn(join(REPO_ROOT, 'strata'), ['safekeeper', '--id', String(id), '--listen', `127.0.0.1:${port}`, '--data', dataDir, ...extraArgs], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = c;
      live.add(c);
      c.once('exit', () => live.delete(c));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`safekeeper ${id} did not start:\n${log}`)), 30_000);
        const onData = (d: Buffer) => {
          log += d.toString();
          if (log.includes('listening on')) {
            clearTimeout(timer);
            resolve();
          }
        };
        c.stdout?.on('data', onData);
        c.stderr?.on('data', (d: Buffer) => {
          log += d.toString();
        });
        c.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`safekeeper ${id} exited with ${code}:\n${log}`));
        });
      });
    },
    async kill9() {
      if (!child || !sk.running) return;
      const c = child;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!child || !sk.running) return;
      const c = child;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    },
    output: () => log,
  };
  return sk;
}

/** GET a timeline's status from one safekeeper. */
export async function timelineStatus(sk: SafekeeperProcess, tenant: string, timeline: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${sk.url}/v1/tenants/${tenant}/timelines/${timeline}`);
  if (!res.ok) throw new Error(`status of ${sk.id}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}
