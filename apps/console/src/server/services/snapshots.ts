/** Snapshots: listed from the page server (their source of truth), mutated through the CLI. */
import { z } from 'zod';
import { snapshotList as pageserverSnapshotList } from '@strata/client/pageserver-api';
import { listSnapshots, syncSnapshots } from '@strata/db';
import type { ConsoleDeps } from '../deps';
import { parseBranchLine, parseSnapshotLine, runCli } from './cli';
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
  steps: () => ['take the snapshot (strata snapshot create)'],
  async run(ctx, input) {
    return ctx.step(0, async (detail) => {
      const { stdout } = await runCli(ctx.deps, ['snapshot', 'create', '--branch', input.branch, '--name', input.name, ...(input.lsn ? ['--lsn', input.lsn] : [])]);
      const s = parseSnapshotLine(stdout, 'snapshot create');
      detail(`at LSN ${s.lsn}`);
      return s;
    });
  },
});

export const snapshotRestore = defineOperation({
  kind: 'snapshot.restore',
  input: z.object({ name: snapshotName, branch: branchName }),
  steps: () => ['branch at the snapshot (strata snapshot restore)', 'refresh the registry'],
  async run(ctx, input) {
    const c = await refreshLocalCluster(ctx.deps);
    if (c.registry.branches.some((b) => b.name === input.branch)) throw conflict(`branch ${input.branch} already exists`);
    const b = await ctx.step(0, async (detail) => {
      const { stdout } = await runCli(ctx.deps, ['snapshot', 'restore', input.name, '--name', input.branch]);
      const r = parseBranchLine(stdout, 'snapshot restore');
      detail(`branch ${r.name} at LSN ${r.lsn}`);
      return r;
    });
    await ctx.step(1, () => refreshLocalCluster(ctx.deps));
    return b;
  },
});

export const snapshotDelete = defineOperation({
  kind: 'snapshot.delete',
  input: z.object({ name: snapshotName }),
  steps: () => ['delete the snapshot (strata snapshot delete)'],
  async run(ctx, input) {
    await ctx.step(0, () => runCli(ctx.deps, ['snapshot', 'delete', input.name]));
    return { deleted: input.name };
  },
});
