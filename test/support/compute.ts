/**
 * A real compute (`./strata compute start ...`) for integration tests: waits
 * for its `compute NAME mysql://...` line, knows its control URL, stops it
 * with SIGTERM, and kills everything it started if the test process exits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import mysql, { type Connection } from 'mysql2/promise';
import { REPO_ROOT } from './redo-scenario.js';

export interface ComputeProcess {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly controlUrl: string;
  readonly exited: Promise<number | null>;
  readonly running: boolean;
  connect(user?: string, password?: string): Promise<Connection>;
  status(): Promise<ComputeStatusReply>;
  /** SIGTERM (a clean stop); resolves with the exit code. */
  stop(): Promise<number | null>;
  output(): string;
}

export interface ComputeStatusReply {
  state: string;
  mariadbdPid: number;
  startLsn: string;
  term: string | null;
  degradedMembers: { nodeId: number; presence: string }[];
  shipper: { shippedLsn: string; commitLsn: string; lagBytes: string; lagMs: number; commitLagP50Ms: number; commitLagP99Ms: number } | null;
  auxSetsStored: number;
  lastAuxLsn: string | null;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export async function startComputeProcess(args: string[], timeoutMs = 120_000): Promise<ComputeProcess> {
  const c = spawn(join(REPO_ROOT, 'strata'), ['compute', 'start', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(c);
  let log = '';
  let stdout = '';
  const exited = new Promise<number | null>((r) =>
    c.once('exit', (code) => {
      live.delete(c);
      r(code);
    }),
  );
  c.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const ready = await new Promise<{ name: string; url: string; port: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`compute did not start within ${timeoutMs} ms:\n${log}`)), timeoutMs);
    c.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      log += d.toString();
      const m = /^compute (\S+) (mysql:\/\/\w+:\w*@127\.0\.0\.1:(\d+)\/)$/m.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve({ name: m[1]!, url: m[2]!, port: Number(m[3]) });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`compute exited with ${code} before it was ready:\n${log}`));
    });
  });
  const control = /control (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
  if (!control) throw new Error(`no control URL in the compute's output:\n${log}`);
  const controlUrl = control[1]!;
  let code: number | null | undefined;
  void exited.then((x) => (code = x));
  return {
    ...ready,
    controlUrl,
    exited,
    get running() {
      return code === undefined;
    },
    connect: (user = 'root', password = '') => mysql.createConnection({ host: '127.0.0.1', port: ready.port, user, password, supportBigNumbers: true, bigNumberStrings: true }),
    async status() {
      const r = await fetch(`${controlUrl}/v1/status`);
      if (!r.ok) throw new Error(`status: HTTP ${r.status}`);
      return (await r.json()) as ComputeStatusReply;
    },
    async stop() {
      if (code !== undefined) return code;
      c.kill('SIGTERM');
      return exited;
    },
    output: () => log,
  };
}
