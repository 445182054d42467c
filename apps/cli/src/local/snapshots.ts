/**
 * Snapshots of the local cluster: named, GC-protected (timeline, LSN) pairs
 * kept by the page server; restore is a branch at the snapshot.
 */
import { snapshotCreate, snapshotDelete, snapshotList, type SnapshotInfo } from '@strata/client';
import { localAdminToken, restoreLocalSnapshot } from '@strata/client/local';
import { ensureEndpoints } from './endpoints.js';
import { type Branch, type ClusterState, findBranch, strataHome } from './state.js';

export type Snapshot = SnapshotInfo;

function pageserver(state: ClusterState) {
  return { url: state.pageserver.url, token: localAdminToken(state) };
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

/** A new branch at the snapshot's (timeline, LSN): @strata/client/local's restore (the console's too), plus the branch's endpoint. */
export async function restoreSnapshot(_state: ClusterState, name: string, newBranch: string, home = strataHome()): Promise<Branch> {
  const b = await restoreLocalSnapshot(home, name, newBranch);
  await ensureEndpoints(home);
  return { name: b.name, timelineId: b.timelineId, parent: b.parent, lsn: b.lsn, createdAt: b.createdAt };
}
