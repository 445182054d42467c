/**
 * Computes of the local cluster: `compute start --branch NAME` runs the
 * compute controller in the background (a `strata compute start` daemon
 * with the cluster's addresses, a tenant token and the database account)
 * and returns once it takes queries.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readStateFile, type ComputeStateFile } from '@strata/compute';
import { freePort } from '../commands/compute.js';
import { daemonPid, isOurProcess, killNow, startDaemon, waitExit, waitReady } from './daemon.js';
import { mintToken } from './keys.js';
import { z } from 'zod';
import { authHeaders } from '../commands/safekeeper-endpoints.js';
import { adminToken, type Branch, writeSafekeeperDirectory, type ClusterState, findBranch, LocalClusterError, strataHome, writeCluster } from './state.js';

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

const confReply = z.object({ conf: z.object({ generation: z.number(), members: z.array(z.number()), newMembers: z.array(z.number()).optional() }) }).passthrough();

/** The highest-generation configuration any registered safekeeper holds for a timeline. */
export async function timelineConf(state: ClusterState, timelineId: string): Promise<{ generation: number; members: number[]; newMembers?: number[] | undefined } | undefined> {
  const token = adminToken(state);
  let best: z.infer<typeof confReply>['conf'] | undefined;
  for (const sk of state.safekeepers) {
    const r = await fetch(`${sk.url}/v1/tenants/${state.tenantId}/timelines/${timelineId}`, { headers: authHeaders(token), signal: AbortSignal.timeout(3000) }).catch(() => undefined);
    if (!r?.ok) {
      await r?.body?.cancel();
      continue;
    }
    const p = confReply.safeParse(await r.json());
    if (p.success && (!best || p.data.conf.generation > best.generation)) best = p.data.conf;
  }
  return best;
}

/**
 * The safekeepers a branch's compute talks to: the members of its timeline
 * (both sets during a joint change); for a branch no compute has written to
 * yet, its parent's, so a new branch lands on the same nodes.
 */
export async function branchSafekeepers(state: ClusterState, branchName: string): Promise<string> {
  for (let b: Branch | undefined = findBranch(state, branchName); b; b = b.parent === null ? undefined : findBranch(state, b.parent)) {
    const conf = await timelineConf(state, b.timelineId);
    if (!conf) continue;
    const ids = new Set([...conf.members, ...(conf.newMembers ?? [])]);
    const members = state.safekeepers.filter((s) => ids.has(s.id));
    if (members.length) return members.map((s) => `127.0.0.1:${s.port}`).join(',');
  }
  return state.safekeepers.slice(0, 3).map((s) => `127.0.0.1:${s.port}`).join(',');
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

export async function startLocalCompute(state: ClusterState, req: LocalComputeRequest, home = strataHome()): Promise<ComputeStateFile> {
  const branch = findBranch(state, req.branch);
  const name = req.readOnly ? `${branch.name}-ro-${req.lsn ?? 'head'}` : branch.name;
  const running = runningComputes(home).find((c) => c.name === name);
  if (running) return running;
  if (!req.readOnly) {
    const other = runningComputes(home).find((c) => c.mode === 'read-write' && c.timelineId === branch.timelineId);
    if (other) throw new LocalClusterError(`branch ${branch.name} already has a read-write compute (${other.name})`);
  }
  let port = req.readOnly ? await unusedPort(state) : state.computePorts[branch.name];
  if (port === undefined) {
    port = await unusedPort(state);
    writeCluster({ ...state, computePorts: { ...state.computePorts, [branch.name]: port } }, home);
  }
  const dataDir = join(computesDir(home), name);
  const args = [
    'compute', 'start',
    '--pageserver', `127.0.0.1:${state.pageserver.port}`,
    '--safekeepers', await branchSafekeepers(state, branch.name),
    // A membership change may move the branch to any registered node.
    '--safekeeper-directory', `@${writeSafekeeperDirectory(state, home)}`,
    '--tenant', state.tenantId,
    '--timeline', branch.timelineId,
    '--name', name,
    '--port', String(port),
    '--data', dataDir,
    // The control port takes the cluster's admin token only.
    '--auth-public-key', state.auth.publicKeyFile,
    ...(req.readOnly ? ['--read-only', ...(req.lsn !== undefined ? ['--lsn', req.lsn.toString()] : [])] : []),
  ];
  const token = await mintToken(state.auth.privateKeyFile, { scope: 'tenant', tenantId: state.tenantId });
  // STRATA_HOME: the compute may open its home's directories to mariadbd's unprivileged user (os-user.ts).
  const d = startDaemon(home, daemonName(name), args, { STRATA_HOME: home, STRATA_TOKEN: token, STRATA_DB_USER: state.db.user, STRATA_DB_PASSWORD: state.db.password });
  let started: ComputeStateFile | undefined;
  await waitReady(`compute ${name}`, d, async () => {
    const s = readStateFile(dataDir);
    if (s && s.controllerPid === d.pid) started = s;
    return started !== undefined;
  }, req.timeoutMs ?? 300_000);
  return started!;
}

/** `compute stop`: the user asked for this one compute, so its clean stop may take long. */
const COMPUTE_STOP_ONE_MS = 180_000;

export interface ComputeStopped {
  readonly name: string;
  /** False when the clean stop did not finish within the grace period and the compute was killed. */
  readonly clean: boolean;
  readonly ms: number;
}

/** True while `pid` runs mariadbd (a compute's state file may outlive the server it names). */
function isMariadbd(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]?.endsWith('mariadbd') ?? false;
  } catch {
    return false;
  }
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
