/**
 * Branch mutations of the local cluster as recorded operations: the page
 * server and safekeeper APIs through @strata/client/local (the same code as
 * the CLI's `branch create/delete`), names kept in cluster.json.
 */
import { z } from 'zod';
import { timelineDetails } from '@strata/client/pageserver-api';
import { type BranchPoint, createLocalBranch, deleteLocalBranch } from '@strata/client/local';
import { listBranches } from '@strata/db';
import type { ConsoleDeps } from '../deps';
import { viaLocal } from './local-cluster';
import { conflict, invalid, notFound } from './errors';
import { defineOperation, type StepContext } from './operations';
import { refreshLocalCluster, type LocalCluster } from './registry';
import { computeNames, stopComputeIfRunning } from './computes';
import { branchName, lsnInput, pastIsoTime } from './inputs';
import { callClient, TIMEOUT_MS_DEFAULT } from './http';
import { pageserverTarget } from './cluster';

const lsn = lsnInput;

export const createBranchInput = z
  .object({
    from: branchName,
    name: branchName,
    lsn: lsn.optional(),
    at: pastIsoTime.optional(),
  })
  .refine((v) => !(v.lsn && v.at), 'give an LSN or a time, not both');

export async function listBranchTree(deps: ConsoleDeps) {
  const c = await refreshLocalCluster(deps);
  const rows = await listBranches(deps.db, c.tenant.id);
  return { cluster: c, branches: rows };
}

function requireBranch(c: LocalCluster, name: string) {
  const b = c.registry.branches.find((x) => x.name === name);
  if (!b) throw notFound(`branch ${name}`);
  return b;
}

/** The head of a branch: the last LSN the page server ingested (what can be branched from now). */
async function headLsn(ctx: StepContext, branch: string): Promise<string> {
  const c = await refreshLocalCluster(ctx.deps);
  const b = requireBranch(c, branch);
  const t = await callClient(pageserverTarget(c), `timeline ${b.timelineId}`, (ps) => timelineDetails(ps, c.registry.tenantId, b.timelineId, { timeoutMs: TIMEOUT_MS_DEFAULT }));
  return t.lastRecordLsn.toString();
}

/**
 * An LSN past the branch's head has no data yet: refused at once, in words, instead of a compute or
 * branch waiting for WAL that never comes and then failing with the CLI's output.
 */
export async function assertLsnNotPastHead(deps: ConsoleDeps, branch: string, lsn: string): Promise<void> {
  const c = await refreshLocalCluster(deps);
  const b = requireBranch(c, branch);
  const t = await callClient(pageserverTarget(c), `timeline ${b.timelineId}`, (ps) => timelineDetails(ps, c.registry.tenantId, b.timelineId, { timeoutMs: TIMEOUT_MS_DEFAULT }));
  if (BigInt(lsn) > t.lastRecordLsn) throw invalid(`LSN ${lsn} is past the head of ${branch} (LSN ${t.lastRecordLsn}): nothing was written there yet`);
}

/** A new branch at head, at an LSN or at a time. */
async function createBranchAt(ctx: StepContext, input: { from: string; name: string; lsn?: string | undefined; at?: string | undefined }, detail: (t: string) => void) {
  let point: BranchPoint;
  if (input.lsn) {
    await assertLsnNotPastHead(ctx.deps, input.from, input.lsn);
    point = { lsn: BigInt(input.lsn) };
  } else if (input.at) point = { at: new Date(input.at) };
  else point = { lsn: BigInt(await headLsn(ctx, input.from)) };
  const c = await refreshLocalCluster(ctx.deps);
  const b = await viaLocal(pageserverTarget(c), 'branch create', () => createLocalBranch(ctx.deps.home, input.from, input.name, point));
  // A created branch always has its branch point (only the root has none).
  const lsn = b.lsn ?? '0';
  detail(`timeline ${b.timelineId} at LSN ${lsn}`);
  return { name: b.name, timelineId: b.timelineId, lsn };
}

/** Deletes a branch's timeline (page server, safekeepers) and its name. */
async function deleteBranchTimeline(ctx: StepContext, name: string) {
  const c = await refreshLocalCluster(ctx.deps);
  await viaLocal(pageserverTarget(c), 'branch delete', () => deleteLocalBranch(ctx.deps.home, name));
}

export const branchCreate = defineOperation({
  kind: 'branch.create',
  input: createBranchInput,
  steps: () => ['create the timeline (page server API)', 'refresh the registry'],
  async run(ctx, input) {
    const c = await refreshLocalCluster(ctx.deps);
    requireBranch(c, input.from);
    if (c.registry.branches.some((b) => b.name === input.name)) throw conflict(`branch ${input.name} already exists`);
    const b = await ctx.step(0, (detail) => createBranchAt(ctx, input, detail));
    // Cancelled after the timeline exists: it goes again, so a cancelled create leaves no branch.
    ctx.onCancel(`delete branch ${input.name}`, () => deleteBranchTimeline(ctx, input.name));
    await ctx.step(1, () => refreshLocalCluster(ctx.deps));
    return b;
  },
});

export const branchDelete = defineOperation({
  kind: 'branch.delete',
  input: z.object({ name: branchName }),
  steps: () => ['check for children', 'stop its computes', 'delete its timeline (page server and safekeeper APIs)', 'refresh the registry'],
  async run(ctx, input) {
    await ctx.step(0, async () => {
      const c = await refreshLocalCluster(ctx.deps);
      const b = requireBranch(c, input.name);
      if (b.parent === null) throw conflict(`branch ${input.name} is the root branch`);
      const children = c.registry.branches.filter((x) => x.parent === input.name).map((x) => x.name);
      if (children.length) throw conflict(`branch ${input.name} has children: ${children.join(', ')}; delete them first`);
    });
    await ctx.step(1, (detail) => stopBranchComputes(ctx, input.name, detail));
    // A deleted timeline cannot come back: from here the delete runs to its end.
    ctx.pointOfNoReturn();
    await ctx.step(2, () => deleteBranchTimeline(ctx, input.name));
    await ctx.step(3, () => refreshLocalCluster(ctx.deps));
    return { deleted: input.name };
  },
});

async function stopBranchComputes(ctx: StepContext, branch: string, detail: (t: string) => void) {
  const names = computeNames(ctx.deps).filter((n) => n === branch || n.startsWith(`${branch}-ro-`));
  for (const n of names) await stopComputeIfRunning(ctx.deps, n);
  detail(names.length ? `stopped ${names.join(', ')}` : 'none running');
}

/**
 * Reset to the parent's head: the branch is re-created from its parent's current head under the
 * same name (its own changes are dropped, as in Neon's "reset from parent").
 */
export const branchReset = defineOperation({
  kind: 'branch.reset',
  input: z.object({ name: branchName }),
  steps: () => ['check the branch', 'stop its computes', 'delete the old timeline', 'branch again from the parent head', 'refresh the registry'],
  async run(ctx, input) {
    const parent = await ctx.step(0, async () => {
      const c = await refreshLocalCluster(ctx.deps);
      const b = requireBranch(c, input.name);
      if (!b.parent) throw invalid(`branch ${input.name} has no parent to reset to`);
      const children = c.registry.branches.filter((x) => x.parent === input.name).map((x) => x.name);
      if (children.length) throw conflict(`branch ${input.name} has children: ${children.join(', ')}`);
      return b.parent;
    });
    await ctx.step(1, (detail) => stopBranchComputes(ctx, input.name, detail));
    // Once the old timeline is deleted, stopping would leave no branch: the reset runs to its end.
    ctx.pointOfNoReturn();
    await ctx.step(2, () => deleteBranchTimeline(ctx, input.name));
    const b = await ctx.step(3, (detail) => createBranchAt(ctx, { from: parent, name: input.name }, detail));
    await ctx.step(4, () => refreshLocalCluster(ctx.deps));
    return b;
  },
});

/**
 * Restore a branch to a point in time, keeping its current state as a backup branch: the backup
 * is branched at the current head first, then the branch is re-created from the backup at the
 * point in time, so nothing of the old state is lost.
 */
export const branchRestore = defineOperation({
  kind: 'branch.restore',
  input: z
    .object({ name: branchName, backupName: branchName, lsn: lsn.optional(), at: pastIsoTime.optional() })
    .refine((v) => (v.lsn === undefined) !== (v.at === undefined), 'give an LSN or a time'),
  steps: () => ['check the branch', 'keep the current state as the backup branch', 'stop its computes', 'delete the old timeline', 'branch from the backup at the point in time', 'refresh the registry'],
  async run(ctx, input) {
    await ctx.step(0, async () => {
      const c = await refreshLocalCluster(ctx.deps);
      requireBranch(c, input.name);
      if (c.registry.branches.some((b) => b.name === input.backupName)) throw conflict(`branch ${input.backupName} already exists`);
      const children = c.registry.branches.filter((x) => x.parent === input.name).map((x) => x.name);
      if (children.length) throw conflict(`branch ${input.name} has children: ${children.join(', ')}`);
    });
    await ctx.step(1, (detail) => createBranchAt(ctx, { from: input.name, name: input.backupName }, detail));
    // Cancelled before the old timeline goes: the backup is dropped again, the branch is as it was.
    ctx.onCancel(`delete backup branch ${input.backupName}`, () => deleteBranchTimeline(ctx, input.backupName));
    await ctx.step(2, (detail) => stopBranchComputes(ctx, input.name, detail));
    // Past this, stopping would leave the branch deleted and not yet re-created.
    ctx.pointOfNoReturn();
    await ctx.step(3, () => deleteBranchTimeline(ctx, input.name));
    const b = await ctx.step(4, (detail) => createBranchAt(ctx, { from: input.backupName, name: input.name, lsn: input.lsn, at: input.at }, detail));
    await ctx.step(5, () => refreshLocalCluster(ctx.deps));
    return { ...b, backup: input.backupName };
  },
});
