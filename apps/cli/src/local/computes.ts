/**
 * Computes of the local cluster: `compute start --branch NAME` runs the
 * compute controller in the background (@strata/client/local, the console's
 * start too: the controller program with the cluster's addresses, a tenant
 * token and the database account) and returns once it takes queries.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isMariadbd, startLocalCompute as startSharedCompute, waitExit } from '@strata/client/local';
import { readStateFile, type ComputeStateFile } from '@strata/compute';
import { freePort } from '../commands/compute.js';
import { daemonPid, inheritedEnv, isOurProcess, killNow, REPO_ROOT } from './daemon.js';
import { type ClusterState, strataHome } from './state.js';

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

/** A free loopback port that no process of the cluster is registered on (it may be stopped now). */
export async function unusedPort(state: ClusterState): Promise<number> {
  const taken = new Set([...state.safekeepers.map((s) => s.port), state.pageserver.port, ...Object.values(state.computePorts), ...(state.consolePort === null ? [] : [state.consolePort]), ...Object.values(state.endpoints).map((e) => e.port)]);
  let port = await freePort();
  while (taken.has(port)) port = await freePort();
  return port;
}

export interface LocalComputeRequest {
  readonly branch: string;
  readonly readOnly: boolean;
  /** Read-only: the LSN to serve (default: the branch's last ingested). */
  readonly lsn?: bigint | undefined;
  readonly timeoutMs?: number;
}

/**
 * Starts the branch's compute (or answers with the one running under that
 * name): @strata/client/local runs the compute controller program detached,
 * the same start as the console's.
 */
export async function startLocalCompute(_state: ClusterState, req: LocalComputeRequest, home = strataHome()): Promise<ComputeStateFile> {
  const r = await startSharedCompute(home, REPO_ROOT, { branch: req.branch, readOnly: req.readOnly, lsn: req.lsn, timeoutMs: req.timeoutMs, env: inheritedEnv() });
  return r.compute;
}

/** `compute stop`: the user asked for this one compute, so its clean stop may take long. */
const COMPUTE_STOP_ONE_MS = 180_000;

export interface ComputeStopped {
  readonly name: string;
  /** False when the clean stop did not finish within the grace period and the compute was killed. */
  readonly clean: boolean;
  readonly ms: number;
}

/**
 * SIGTERM to a compute's controller: its clean stop (mariadbd shutdown, final
 * ship, commit). After `graceMs`, SIGKILL mariadbd and then the controller.
 * Killing loses nothing acknowledged: a COMMIT returns only once the quorum
 * has its redo; the next start begins at the quorum's committed end.
 */
export async function stopCompute(c: Pick<ComputeStateFile, 'name' | 'controllerPid' | 'mariadbdPid'>, graceMs: number): Promise<ComputeStopped> {
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  try {
    process.kill(c.controllerPid, 'SIGTERM');
  } catch {
    return { name: c.name, clean: true, ms: ms() };
  }
  if (await waitExit(c.controllerPid, graceMs)) return { name: c.name, clean: true, ms: ms() };
  if (isMariadbd(c.mariadbdPid)) await killNow(c.mariadbdPid);
  await killNow(c.controllerPid);
  return { name: c.name, clean: false, ms: ms() };
}

/** Clean stop (shutdown, final ship, commit) of a local compute by name; SIGKILL after 3 minutes. */
export async function stopLocalCompute(name: string, home = strataHome()): Promise<boolean> {
  const state = runningComputes(home).find((c) => c.name === name);
  const pid = daemonPid(home, daemonName(name)) ?? state?.controllerPid;
  if (pid === undefined) return false;
  await stopCompute({ name, controllerPid: pid, mariadbdPid: state?.mariadbdPid ?? 0 }, COMPUTE_STOP_ONE_MS);
  return true;
}
