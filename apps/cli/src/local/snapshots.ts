/**
 * Snapshots of the local cluster: named, GC-protected (timeline, LSN) pairs
 * kept by the page server; restore is a branch at the snapshot.
 */
import { snapshotCreate, snapshotDelete, snapshotGet, snapshotList, snapshotRestore, type SnapshotInfo } from '@strata/client';
import { ensureEndpoints } from './endpoints.js';
import { adminToken, type Branch, type ClusterState, findBranch, LocalClusterError, BRANCH_NAME, readCluster, strataHome, writeCluster } from './state.js';

export type Snapshot = SnapshotInfo;

function pageserver(state: ClusterState) {
  return { url: state.pageserver.url, token: adminToken(state) };
}

export function branchOfTimeline(state: ClusterState, timelineId: string): string {
  return state.branches.find((b) => b.timelineId === timelineId)?.name ?? timelineId;
}

export function createSnapshot(state: ClusterState, branch: string, name: string, lsn?: bigint): Promise<Snapshot> {
  return snapshotCreate(pageserver(state), state.tenantId, name, findBranch(state, branch).timelineId, lsn);
}

export function listSnapshots(state: ClusterState): Promise<Snapshot[]> {
  return snapshotList(pageserver(state), state.tenantId);
}

export function deleteSnapshot(state: ClusterState, name: string): Promise<void> {
  return snapshotDelete(pageserver(state), state.tenantId, name);
}

/** A new branch at the snapshot's (timeline, LSN). */
export async function restoreSnapshot(state: ClusterState, name: string, newBranch: string, home = strataHome()): Promise<Branch> {
  if (!BRANCH_NAME.test(newBranch)) throw new LocalClusterError(`"${newBranch}" is not a branch name`);
  if (state.branches.some((b) => b.name === newBranch)) throw new LocalClusterError(`a branch named "${newBranch}" exists already`);
  const snap = await snapshotGet(pageserver(state), state.tenantId, name);
  const t = await snapshotRestore(pageserver(state), state.tenantId, name);
  const branch: Branch = { name: newBranch, timelineId: t.timelineId, parent: branchOfTimeline(state, snap.timelineId), lsn: snap.lsn, createdAt: new Date().toISOString() };
  const now = readCluster(home) ?? state;
  writeCluster({ ...now, branches: [...now.branches, branch] }, home);
  await ensureEndpoints(home);
  return branch;
}
