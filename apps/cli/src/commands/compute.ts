/**
 * `strata compute start|stop|list`: a compute in the foreground (SIGTERM or
 * SIGINT = clean stop), recorded in a state file under its data directory
 * so that `compute list` and `compute stop` find it.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { authHeaders } from '@strata/client';
import { type Compute, ComputeError, createApp, readStateFile, startCompute, writeStateFile } from '@strata/compute';
import { jsonLogger, listen, loadVerifier } from '@strata/service-kit';
import { isAlive } from '../local/daemon.js';
import { strataHome } from '../local/state.js';
import { StrataError } from '@strata/core';

export class ComputeCommandError extends StrataError {
  readonly code = 'COMPUTE_COMMAND_FAILED' as const;
  override readonly name = 'ComputeCommandError';
}

function computesDir(): string {
  return join(strataHome(), 'computes');
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = a !== null && typeof a === 'object' ? a.port : 0;
      s.close(() => (port > 0 && port !== 3306 ? resolvePort(port) : reject(new Error('no free port'))));
    });
  });
}

export interface ComputeStartArgs {
  readonly pageserver: string;
  readonly safekeepers?: string | undefined;
  readonly safekeeperDirectory?: string | undefined;
  readonly tenantId: string;
  readonly timelineId: string;
  readonly port?: number | undefined;
  readonly dataDir?: string | undefined;
  readonly readOnly: boolean;
  readonly lsn?: bigint | undefined;
  readonly name?: string | undefined;
  readonly controlPort?: number | undefined;
  readonly token?: string | undefined;
  readonly dbUser?: string | undefined;
  readonly dbPassword?: string | undefined;
  /** The cluster's public key: the control port then takes only admin tokens it signed. */
  readonly authPublicKeyFile?: string | undefined;
  /** basebackup, fuse or auto (default: the compute's own default). */
  readonly storage?: 'basebackup' | 'fuse' | 'auto' | undefined;
  /** The FUSE compute's local file cache, MiB (default: the compute's, 256). */
  readonly lfcMib?: number | undefined;
  /** InnoDB's buffer pool, MiB (default: the compute's). */
  readonly bufferPoolMib?: number | undefined;
  readonly out: (line: string) => void;
  readonly log: (line: string) => void;
}

/** Runs until the compute stops; returns the process exit code. */
export async function computeStart(args: ComputeStartArgs): Promise<number> {
  if (!args.readOnly && !args.safekeepers) throw new ComputeCommandError('compute start needs --safekeepers (or --read-only)');
  if (!args.readOnly && args.lsn !== undefined) throw new ComputeCommandError('--lsn needs --read-only: a read-write compute starts at the end of its timeline (branch at the LSN first)');
  const name = args.name ?? (args.readOnly ? `ro-${args.timelineId.slice(0, 8)}` : args.timelineId.slice(0, 8));
  // Read-only computes are thrown away whole; read-write ones keep their directory (logs, state) between starts.
  const tempDir = args.dataDir === undefined && args.readOnly ? mkdtempSync(join(tmpdir(), 'strata-ro-')) : undefined;
  const dataDir = resolve(args.dataDir ?? tempDir ?? join(computesDir(), name));
  mkdirSync(dataDir, { recursive: true });
  const port = args.port ?? (await freePort());
  // Loaded before anything starts: a bad key file must not leave a database running behind an open port.
  const verifier = await loadVerifier({ publicKeyFile: args.authPublicKeyFile });
  if (!verifier) args.log('control port without auth (no --auth-public-key): loopback only; browser requests are still refused');

  let stopRequested = false;
  let compute: Compute | undefined;
  const requestStop = (): void => {
    stopRequested = true;
    void compute?.stop();
  };
  process.once('SIGTERM', requestStop);
  process.once('SIGINT', requestStop);
  try {
    compute = await startCompute({
      tenantId: args.tenantId,
      timelineId: args.timelineId,
      pageserver: args.pageserver,
      ...(args.safekeepers ? { safekeepers: args.safekeepers } : {}),
      ...(args.safekeeperDirectory
        ? { safekeeperDirectory: args.safekeeperDirectory.startsWith('@') ? { file: resolve(args.safekeeperDirectory.slice(1)) } : args.safekeeperDirectory.split(',') }
        : {}),
      dataDir,
      port,
      readOnly: args.readOnly,
      ...(args.lsn !== undefined ? { lsn: args.lsn } : {}),
      name,
      ...(args.token ? { token: args.token } : {}),
      ...(args.dbUser ? { dbUser: args.dbUser } : {}),
      ...(args.dbPassword ? { dbPassword: args.dbPassword } : {}),
      // The home's directories may be opened for mariadbd's unprivileged user (search only).
      openableRoots: [strataHome()],
      ...(args.storage ? { storage: args.storage } : {}),
      ...(args.lfcMib !== undefined ? { lfcBytes: args.lfcMib * 2 ** 20 } : {}),
      ...(args.bufferPoolMib !== undefined ? { bufferPoolSize: `${args.bufferPoolMib}M` } : {}),
      log: args.log,
    });
  } catch (e) {
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    throw e;
  }
  const control = await listen(createApp({ compute, onStop: requestStop, verifier, log: jsonLogger((line) => args.log(line.trimEnd())) }).fetch, { host: '127.0.0.1', port: args.controlPort ?? 0 });
  writeStateFile(dataDir, {
    name,
    controllerPid: process.pid,
    mariadbdPid: compute.mariadbdPid,
    port,
    mode: args.readOnly ? 'read-only' : 'read-write',
    tenantId: args.tenantId,
    timelineId: args.timelineId,
    startLsn: compute.startLsn.toString(),
    connectionUrl: compute.connectionUrl,
    controlUrl: control.url,
  });
  args.log(`control ${control.url} (status /v1/status, metrics /metrics); mariadbd pid ${compute.mariadbdPid}; data ${dataDir}`);
  args.out(`compute ${name} ${compute.connectionUrl}`);
  if (stopRequested) void compute.stop();
  const exit = await compute.done;
  await control.close();
  rmSync(join(dataDir, 'compute.json'), { force: true });
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  if (exit.error) {
    args.log(`compute ${name} failed: ${exit.error.code}: ${exit.error.message}`);
    return 1;
  }
  args.log(`compute ${name} stopped at LSN ${exit.lsn}`);
  return 0;
}


/** One line per compute recorded under STRATA_HOME: name, timeline, port, pids, shipper lag. */
export async function computeList(out: (line: string) => void, branchOf: (timelineId: string) => string | undefined = () => undefined, token?: string): Promise<void> {
  const dir = computesDir();
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir).sort()) {
    const s = readStateFile(join(dir, entry));
    if (!s || !isAlive(s.controllerPid)) continue;
    let lag = '-';
    if (s.controlUrl) {
      const r = await fetch(`${s.controlUrl}/v1/status`, { headers: authHeaders(token), signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      const body = r?.ok ? ((await r.json()) as { shipper?: { lagBytes?: string; lagMs?: number } | null }) : undefined;
      if (body?.shipper) lag = `${body.shipper.lagBytes ?? '?'}B/${body.shipper.lagMs ?? '?'}ms`;
    }
    out(`compute ${s.name} branch ${branchOf(s.timelineId) ?? '-'} timeline ${s.timelineId} ${s.mode} port ${s.port} pid ${s.controllerPid} mariadbd ${s.mariadbdPid} lag ${lag} ${s.connectionUrl}`);
  }
}

/** SIGTERM to a compute recorded under STRATA_HOME, then wait for it to finish its clean stop. */
export async function computeStop(name: string, timeoutMs = 180_000): Promise<void> {
  const s = readStateFile(join(computesDir(), name));
  if (!s || !isAlive(s.controllerPid)) throw new ComputeCommandError(`no running compute named ${name} under ${computesDir()}`);
  process.kill(s.controllerPid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (isAlive(s.controllerPid)) {
    if (Date.now() > deadline) throw new ComputeCommandError(`compute ${name} (pid ${s.controllerPid}) did not stop within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export { ComputeError };
