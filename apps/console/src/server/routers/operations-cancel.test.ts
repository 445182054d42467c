/**
 * Cancel of a long operation against a real local cluster (`./strata up`) and a real Postgres
 * (issue 14's "progress and cancel"): a cancelled compute start stops the controller it had
 * started and ends `cancelled`, its step says so; a cancelled branch create leaves no branch;
 * an ended operation, a viewer, or another console's operation cannot be cancelled.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createOperation, getOperation, markOperationRunning } from '@strata/db';
import { daemonPid, isControllerAlive, runningComputeRecords } from '@strata/client/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../../../../../test/support/until';
import { adminAndViewer, createHarness, type Harness } from '../testing/harness';

describe('[OPERATIONS][CANCEL] a running operation stops at a safe point and leaves nothing half made', () => {
  let h: Harness;
  let admin: string;
  let viewer: string;

  beforeAll(async () => {
    h = await createHarness({ cluster: true });
    ({ admin, viewer } = await adminAndViewer(h));
  });
  afterAll(() => h?.close());

  it('[COMPUTE START] cancelled while its controller starts: the controller is stopped, the operation and its step are cancelled', async () => {
    const op = await h.caller(admin).computes.start({ branch: 'main', readOnly: true });
    // Cancel once the controller was spawned (the step's progress line names it), well before it takes queries.
    await until('the compute controller to be spawned', async () => (await getOperation(h.deps.db, op.id)).steps[0]?.detail?.startsWith('starting compute') ?? false, 60_000);
    const pid = daemonPid(h.home, 'compute-main-ro-head');
    expect(pid).toBeDefined();
    await expect(h.caller(viewer).operations.cancel({ id: op.id })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const asked = await h.caller(admin).operations.cancel({ id: op.id });
    expect(['scheduled', 'running']).toContain(asked.status);
    await h.deps.background.idle();

    const done = await h.caller(viewer).operations.get({ id: op.id });
    expect(done).toMatchObject({ status: 'cancelled', errorCode: 'CANCELLED', retryable: false });
    expect(done.errorMessage).toMatch(/^cancelled by admin/);
    expect(done.steps.map((s) => s.status)).toEqual(['cancelled', 'scheduled']);
    expect(done.steps[0]?.detail).toBe('cancelled by admin');
    // Nothing half made: the controller it started is gone, and no compute of that name runs.
    expect(isControllerAlive(pid!)).toBe(false);
    expect(runningComputeRecords(h.home).map((c) => c.name)).not.toContain('main-ro-head');
    expect((await h.caller(admin).computes.list()).find((c) => c.name === 'main-ro-head' && c.state === 'running')).toBeUndefined();
    // Ended: a second cancel is refused in words.
    await expect(h.caller(admin).operations.cancel({ id: op.id })).rejects.toMatchObject({ code: 'CONFLICT', message: `operation ${op.id} is cancelled; only a scheduled or running operation can be cancelled` });
  });

  it('[BRANCH CREATE] cancelled as it starts: it ends cancelled and no branch of that name exists, on the page server or in the registry', async () => {
    const name = `cancelled-${Date.now().toString(36)}`;
    const timelines = async () => (await h.caller(admin).overview.get()).timelines.length;
    const before = await timelines();
    const op = await h.caller(admin).branches.create({ from: 'main', name });
    await h.caller(admin).operations.cancel({ id: op.id });
    await h.deps.background.idle();
    const done = await h.caller(admin).operations.get({ id: op.id });
    expect(done.status).toBe('cancelled');
    // Whether the cancel came before the create or after it (then undone: "delete branch …"), the branch is not there.
    const registry = JSON.parse(readFileSync(join(h.home, 'cluster.json'), 'utf8')) as { branches: { name: string }[] };
    expect(registry.branches.map((b) => b.name)).not.toContain(name);
    expect((await h.caller(admin).branches.list()).map((b) => b.name)).not.toContain(name);
    // No orphan timeline on the page server either.
    expect(await timelines()).toBe(before);
  });

  it('[BRANCH RESTORE] cancelled after its backup branch was made, before the old timeline goes: the backup is deleted again, the branch stays', async () => {
    const name = `restore-${Date.now().toString(36)}`;
    const backupName = `${name}-bak`;
    await h.caller(admin).branches.create({ from: 'main', name });
    await h.deps.background.idle();
    // A compute on the branch makes "stop its computes" (the step before the point of no return) take seconds.
    await h.caller(admin).computes.start({ branch: name, readOnly: false });
    await h.deps.background.idle();
    const at = (await h.caller(admin).branches.list()).find((b) => b.name === name)?.lsn;
    expect(at).toBeTruthy();

    const op = await h.caller(admin).branches.restore({ name, backupName, lsn: at! });
    await until('the backup branch made and its computes stopping', async () => (await getOperation(h.deps.db, op.id)).steps[2]?.status === 'running', 60_000);
    await h.caller(admin).operations.cancel({ id: op.id });
    await h.deps.background.idle();

    const done = await h.caller(admin).operations.get({ id: op.id });
    expect(done).toMatchObject({ status: 'cancelled', errorMessage: `cancelled by admin; undone: delete backup branch ${backupName}` });
    // The step in flight ended; the destructive ones never started.
    expect(done.steps.map((s) => s.status)).toEqual(['finished', 'finished', 'finished', 'scheduled', 'scheduled', 'scheduled']);
    const names = (await h.caller(admin).branches.list()).map((b) => b.name);
    expect(names).toContain(name);
    expect(names).not.toContain(backupName);
  });

  it('[REFUSED] a finished operation and one this console does not run are not cancellable', async () => {
    const name = `kept-${Date.now().toString(36)}`;
    const op = await h.caller(admin).branches.create({ from: 'main', name });
    await h.deps.background.idle();
    expect((await h.caller(admin).operations.get({ id: op.id })).status).toBe('finished');
    await expect(h.caller(admin).operations.cancel({ id: op.id })).rejects.toMatchObject({ code: 'CONFLICT' });

    // A row left running by another console process (or before a restart): this one cannot stop it.
    const foreign = await createOperation(h.deps.db, { clusterId: null, kind: 'branch.create', actorId: null, input: { from: 'main', name: 'x' }, steps: ['one'] });
    await markOperationRunning(h.deps.db, foreign.id, new Date());
    await expect(h.caller(admin).operations.cancel({ id: foreign.id })).rejects.toMatchObject({ code: 'CONFLICT', message: 'branch.create is not running in this console process (it was started by another, or before a restart), so it cannot be stopped from here' });
  });
});
