/**
 * Snapshots of a local cluster: named, GC-protected (timeline, LSN) pairs
 * kept by the page server; restore is a new named branch at the snapshot.
 */
import { snapshotCreate, snapshotDelete, snapshotGet, snapshotList, snapshotRestore, type SnapshotInfo } from '../pageserver-api.js';
import { recordBranch } from './branches.js';
import { LocalClusterError } from './errors.js';
import { BRANCH_NAME, findLocalBranch, type LocalBranch, type LocalClusterState, localPageserver, requireLocalCluster } from './state.js';

/** The branch name of a timeline, else the timeline id (a branch deleted since). */
export function branchOfTimeline(state: LocalClusterState, timelineId: string): string {
  return state.branches.find((b) => b.timelineId === timelineId)?.name ?? timelineId;
}

export function createLocalSnapshot(home: string, branch: string, name: string, lsn?: bigint): Promise<SnapshotInfo> {
  const state = requireLocalCluster(home);
  return snapshotCreate(localPageserver(state), state.tenantId, name, findLocalBranch(state, branch).timelineId, lsn);
}

export function listLocalSnapshots(home: string): Promise<SnapshotInfo[]> {
  const state = requireLocalCluster(home);
  return snapshotList(localPageserver(state), state.tenantId);
}

export function deleteLocalSnapshot(home: string, name: string): Promise<void> {
  const state = requireLocalCluster(home);
  return snapshotDelete(localPageserver(state), state.tenantId, name);
}

/** A new branch `newBranch` at the snapshot's (timeline, LSN). */
export async function restoreLocalSnapshot(home: string, name: string, newBranch: string): Promise<LocalBranch> {
  const state = requireLocalCluster(home);
  if (!BRANCH_NAME.test(newBranch)) throw new LocalClusterError('invalid', `"${newBranch}" is not a branch name`);
  if (state.branches.some((b) => b.name === newBranch)) throw new LocalClusterError('conflict', `a branch named "${newBranch}" exists already`);
  const ps = localPageserver(state);
  const snap = await snapshotGet(ps, state.tenantId, name);
  const t = await snapshotRestore(ps, state.tenantId, name);
  return recordBranch(home, { name: newBranch, timelineId: t.timelineId, parent: branchOfTimeline(state, snap.timelineId), lsn: snap.lsn, createdAt: new Date().toISOString() });
}
