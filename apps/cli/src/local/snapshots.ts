/**
 * Snapshots of the local cluster: named, GC-protected (timeline, LSN) pairs
 * kept by the page server; restore is a branch at the snapshot.
 */
import { z } from 'zod';
import { PageserverCommandError } from '../commands/pageserver-client.js';
import { authHeaders } from '../commands/safekeeper-endpoints.js';
import { adminToken, type Branch, type ClusterState, findBranch, LocalClusterError, BRANCH_NAME, readCluster, strataHome, writeCluster } from './state.js';

const snapshotReply = z.object({ name: z.string(), timelineId: z.string(), lsn: z.string(), createdAt: z.string() });
export type Snapshot = z.infer<typeof snapshotReply>;

async function call<T>(state: ClusterState, path: string, schema: z.ZodType<T>, what: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${state.pageserver.url}/v1/tenants/${state.tenantId}${path}`, {
    ...init,
    headers: { ...authHeaders(adminToken(state)), ...(init.body ? { 'content-type': 'application/json' } : {}) },
  }).catch((e: unknown) => {
    throw new PageserverCommandError(`${what}: cannot reach the page server at ${state.pageserver.url}: ${e instanceof Error ? e.message : String(e)}`);
  });
  const text = await res.text();
  if (!res.ok) throw new PageserverCommandError(`${what}: HTTP ${res.status} ${text.slice(0, 500)}`);
  return schema.parse(JSON.parse(text));
}

export function branchOfTimeline(state: ClusterState, timelineId: string): string {
  return state.branches.find((b) => b.timelineId === timelineId)?.name ?? timelineId;
}

export function createSnapshot(state: ClusterState, branch: string, name: string, lsn?: bigint): Promise<Snapshot> {
  const b = findBranch(state, branch);
  const body = { name, timelineId: b.timelineId, ...(lsn !== undefined ? { lsn: lsn.toString() } : {}) };
  return call(state, '/snapshots', snapshotReply, `snapshot create ${name}`, { method: 'POST', body: JSON.stringify(body) });
}

export async function listSnapshots(state: ClusterState): Promise<Snapshot[]> {
  return (await call(state, '/snapshots', z.object({ snapshots: z.array(snapshotReply) }), 'snapshot list')).snapshots;
}

export async function deleteSnapshot(state: ClusterState, name: string): Promise<void> {
  await call(state, `/snapshots/${encodeURIComponent(name)}`, z.unknown(), `snapshot delete ${name}`, { method: 'DELETE' });
}

/** A new branch at the snapshot's (timeline, LSN). */
export async function restoreSnapshot(state: ClusterState, name: string, newBranch: string, home = strataHome()): Promise<Branch> {
  if (!BRANCH_NAME.test(newBranch)) throw new LocalClusterError(`"${newBranch}" is not a branch name`);
  if (state.branches.some((b) => b.name === newBranch)) throw new LocalClusterError(`a branch named "${newBranch}" exists already`);
  const snap = await call(state, `/snapshots/${encodeURIComponent(name)}`, snapshotReply, `snapshot ${name}`);
  const t = await call(state, `/snapshots/${encodeURIComponent(name)}/restore`, z.object({ timelineId: z.string() }).passthrough(), `snapshot restore ${name}`, {
    method: 'POST',
    body: '{}',
  });
  const branch: Branch = { name: newBranch, timelineId: t.timelineId, parent: branchOfTimeline(state, snap.timelineId), lsn: snap.lsn, createdAt: new Date().toISOString() };
  const now = readCluster(home) ?? state;
  writeCluster({ ...now, branches: [...now.branches, branch] }, home);
  return branch;
}
