/**
 * The operations log (real Postgres, no cluster): each row says what it acted on, and a failure that
 * can only repeat (CONFLICT, INVALID, …) is offered no retry and refused one (issue 14).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOperation, listOperations, markOperationFailed, markOperationRunning, markStep, type OperationRunner } from '@strata/db';
import { addOperator, createHarness, type Harness } from '../testing/harness';

describe('[OPERATIONS] target column and retry only for retryable failures', () => {
  let h: Harness;
  let admin: string;

  async function failed(kind: string, input: object, code: string, message: string) {
    const op = await createOperation(h.deps.db, { clusterId: null, kind, actorId: null, input, steps: ['one step'] });
    await markOperationFailed(h.deps.db, op.id, { code, message }, new Date());
    return op.id;
  }

  beforeAll(async () => {
    h = await createHarness({ cluster: false });
    await addOperator(h.deps, { username: 'admin', password: 'correct horse', role: 'admin' });
    admin = await h.signIn('admin', 'correct horse');
  });
  afterAll(() => h?.close());

  it('two branch.create rows are told apart by their target; a CONFLICT has no retry, a service outage has one', async () => {
    const conflictId = await failed('branch.create', { from: 'main', name: 'dev' }, 'CONFLICT', 'branch dev already exists');
    const outageId = await failed('branch.create', { from: 'main', name: 'old', lsn: '42' }, 'SERVICE_UNREACHABLE', 'pageserver: connection refused');
    const rows = await h.caller(admin).operations.list();
    expect(rows.find((o) => o.id === conflictId)).toMatchObject({ target: 'branch dev from main at head', retryable: false });
    expect(rows.find((o) => o.id === outageId)).toMatchObject({ target: 'branch old from main at LSN 42', retryable: true });
  });

  it('retrying a CONFLICT is refused in words, and starts nothing', async () => {
    const id = await failed('branch.delete', { name: 'main' }, 'CONFLICT', 'branch main is the root branch');
    const before = (await listOperations(h.deps.db, { limit: 200 })).length;
    await expect(h.caller(admin).operations.retry({ id })).rejects.toMatchObject({ code: 'CONFLICT', message: 'branch.delete failed with CONFLICT, which a retry would only repeat: fix the cause, then start it again' });
    expect((await listOperations(h.deps.db, { limit: 200 })).length).toBe(before);
  });
});

describe('[OPERATIONS][ABANDONED] an operation whose console process stopped ends failed, not running forever', () => {
  let h: Harness;
  let admin: string;
  let other: ReturnType<typeof spawn> | undefined;

  async function running(runner: OperationRunner | undefined): Promise<string> {
    const op = await createOperation(h.deps.db, { clusterId: null, kind: 'branch.create', actorId: null, input: { from: 'main', name: 'dev' }, steps: ['create timeline', 'refresh'], ...(runner ? { runner } : {}) });
    await markOperationRunning(h.deps.db, op.id, new Date());
    await markStep(h.deps.db, op.id, 0, { status: 'running', detail: 'creating', at: new Date() });
    return op.id;
  }

  /** The pid of a process that ran and exited: a console that stopped. */
  async function deadPid(): Promise<number> {
    const p = spawn(process.execPath, ['-e', '']);
    await once(p, 'exit');
    return p.pid!;
  }

  beforeAll(async () => {
    h = await createHarness({ cluster: false });
    await addOperator(h.deps, { username: 'admin', password: 'correct horse', role: 'admin' });
    admin = await h.signIn('admin', 'correct horse');
  });
  afterAll(async () => {
    other?.kill('SIGKILL');
    await h?.close();
  });

  it('a stopped runner (or none recorded) is ABANDONED with its running step failed; this console, a live one and another host keep theirs running', async () => {
    const host = hostname();
    other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    const stopped = await running({ host, pid: await deadPid(), boot: 'a-console-that-stopped' });
    const legacy = await running(undefined);
    const mine = await running(h.deps.running.runner);
    const live = await running({ host, pid: other.pid!, boot: 'another-console' });
    const remote = await running({ host: `not-${host}`, pid: 1, boot: 'elsewhere' });

    const rows = await h.caller(admin).operations.list();
    const byId = (id: string) => rows.find((o) => o.id === id);
    for (const id of [stopped, legacy]) {
      expect(byId(id)).toMatchObject({ status: 'failed', errorCode: 'ABANDONED', errorMessage: 'the console process running it stopped', retryable: true });
      expect(byId(id)?.steps.map((s) => [s.status, s.detail])).toEqual([['failed', 'the console process running it stopped'], ['scheduled', null]]);
    }
    for (const id of [mine, live, remote]) expect(byId(id)?.status).toBe('running');

    // The detail view sweeps too: the live console's process stops, its operation ends.
    other.kill('SIGKILL');
    await once(other, 'exit');
    expect(await h.caller(admin).operations.get({ id: live })).toMatchObject({ status: 'failed', errorCode: 'ABANDONED' });
    expect((await h.caller(admin).operations.get({ id: mine })).status).toBe('running');
  });
});
