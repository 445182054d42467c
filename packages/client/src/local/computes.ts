/**
 * Computes of a local cluster: start one for a branch (read-write at its
 * end, or read-only at an LSN) by running the compute controller program
 * detached on this host, and stop one by signalling its controller. What the
 * CLI's `compute start --branch` does, without the CLI: the console calls
 * this in-process.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { computesDir, type ComputeRecord, isControllerAlive, readComputeRecord, runningComputeRecords } from './compute-records.js';
import { computeNice, daemonPid, isRunning, logTail, startDaemon } from './daemons.js';
import { LocalClusterError } from './errors.js';
import { findLocalBranch, type LocalClusterState, requireLocalCluster, updateLocalCluster, writeSafekeeperDirectory } from './state.js';
import { unusedPort } from './ports.js';
import { signTenantToken } from './tenant-token.js';
import { branchSafekeepers } from './timeline-members.js';

export interface LocalComputeRequest {
  readonly branch: string;
  readonly readOnly: boolean;
  /** Read-only: the LSN to serve (default: the branch's last ingested). */
  readonly lsn?: bigint | undefined;
  readonly timeoutMs?: number | undefined;
  /** The environment the controller inherits (PATH, STRATA_MARIADBD…): the starter's own, read in its env.ts. */
  readonly env: NodeJS.ProcessEnv;
  /** Progress, one line per stage. */
  readonly onLine?: ((line: string) => void) | undefined;
  /**
   * Aborted: the start is given up. A controller already started is stopped (its clean stop) before
   * the abort's reason is thrown, so a cancelled start leaves no compute running.
   */
  readonly signal?: AbortSignal | undefined;
}

export interface LocalComputeStarted {
  readonly compute: ComputeRecord;
  /** True when the compute was already running (nothing was started). */
  readonly alreadyRunning: boolean;
}

/** A compute's name: the branch for its read-write compute, `<branch>-ro-<lsn|head>` for a read-only one. */
export function localComputeName(branch: string, readOnly: boolean, lsn?: bigint): string {
  return readOnly ? `${branch}-ro-${lsn ?? 'head'}` : branch;
}

/** The read-write compute's port of a branch: kept in cluster.json so its URL stays the same across restarts. */
async function branchPort(home: string, state: LocalClusterState, branch: string): Promise<number> {
  const kept = state.computePorts[branch];
  if (kept !== undefined) return kept;
  const fresh = await unusedPort(state);
  const next = await updateLocalCluster(home, (now) => (now.computePorts[branch] !== undefined ? now : { ...now, computePorts: { ...now.computePorts, [branch]: fresh } }));
  return next.computePorts[branch]!;
}

export async function startLocalCompute(home: string, repoRoot: string, req: LocalComputeRequest): Promise<LocalComputeStarted> {
  const state = requireLocalCluster(home);
  const branch = findLocalBranch(state, req.branch);
  const name = localComputeName(branch.name, req.readOnly, req.lsn);
  const running = runningComputeRecords(home);
  const same = running.find((c) => c.name === name);
  if (same) return { compute: same, alreadyRunning: true };
  if (!req.readOnly) {
    const other = running.find((c) => c.mode === 'read-write' && c.timelineId === branch.timelineId);
    if (other) throw new LocalClusterError('conflict', `branch ${branch.name} already has a read-write compute (${other.name})`);
  }
  const port = req.readOnly ? await unusedPort(state) : await branchPort(home, state, branch.name);
  const dataDir = join(computesDir(home), name);
  // A read-only compute never talks to the safekeepers: asking them which ones serve the branch would only add
  // a round trip to its start.
  const safekeepers = req.readOnly ? undefined : await branchSafekeepers(state, branch.name);
  const args = [
    '--pageserver', `127.0.0.1:${state.pageserver.port}`,
    ...(safekeepers === undefined
      ? []
      : [
          '--safekeepers', safekeepers,
          // A membership change may move the branch to any registered node.
          '--safekeeper-directory', `@${writeSafekeeperDirectory(state, home)}`,
        ]),
    '--tenant', state.tenantId,
    '--timeline', branch.timelineId,
    '--name', name,
    '--port', String(port),
    '--data', dataDir,
    // The control port takes the cluster's admin token only.
    '--auth-public-key', state.auth.publicKeyFile,
    // The home's directories may be opened for mariadbd's unprivileged user (search only).
    '--openable-root', home,
    ...(req.readOnly ? ['--read-only', ...(req.lsn !== undefined ? ['--lsn', req.lsn.toString()] : [])] : []),
  ];
  req.onLine?.(`starting compute ${name} of branch ${branch.name} on port ${port}${safekeepers === undefined ? ' (read-only)' : ` (safekeepers ${safekeepers})`}`);
  req.signal?.throwIfAborted();
  const token = signTenantToken(state.auth.privateKeyFile, state.tenantId, Date.now());
  const d = startDaemon({ home, name: `compute-${name}`, repoRoot, program: 'compute', args, baseEnv: req.env, env: { STRATA_HOME: home, STRATA_TOKEN: token, STRATA_DB_USER: state.db.user, STRATA_DB_PASSWORD: state.db.password }, nice: computeNice(req.env) });
  const deadline = Date.now() + (req.timeoutMs ?? 300_000);
  for (;;) {
    if (req.signal?.aborted) {
      req.onLine?.(`compute ${name}: start given up, stopping its controller`);
      await stopLocalCompute(home, name);
      throw req.signal.reason;
    }
    const s = readComputeRecord(dataDir);
    if (s && s.controllerPid === d.pid) {
      req.onLine?.(`compute ${name} takes queries on port ${s.port}`);
      return { compute: s, alreadyRunning: false };
    }
    // Whether the process we just spawned is still there, not whether its command line names a daemon yet:
    // it starts as nice(1) exec'ing node, and a read of /proc/<pid>/cmdline during an exec comes back empty.
    if (!isRunning(d.pid)) throw new LocalClusterError('failed', `compute ${name} exited during start; its log (${d.logFile}):\n${logTail(d.logFile, d.logOffset)}`);
    if (Date.now() > deadline) throw new LocalClusterError('failed', `compute ${name} was not ready within ${req.timeoutMs ?? 300_000} ms; its log (${d.logFile}):\n${logTail(d.logFile, d.logOffset)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface LocalComputeStopped {
  readonly name: string;
  /** False when the clean stop did not finish within the grace period and the compute was killed. */
  readonly clean: boolean;
}

/** True while `pid` runs mariadbd (a compute's record may outlive the server it names). */
export function isMariadbd(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]?.endsWith('mariadbd') ?? false;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isControllerAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

/**
 * SIGTERM to a compute's controller: its clean stop (mariadbd shutdown, final
 * ship, commit). After `graceMs`, SIGKILL mariadbd and then the controller:
 * nothing acknowledged is lost (a COMMIT returns only once the quorum has its
 * redo). Undefined when no compute of that name runs.
 */
export async function stopLocalCompute(home: string, name: string, graceMs = 180_000): Promise<LocalComputeStopped | undefined> {
  const c = runningComputeRecords(home).find((r) => r.name === name);
  // A controller still starting has no record yet; its pid file names it.
  const controllerPid = c?.controllerPid ?? daemonPid(home, `compute-${name}`);
  if (controllerPid === undefined) return undefined;
  try {
    process.kill(controllerPid, 'SIGTERM');
  } catch {
    return { name, clean: true };
  }
  if (await waitGone(controllerPid, graceMs)) return { name, clean: true };
  if (c && isMariadbd(c.mariadbdPid)) process.kill(c.mariadbdPid, 'SIGKILL');
  process.kill(controllerPid, 'SIGKILL');
  await waitGone(controllerPid, 5_000);
  return { name, clean: false };
}
