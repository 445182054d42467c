/**
 * The compute controller as a foreground process: start the compute, serve
 * its control port, record it in a state file under its data directory (so
 * `compute list/stop` and the console find it), and wait for its end
 * (SIGTERM or SIGINT = clean stop). One program for every starter: the CLI's
 * `compute start` runs this in-process, and a local cluster's computes (CLI
 * or console) are this module's own bin (`apps/compute/src/bin.ts`).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { jsonLogger, listen, loadVerifier } from '@strata/service-kit';
import { createApp } from './app.js';
import { type Compute, startCompute, writeStateFile } from './compute.js';
import { StrataError } from '@strata/core';
import { clearComputeExit, writeComputeExit } from '@strata/client/local';
import { StartPhases } from './start-phases.js';

/** A free loopback port (never 3306, MariaDB's default, which a stray server may take meanwhile). */
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

export interface ControllerArgs {
  readonly pageserver: string;
  readonly safekeepers?: string | undefined;
  readonly safekeeperDirectory?: string | undefined;
  readonly tenantId: string;
  readonly timelineId: string;
  readonly port?: number | undefined;
  /** Where the compute keeps its datadir and state file; a read-only compute without one gets a temp dir. */
  readonly dataDir?: string | undefined;
  /** The data directory of a read-write compute that was given none (named after the compute). */
  readonly defaultDataDir: (name: string) => string;
  readonly readOnly: boolean;
  readonly lsn?: bigint | undefined;
  readonly name?: string | undefined;
  readonly controlPort?: number | undefined;
  readonly token?: string | undefined;
  readonly dbUser?: string | undefined;
  readonly dbPassword?: string | undefined;
  /** The cluster's public key: the control port then takes only admin tokens it signed. */
  readonly authPublicKeyFile?: string | undefined;
  /** Directories mariadbd's unprivileged user may search (the local cluster's home). */
  readonly openableRoots?: readonly string[] | undefined;
  readonly storage?: 'basebackup' | 'fuse' | 'auto' | undefined;
  readonly lfcMib?: number | undefined;
  readonly bufferPoolMib?: number | undefined;
  readonly out: (line: string) => void;
  readonly log: (line: string) => void;
}

/** A controller asked to do what it cannot (a read-write compute without safekeepers, an LSN on one). */
export class ControllerArgsError extends StrataError {
  readonly code = 'CONTROLLER_ARGS' as const;
  override readonly name = 'ControllerArgsError';
}

/** Runs until the compute stops; returns the process exit code. */
export async function runController(args: ControllerArgs): Promise<number> {
  const phases = new StartPhases();
  // Everything before this line: node's own start and the bundle's load (or, in the CLI, its work before the call).
  phases.record('load', 0, performance.now());
  if (!args.readOnly && !args.safekeepers) throw new ControllerArgsError('compute start needs --safekeepers (or --read-only)');
  if (!args.readOnly && args.lsn !== undefined) throw new ControllerArgsError('--lsn needs --read-only: a read-write compute starts at the end of its timeline (branch at the LSN first)');
  const name = args.name ?? (args.readOnly ? `ro-${args.timelineId.slice(0, 8)}` : args.timelineId.slice(0, 8));
  // Read-only computes are thrown away whole; read-write ones keep their directory (logs, state) between starts.
  const tempDir = args.dataDir === undefined && args.readOnly ? mkdtempSync(join(tmpdir(), 'strata-ro-')) : undefined;
  const dataDir = resolve(args.dataDir ?? tempDir ?? args.defaultDataDir(name));
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
      ...(args.openableRoots ? { openableRoots: args.openableRoots } : {}),
      ...(args.storage ? { storage: args.storage } : {}),
      ...(args.lfcMib !== undefined ? { lfcBytes: args.lfcMib * 2 ** 20 } : {}),
      ...(args.bufferPoolMib !== undefined ? { bufferPoolSize: `${args.bufferPoolMib}M` } : {}),
      log: args.log,
      phases,
    });
  } catch (e) {
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    throw e;
  }
  const controlStartMs = performance.now();
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
  phases.record('control', controlStartMs, performance.now());
  // Starters wait for the state file: from here on the compute is ready for them.
  args.log(phases.line(`compute ${name} start`));
  // A compute of this name runs again: an earlier fencing is no longer news.
  clearComputeExit(dataDir);
  args.log(`control ${control.url} (status /v1/status, metrics /metrics); mariadbd pid ${compute.mariadbdPid}; data ${dataDir}`);
  args.out(`compute ${name} ${compute.connectionUrl}`);
  if (stopRequested) void compute.stop();
  const exit = await compute.done;
  await control.close();
  rmSync(join(dataDir, 'compute.json'), { force: true });
  // A fenced compute vanishes from every list with its compute.json; the console reads this to say why.
  if (exit.error?.code === 'ProposerFencedByTerm' && !tempDir) {
    try {
      writeComputeExit(dataDir, { name, tenantId: args.tenantId, timelineId: args.timelineId, code: exit.error.code, message: exit.error.message, at: new Date().toISOString() });
    } catch (e) {
      // Only news for the console: a full disk must not turn the exit into a crash; the log still says why.
      args.log(`exit record not written: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  if (exit.error) {
    args.log(`compute ${name} failed: ${exit.error.code}: ${exit.error.message}`);
    return 1;
  }
  args.log(`compute ${name} stopped at LSN ${exit.lsn}`);
  return 0;
}
