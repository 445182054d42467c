/**
 * Computes of the local cluster: `compute start --branch NAME` runs the
 * compute controller in the background (a `strata compute start` daemon
 * with the cluster's addresses, a tenant token and the database account)
 * and returns once it takes queries.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readStateFile, type ComputeStateFile } from '@strata/compute';
import { freePort } from '../commands/compute.js';
import { daemonPid, isOurProcess, startDaemon, waitExit, waitReady } from './daemon.js';
import { mintToken } from './keys.js';
import { type ClusterState, findBranch, LocalClusterError, safekeeperHostPorts, strataHome, writeCluster } from './state.js';

export function computesDir(home = strataHome()): string {
  return join(home, 'computes');
}

export function daemonName(computeName: string): string {
  return `compute-${computeName}`;
}

/** The computes recorded under the home whose controller still runs. */
export function runningComputes(home = strataHome()): ComputeStateFile[] {
  const dir = computesDir(home);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((e) => readStateFile(join(dir, e)))
    .filter((s): s is ComputeStateFile => s !== undefined && isOurProcess(s.controllerPid));
}

export interface LocalComputeRequest {
  readonly branch: string;
  readonly readOnly: boolean;
  /** Read-only: the LSN to serve (default: the branch's last ingested). */
  readonly lsn?: bigint | undefined;
  readonly timeoutMs?: number;
}

export async function startLocalCompute(state: ClusterState, req: LocalComputeRequest, home = strataHome()): Promise<ComputeStateFile> {
  const branch = findBranch(state, req.branch);
  const name = req.readOnly ? `${branch.name}-ro-${req.lsn ?? 'head'}` : branch.name;
  const running = runningComputes(home).find((c) => c.name === name);
  if (running) return running;
  if (!req.readOnly) {
    const other = runningComputes(home).find((c) => c.mode === 'read-write' && c.timelineId === branch.timelineId);
    if (other) throw new LocalClusterError(`branch ${branch.name} already has a read-write compute (${other.name})`);
  }
  let port = req.readOnly ? await freePort() : state.computePorts[branch.name];
  if (port === undefined) {
    port = await freePort();
    writeCluster({ ...state, computePorts: { ...state.computePorts, [branch.name]: port } }, home);
  }
  const dataDir = join(computesDir(home), name);
  const args = [
    'compute', 'start',
    '--pageserver', `127.0.0.1:${state.pageserver.port}`,
    '--safekeepers', safekeeperHostPorts(state),
    '--tenant', state.tenantId,
    '--timeline', branch.timelineId,
    '--name', name,
    '--port', String(port),
    '--data', dataDir,
    ...(req.readOnly ? ['--read-only', ...(req.lsn !== undefined ? ['--lsn', req.lsn.toString()] : [])] : []),
  ];
  const token = await mintToken(state.auth.privateKeyFile, { scope: 'tenant', tenantId: state.tenantId });
  const d = startDaemon(home, daemonName(name), args, { STRATA_TOKEN: token, STRATA_DB_USER: state.db.user, STRATA_DB_PASSWORD: state.db.password });
  let started: ComputeStateFile | undefined;
  await waitReady(`compute ${name}`, d, async () => {
    const s = readStateFile(dataDir);
    if (s && s.controllerPid === d.pid) started = s;
    return started !== undefined;
  }, req.timeoutMs ?? 300_000);
  return started!;
}

/** Clean stop (shutdown, final ship, commit) of a local compute by name; SIGKILL after 3 minutes. */
export async function stopLocalCompute(name: string, home = strataHome()): Promise<boolean> {
  const pid = daemonPid(home, daemonName(name)) ?? runningComputes(home).find((c) => c.name === name)?.controllerPid;
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  if (!(await waitExit(pid, 180_000))) {
    process.kill(pid, 'SIGKILL');
    await waitExit(pid, 5000);
  }
  return true;
}
