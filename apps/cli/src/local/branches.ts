/**
 * Named branches of the local cluster. The page server holds the timelines
 * (O(1) branch at an LSN); the names and the tree live in cluster.json.
 */
import { deleteTimeline } from '@strata/client';
import { branchCreate, lsnByTimestamp } from '../commands/pageserver-client.js';
import { authHeaders } from '../commands/safekeeper-endpoints.js';
import { runningComputes } from './computes.js';
import { ensureEndpoints } from './endpoints.js';
import { adminToken, BRANCH_NAME, type Branch, type ClusterState, findBranch, LocalClusterError, readCluster, strataHome, writeCluster } from './state.js';

export type BranchPoint = { lsn: bigint } | { at: Date };

function pageserverTarget(state: ClusterState) {
  return { pageserver: `127.0.0.1:${state.pageserver.port}`, token: adminToken(state) };
}

export async function createBranch(state: ClusterState, from: string, name: string, point: BranchPoint, home = strataHome()): Promise<Branch> {
  if (!BRANCH_NAME.test(name)) throw new LocalClusterError(`"${name}" is not a branch name (letters, digits, _ . -; up to 63)`);
  if (state.branches.some((b) => b.name === name)) throw new LocalClusterError(`a branch named "${name}" exists already`);
  const parent = findBranch(state, from);
  const target = pageserverTarget(state);
  // The page server's LSN ↔ time map (the shipper's commit times) turns a time into the last LSN committed by then.
  const lsn = 'lsn' in point ? point.lsn : await lsnByTimestamp({ ...target, tenantId: state.tenantId, timelineId: parent.timelineId, at: point.at });
  const r = await branchCreate({ ...target, tenantId: state.tenantId, fromTimelineId: parent.timelineId, lsn, newTimelineId: undefined });
  const branch: Branch = { name, timelineId: r.timelineId, parent: parent.name, lsn: r.initLsn.toString(), createdAt: new Date().toISOString() };
  // Re-read: another command may have changed the registry meanwhile.
  const now = readCluster(home) ?? state;
  writeCluster({ ...now, branches: [...now.branches, branch] }, home);
  // Its stable address: the running endpoint proxy serves it within a second.
  await ensureEndpoints(home);
  return branch;
}

export function branchLine(b: Branch): string {
  return `branch ${b.name} timeline ${b.timelineId} parent ${b.parent ?? '-'} lsn ${b.lsn ?? '-'}`;
}

/** Deletes a branch with no children and no running compute: its timeline on the page server and the safekeepers. */
export async function deleteBranch(state: ClusterState, name: string, home = strataHome()): Promise<void> {
  const b = findBranch(state, name);
  if (b.parent === null) throw new LocalClusterError(`branch ${name} is the root branch: it cannot be deleted`);
  const children = state.branches.filter((x) => x.parent === name).map((x) => x.name);
  if (children.length) throw new LocalClusterError(`branch ${name} has child branches (${children.join(', ')}): delete them first`);
  const computes = runningComputes(home).filter((c) => c.timelineId === b.timelineId);
  if (computes.length) throw new LocalClusterError(`branch ${name} has running computes (${computes.map((c) => c.name).join(', ')}): stop them first`);
  const token = adminToken(state);
  await deleteTimeline({ url: state.pageserver.url, token }, state.tenantId, b.timelineId);
  for (const sk of state.safekeepers) {
    const r = await fetch(`${sk.url}/v1/tenants/${state.tenantId}/timelines/${b.timelineId}`, { method: 'DELETE', headers: authHeaders(token) }).catch(() => undefined);
    // A safekeeper that is down or never had the timeline (no compute ever wrote to the branch) is fine: nothing there is reachable by name any more.
    await r?.body?.cancel();
  }
  const now = readCluster(home) ?? state;
  const endpoints = Object.fromEntries(Object.entries(now.endpoints).filter(([branch]) => branch !== name));
  writeCluster({ ...now, branches: now.branches.filter((x) => x.name !== name), endpoints }, home);
}
