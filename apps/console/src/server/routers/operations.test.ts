/**
 * The operations log (real Postgres, no cluster): each row says what it acted on, and a failure that
 * can only repeat (CONFLICT, INVALID, …) is offered no retry and refused one (issue 14).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOperation, listOperations, markOperationFailed } from '@strata/db';
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
