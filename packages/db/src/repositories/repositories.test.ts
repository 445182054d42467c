import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../client.js';
import { createTestDatabase, type TestDatabase } from '../testing.js';
import {
  countOperators,
  createOperator,
  deleteOperator,
  findOperatorCredentials,
  listOperators,
  updateOperatorRole,
} from './operators.js';
import { createSession, deleteExpiredSessions, findLiveSession } from './sessions.js';
import { listNodes, recordNodeHealth, syncNodes, upsertCluster } from './clusters.js';
import { listBranches, listSnapshots, syncBranches, syncSnapshots, upsertTenant, createTenant } from './tenants.js';
import { createOperation, getOperation, listOperations, markOperationFailed, markOperationFinished, markOperationRunning, markStep } from './operations.js';
import { insertSamples, listMetricNames, pruneSamples, querySeries } from './metrics.js';

describe('repositories against a real Postgres', () => {
  let tdb: TestDatabase;
  let db: Db;
  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = createDb(tdb.url, { maxConnections: 2 });
  });
  afterAll(async () => {
    await db?.$disconnect();
    await tdb?.drop();
  });

  it('operators: unique usernames, the hash only through the credentials read', async () => {
    const a = await createOperator(db, { username: 'alice', passwordHash: 'h1', role: 'admin' });
    expect(a).not.toHaveProperty('passwordHash');
    await expect(createOperator(db, { username: 'alice', passwordHash: 'h2', role: 'viewer' })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expect((await findOperatorCredentials(db, 'alice'))?.passwordHash).toBe('h1');
    const b = await createOperator(db, { username: 'bob', passwordHash: 'h', role: 'viewer' });
    expect(await countOperators(db, 'admin')).toBe(1);
    expect((await updateOperatorRole(db, b.id, 'admin')).role).toBe('admin');
    expect((await listOperators(db)).map((o) => o.username)).toEqual(['alice', 'bob']);
    await deleteOperator(db, b.id);
    await expect(deleteOperator(db, b.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('sessions: live until they expire, and pruned after', async () => {
    const op = await createOperator(db, { username: 'carol', passwordHash: 'h', role: 'viewer' });
    const now = new Date('2030-01-01T00:00:00Z');
    await createSession(db, { tokenHash: 'x', operatorId: op.id, expiresAt: new Date(now.getTime() + 1000) });
    expect((await findLiveSession(db, 'x', now))?.operator.username).toBe('carol');
    expect(await findLiveSession(db, 'x', new Date(now.getTime() + 1000))).toBeNull();
    expect(await deleteExpiredSessions(db, new Date(now.getTime() + 2000))).toBeGreaterThanOrEqual(1);
  });

  it('clusters: the node registry follows the cluster file', async () => {
    const c = await upsertCluster(db, { name: 'local', home: '/tmp/x', registry: { version: 1 }, now: new Date() });
    await syncNodes(db, c.id, 'safekeeper', [{ name: '1', url: 'http://a' }, { name: '2', url: 'http://b' }]);
    await syncNodes(db, c.id, 'pageserver', [{ name: 'pageserver', url: 'http://p' }]);
    const [first] = await listNodes(db, c.id, 'safekeeper');
    await recordNodeHealth(db, first!.id, { healthy: true, version: '0.1.0', lastError: null, at: new Date() });
    await syncNodes(db, c.id, 'safekeeper', [{ name: '1', url: 'http://a2' }, { name: '3', url: 'http://c' }]);
    const sks = await listNodes(db, c.id, 'safekeeper');
    expect(sks.map((n) => [n.name, n.url, n.healthy])).toEqual([['1', 'http://a2', true], ['3', 'http://c', null]]);
    expect(await listNodes(db, c.id)).toHaveLength(3);
    // Upsert by name keeps one row per cluster.
    const again = await upsertCluster(db, { name: 'local', home: '/tmp/y', registry: { version: 1 }, now: new Date() });
    expect(again.id).toBe(c.id);
  });

  it('tenants: branch and snapshot mirrors follow the registry', async () => {
    const c = await upsertCluster(db, { name: 'mirror', home: null, registry: {}, now: new Date() });
    const t = await upsertTenant(db, { clusterId: c.id, tenantId: 'ab'.repeat(16), name: 'main' });
    await expect(createTenant(db, { clusterId: c.id, tenantId: 'cd'.repeat(16), name: 'main' })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    const at = new Date('2030-01-01T00:00:00Z');
    await syncBranches(db, t.id, [
      { name: 'main', timelineId: '01'.repeat(16), parentName: null, lsn: null, createdAt: at },
      { name: 'dev', timelineId: '02'.repeat(16), parentName: 'main', lsn: '12345', createdAt: new Date(at.getTime() + 1) },
    ]);
    await syncBranches(db, t.id, [{ name: 'main', timelineId: '01'.repeat(16), parentName: null, lsn: null, createdAt: at }]);
    expect((await listBranches(db, t.id)).map((b) => b.name)).toEqual(['main']);
    await syncSnapshots(db, t.id, [{ name: 's1', branchName: 'main', lsn: '99', createdAt: at }]);
    expect(await listSnapshots(db, t.id)).toMatchObject([{ name: 's1', lsn: '99' }]);
  });

  it('operations: steps and status from scheduled to finished or failed', async () => {
    const actor = await createOperator(db, { username: 'dave', passwordHash: 'h', role: 'admin' });
    const op = await createOperation(db, { clusterId: null, kind: 'branch.create', actorId: actor.id, input: { name: 'dev' }, steps: ['create timeline', 'refresh'] });
    expect(op.status).toBe('scheduled');
    expect(op.steps.map((s) => s.name)).toEqual(['create timeline', 'refresh']);
    const t0 = new Date();
    await markOperationRunning(db, op.id, t0);
    await markStep(db, op.id, 0, { status: 'running', at: t0 });
    await markStep(db, op.id, 0, { status: 'finished', detail: 'lsn 5', at: t0 });
    await markOperationFinished(db, op.id, { ok: true }, t0);
    const done = await getOperation(db, op.id);
    expect(done).toMatchObject({ status: 'finished', result: { ok: true }, actor: { username: 'dave' } });
    expect(done.steps[0]).toMatchObject({ status: 'finished', detail: 'lsn 5' });
    const failed = await createOperation(db, { clusterId: null, kind: 'x', actorId: null, input: {}, steps: [] });
    await markOperationFailed(db, failed.id, { code: 'BOOM', message: 'it broke' }, t0);
    expect(await listOperations(db, { status: 'failed', limit: 10 })).toMatchObject([{ id: failed.id, errorCode: 'BOOM' }]);
  });

  it('metrics: series by metric and time, bounded by age and row count', async () => {
    const c = await upsertCluster(db, { name: 'm', home: null, registry: {}, now: new Date() });
    const base = Date.parse('2030-01-01T00:00:00Z');
    await insertSamples(
      db,
      Array.from({ length: 20 }, (_, i) => ({ clusterId: c.id, source: 'pageserver', metric: i % 2 ? 'a' : 'b', labels: '', value: i, at: new Date(base + i * 1000) })),
    );
    expect(await listMetricNames(db, c.id)).toEqual(['a', 'b']);
    expect((await querySeries(db, { clusterId: c.id, metric: 'a', since: new Date(base + 10_000) })).map((p) => p.value)).toEqual([11, 13, 15, 17, 19]);
    expect(await pruneSamples(db, { olderThan: new Date(base + 5_000), rowsMax: 10 })).toBe(10);
    const left = await querySeries(db, { clusterId: c.id, metric: 'b', since: new Date(0) });
    expect(left.map((p) => p.value)).toEqual([10, 12, 14, 16, 18]);
  });
});
