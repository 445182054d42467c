/**
 * Named branches of a local cluster. The page server holds the timelines
 * (a branch is O(1) at an LSN); the names and the tree live in cluster.json.
 * The CLI's `branch create/delete` and the console both call these.
 */
import { serviceRequest } from '../http.js';
import { branchCreate, deleteTimeline, lsnByTimestamp } from '../pageserver-api.js';
import { runningComputeRecords } from './compute-records.js';
import { LocalClusterError } from './errors.js';
import { BRANCH_NAME, findLocalBranch, type LocalBranch, type LocalClusterState, localAdminToken, localPageserver, requireLocalCluster, updateLocalCluster } from './state.js';

export type BranchPoint = { lsn: bigint } | { at: Date };

function assertNewName(state: LocalClusterState, name: string): void {
  if (!BRANCH_NAME.test(name)) throw new LocalClusterError('invalid', `"${name}" is not a branch name (letters, digits, _ . -; up to 63)`);
  if (state.branches.some((b) => b.name === name)) throw new LocalClusterError('conflict', `a branch named "${name}" exists already`);
}

/** Records a branch whose timeline exists; refused (nothing written) if the name was taken meanwhile. */
export async function recordBranch(home: string, branch: LocalBranch): Promise<LocalBranch> {
  await updateLocalCluster(home, (now) => {
    assertNewName(now, branch.name);
    return { ...now, branches: [...now.branches, branch] };
  });
  return branch;
}

/** A new branch `name` of `from` at an LSN or at a time (the last LSN committed by then). */
export async function createLocalBranch(home: string, from: string, name: string, point: BranchPoint): Promise<LocalBranch> {
  const state = requireLocalCluster(home);
  assertNewName(state, name);
  const parent = findLocalBranch(state, from);
  const ps = localPageserver(state);
  // The page server's LSN ↔ time map (the shipper's commit times) turns a time into the last LSN committed by then.
  const lsn = 'lsn' in point ? point.lsn : await lsnByTimestamp(ps, state.tenantId, parent.timelineId, point.at);
  const r = await branchCreate(ps, state.tenantId, parent.timelineId, lsn);
  const branch: LocalBranch = { name, timelineId: r.timelineId, parent: parent.name, lsn: r.initLsn.toString(), createdAt: new Date().toISOString() };
  try {
    return await recordBranch(home, branch);
  } catch (e) {
    // Another process took the name while the timeline was made: no name leads to it, so it goes.
    await deleteTimeline(ps, state.tenantId, r.timelineId).catch(() => undefined);
    throw e;
  }
}

/** The reasons a branch cannot be deleted now, as the error to throw; undefined if it can. */
export function branchDeleteRefusal(state: LocalClusterState, name: string, home: string): LocalClusterError | undefined {
  const b = findLocalBranch(state, name);
  if (b.parent === null) return new LocalClusterError('conflict', `branch ${name} is the root branch: it cannot be deleted`);
  const children = state.branches.filter((x) => x.parent === name).map((x) => x.name);
  if (children.length) return new LocalClusterError('conflict', `branch ${name} has children: ${children.join(', ')}; delete them first`);
  const computes = runningComputeRecords(home).filter((c) => c.timelineId === b.timelineId);
  if (computes.length) return new LocalClusterError('conflict', `branch ${name} has running computes (${computes.map((c) => c.name).join(', ')}): stop them first`);
  return undefined;
}

/** Deletes a branch with no children and no running compute: its timeline on the page server and the safekeepers, then its name. */
export async function deleteLocalBranch(home: string, name: string): Promise<void> {
  const state = requireLocalCluster(home);
  const refusal = branchDeleteRefusal(state, name, home);
  if (refusal) throw refusal;
  const b = findLocalBranch(state, name);
  const token = localAdminToken(state);
  await deleteTimeline(localPageserver(state), state.tenantId, b.timelineId);
  await Promise.all(
    state.safekeepers.map(async (sk) => {
      const r = await serviceRequest({ url: sk.url, token }, `/v1/tenants/${state.tenantId}/timelines/${b.timelineId}`, { method: 'DELETE' }).catch(() => undefined);
      // A safekeeper that is down or never had the timeline (no compute ever wrote to the branch) is fine: nothing there is reachable by name any more.
      await r?.body?.cancel();
    }),
  );
  await updateLocalCluster(home, (now) => {
    const next = { ...now, branches: now.branches.filter((x) => x.name !== name) };
    // The branch's endpoint (a stable port of the CLI's proxy) has nothing left to serve.
    if (now.endpoints) next.endpoints = Object.fromEntries(Object.entries(now.endpoints).filter(([branch]) => branch !== name));
    return next;
  });
}
