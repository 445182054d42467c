/**
 * Named branches of the local cluster. The page server holds the timelines
 * (O(1) branch at an LSN); the names and the tree live in cluster.json. The
 * work is @strata/client/local's, which the console runs too; the CLI adds
 * the branch's endpoint (its scale-to-zero proxy port).
 */
import { type BranchPoint, createLocalBranch, deleteLocalBranch } from '@strata/client/local';
import { ensureEndpoints } from './endpoints.js';
import { type Branch, type ClusterState, strataHome } from './state.js';

export type { BranchPoint };

/** `state` is the registry the caller read; the change itself re-reads it under the registry's lock. */
export async function createBranch(_state: ClusterState, from: string, name: string, point: BranchPoint, home = strataHome()): Promise<Branch> {
  const b = await createLocalBranch(home, from, name, point);
  // Its stable address: the running endpoint proxy serves it within a second.
  await ensureEndpoints(home);
  return { name: b.name, timelineId: b.timelineId, parent: b.parent, lsn: b.lsn, createdAt: b.createdAt };
}

export function branchLine(b: Branch): string {
  return `branch ${b.name} timeline ${b.timelineId} parent ${b.parent ?? '-'} lsn ${b.lsn ?? '-'}`;
}

/** Deletes a branch with no children and no running compute: its timeline on the page server and the safekeepers, its name and its endpoint. */
export async function deleteBranch(_state: ClusterState, name: string, home = strataHome()): Promise<void> {
  await deleteLocalBranch(home, name);
}
