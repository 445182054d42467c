/** Snapshots: listed and mutated on the page server (their source of truth), through @strata/client (restore names its branch in cluster.json). */
import { z } from 'zod';
import { snapshotList as pageserverSnapshotList } from '@strata/client/pageserver-api';
import { listSnapshots, syncSnapshots } from '@strata/db';
import type { ConsoleDeps } from '../deps';
import { createLocalSnapshot, deleteLocalBranch, deleteLocalSnapshot, restoreLocalSnapshot } from '@strata/client/local';
import { viaLocal } from './local-cluster';
import { conflict } from './errors';
import { callClient, TIMEOUT_MS_DEFAULT } from './http';
import { branchName, lsnInput, snapshotName } from './inputs';
import { defineOperation } from './operations';
import { refreshLocalCluster } from './registry';
import { pageserverTarget } from './cluster';

export async function snapshotList(deps: ConsoleDeps) {
  const c = await refreshLocalCluster(deps);
  const snapshots = await callClient(pageserverTarget(c), 'snapshot list', (t) => pageserverSnapshotList(t, c.registry.tenantId, { timeoutMs: TIMEOUT_MS_DEFAULT }));
  await syncSnapshots(
    deps.db,
    c.tenant.id,
    snapshots.map((s) => ({
      name: s.name,
      branchName: c.registry.branches.find((b) => b.timelineId === s.timelineId)?.name ?? s.timelineId,
      lsn: s.lsn,
      createdAt: new Date(s.createdAt),
    })),
  );
  return listSnapshots(deps.db, c.tenant.id);
}

export const snapshotCreate = defineOperation({
  kind: 'snapshot.create',
  input: z.object({ branch: branchName, name: snapshotName, lsn: lsnInput.optional() }),
  steps: () => ['take the snapshot (page server API)'],
  async run(ctx, input) {
    return ctx.step(0, async (detail) => {
      const lsn = input.lsn === undefined ? undefined : BigInt(input.lsn);
      const s = await viaLocal(pageserverTarget(ctx.cluster), 'snapshot create', () => createLocalSnapshot(ctx.deps.home, input.branch, input.name, lsn));
      detail(`at LSN ${s.lsn}`);
      return { name: s.name, branch: input.branch, lsn: s.lsn };
    });
  },
});

export const snapshotRestore = defineOperation({
  kind: 'snapshot.restore',
  input: z.object({ name: snapshotName, branch: branchName }),
  steps: () => ['branch at the snapshot (page server API)', 'refresh the registry'],
  async run(ctx, input) {
    const c = await refreshLocalCluster(ctx.deps);
    if (c.registry.branches.some((b) => b.name === input.branch)) throw conflict(`branch ${input.branch} already exists`);
    const b = await ctx.step(0, async (detail) => {
      const r = await viaLocal(pageserverTarget(c), 'snapshot restore', () => restoreLocalSnapshot(ctx.deps.home, input.name, input.branch));
      const lsn = r.lsn ?? '0';
      detail(`branch ${r.name} at LSN ${lsn}`);
      return { name: r.name, timelineId: r.timelineId, lsn };
    });
    // Cancelled after the branch exists: it goes again (the snapshot itself is untouched).
    ctx.onCancel(`delete branch ${input.branch}`, () => viaLocal(pageserverTarget(c), 'branch delete', () => deleteLocalBranch(ctx.deps.home, input.branch)));
    await ctx.step(1, () => refreshLocalCluster(ctx.deps));
    return b;
  },
});

export const snapshotDelete = defineOperation({
  kind: 'snapshot.delete',
  input: z.object({ name: snapshotName }),
  steps: () => ['delete the snapshot (page server API)'],
  async run(ctx, input) {
    await ctx.step(0, () => viaLocal(pageserverTarget(ctx.cluster), 'snapshot delete', () => deleteLocalSnapshot(ctx.deps.home, input.name)));
    return { deleted: input.name };
  },
});
