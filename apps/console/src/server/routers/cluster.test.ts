/**
 * The routers against a real local cluster (`./strata up`: three safekeepers,
 * a page server, a compute on main) and a real Postgres.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAndViewer, createHarness, type Harness } from '../testing/harness';
import type { OperationOut } from './shapes';

describe('[CLUSTER] routers against a real local cluster', () => {
  let h: Harness;
  let admin: string;
  let viewer: string;

  /** Waits for an operation the router started in the background. */
  async function settled(op: OperationOut): Promise<OperationOut> {
    await h.deps.background.idle();
    return h.caller(admin).operations.get({ id: op.id });
  }

  /**
   * MariaDB acknowledges a COMMIT before the shipper has it committed by the safekeepers, and the
   * page server ingests after that: "head" includes the rows once both caught up.
   */
  /**
   * The compute captures aux files (.frm) by polling its datadir: a branch taken inside that window
   * right after a DDL would miss the table's .frm (a known limit). Waits until the compute found its
   * datadir equal to a stored set after the DDL (an InnoDB LSN test would race: background work moves
   * the LSN past the last aux change, so no set need ever be labelled that high).
   */
  async function ddlStored() {
    const since = Date.now();
    const { controlUrl } = JSON.parse(readFileSync(join(h.home, 'computes', 'main', 'compute.json'), 'utf8')) as { controlUrl: string };
    for (let i = 0; i < 300; i++) {
      // The control port takes the cluster's admin token.
      const headers = { authorization: `Bearer ${readFileSync(join(h.home, 'keys', 'admin.jwt'), 'utf8').trim()}` };
      const s = (await (await fetch(`${controlUrl}/v1/status`, { headers })).json()) as { auxCurrentAtMs: number | null };
      if (s.auxCurrentAtMs !== null && s.auxCurrentAtMs > since) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`compute main did not find its aux files stored within 30 s of the DDL`);
  }

  /** main's connection URL once it answers as running; if it does not, the failure carries its log's tail. */
  async function mainUrl(): Promise<string> {
    let seen = 'not listed';
    for (let i = 0; i < 150; i++) {
      const main = (await h.caller(admin).computes.list()).find((c) => c.name === 'main');
      // The polled list carries no password, even an admin's: the password comes from the admin's reveal.
      if (main?.state === 'running' && main.connectionUrl) return (await h.caller(admin).computes.connection({ name: 'main' })).connectionUrl;
      seen = main ? `${main.state}: ${main.error ?? ''}` : 'not listed';
      await new Promise((r) => setTimeout(r, 200));
    }
    const logFile = join(h.home, 'logs', 'compute-main.log');
    const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n') : '(no log)';
    throw new Error(`compute main is not running (${seen}); the end of ${logFile}:\n${tail}`);
  }

  async function quiesce(after: bigint) {
    for (let i = 0; i < 300; i++) {
      const main = (await h.caller(viewer).computes.list()).find((c) => c.name === 'main')!;
      const o = await h.caller(viewer).overview.get();
      const commit = BigInt(main.commitLsn ?? '0');
      const ingested = BigInt(o.timelines.find((t) => t.branch === 'main')!.lastRecordLsn);
      if (commit > after && main.lagBytes === '0' && ingested >= commit) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the cluster did not catch up within 30 s');
  }

  beforeAll(async () => {
    h = await createHarness({ cluster: true });
    ({ admin, viewer } = await adminAndViewer(h));
  });
  afterAll(() => h?.close());

  it('[OVERVIEW] every node healthy, LSNs and lag per timeline, no alerts', async () => {
    const o = await h.caller(viewer).overview.get();
    expect(o.nodes.map((n) => `${n.kind} ${n.name} ${n.healthy}`)).toEqual(['safekeeper 1 true', 'safekeeper 2 true', 'safekeeper 3 true', 'pageserver pageserver true', 'compute main true']);
    expect(o.timelines).toHaveLength(1);
    expect(o.timelines[0]).toMatchObject({ branch: 'main' });
    expect(BigInt(o.timelines[0]!.lastRecordLsn)).toBeGreaterThan(0n);
    expect(o.alerts).toEqual([]);
    expect((await h.caller(viewer).tenants.list())).toMatchObject([{ name: 'main', local: true, tenantId: o.tenantId }]);
  });

  it('[COMPUTES] a compute whose controller does not answer is shown unreachable with the error, not hidden', async () => {
    const { controllerPid } = JSON.parse(readFileSync(join(h.home, 'computes', 'main', 'compute.json'), 'utf8')) as { controllerPid: number };
    process.kill(controllerPid, 'SIGSTOP');
    try {
      const main = (await h.caller(viewer).computes.list()).find((c) => c.name === 'main');
      expect(main).toMatchObject({ state: 'unreachable', connectionUrl: expect.stringMatching(/^mysql:\/\//), error: expect.stringMatching(/.+/) });
      const o = await h.caller(viewer).overview.get();
      expect(o.alerts.some((a) => a.message.startsWith('compute main is down'))).toBe(true);
    } finally {
      process.kill(controllerPid, 'SIGCONT');
    }
    expect(await mainUrl()).toMatch(/^mysql:\/\//);
  });

  it('[BRANCHES][CREATE] at head and at an LSN, as recorded operations; delete refused with children', async () => {
    const c0 = BigInt((await h.caller(viewer).computes.list()).find((c) => c.name === 'main')!.commitLsn ?? '0');
    const rows = await mysql.createConnection({ uri: await mainUrl() });
    await rows.query('CREATE DATABASE IF NOT EXISTS t');
    await rows.query('CREATE TABLE t.a (id INT PRIMARY KEY) ENGINE=InnoDB');
    await ddlStored();
    await rows.query('INSERT INTO t.a VALUES (1), (2)');
    await rows.end();
    await quiesce(c0);

    const op = await h.caller(admin).branches.create({ from: 'main', name: 'dev' });
    expect(op.status).toBe('scheduled');
    const done = await settled(op);
    expect(done).toMatchObject({ status: 'finished', actor: 'admin', kind: 'branch.create' });
    expect(done.steps.map((s) => s.status)).toEqual(['finished', 'finished']);
    const list = await h.caller(viewer).branches.list();
    const dev = list.find((b) => b.name === 'dev')!;
    expect(dev).toMatchObject({ parent: 'main' });
    expect(BigInt(dev.lsn!)).toBeGreaterThan(0n);

    const child = await settled(await h.caller(admin).branches.create({ from: 'dev', name: 'dev2', lsn: dev.lsn! }));
    expect(child.status).toBe('finished');
    const refused = await settled(await h.caller(admin).branches.delete({ name: 'dev' }));
    expect(refused).toMatchObject({ status: 'failed', errorCode: 'CONFLICT', errorMessage: expect.stringContaining('has children: dev2') });
    expect((await settled(await h.caller(admin).branches.delete({ name: 'dev2' }))).status).toBe('finished');
    expect((await h.caller(viewer).branches.list()).map((b) => b.name)).toEqual(['main', 'dev']);
  });

  it('[OPERATIONS] a failed operation keeps its error; one a retry could only repeat (NOT_FOUND) is offered none and refused one', async () => {
    const failed = await settled(await h.caller(admin).branches.create({ from: 'nope', name: 'x1' }));
    expect(failed).toMatchObject({ status: 'failed', errorCode: 'NOT_FOUND' });
    await expect(h.caller(viewer).operations.retry({ id: failed.id })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(h.caller(admin).operations.retry({ id: failed.id })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/NOT_FOUND, which a retry would only repeat/) });
    const listed = (await h.caller(admin).operations.list({ limit: 50 })).find((o) => o.id === failed.id);
    expect(listed).toMatchObject({ status: 'failed', retryable: false });
  });

  it('[PAGESERVERS] tiers and timelines; a service error keeps the service code', async () => {
    const ps = await h.caller(viewer).pageservers.overview();
    expect(ps.tiers.map((t) => t.tier)).toEqual(['memory', 'local disk', 'remote storage']);
    expect(ps.timelines.length).toBeGreaterThanOrEqual(2);
    const main = ps.timelines.find((t) => t.branch === 'main')!;
    const compact = await settled(await h.caller(admin).pageservers.compact({ timelineId: main.timelineId, force: true }));
    expect(compact.status).toBe('finished');
    const missing = await settled(await h.caller(admin).pageservers.gc({ timelineId: 'f'.repeat(32) }));
    expect(missing.status).toBe('failed');
    expect(missing.errorCode).toMatch(/NOT_FOUND/);
    expect(missing.errorMessage).toMatch(/^pageserver: /);
  });

  it('[SNAPSHOTS] create, list, restore as a branch, delete', async () => {
    const s = await settled(await h.caller(admin).snapshots.create({ branch: 'main', name: 's1' }));
    expect(s.status).toBe('finished');
    expect((await h.caller(viewer).snapshots.list()).map((x) => [x.name, x.branch])).toEqual([['s1', 'main']]);
    const r = await settled(await h.caller(admin).snapshots.restore({ name: 's1', branch: 'from-s1' }));
    expect(r.status).toBe('finished');
    expect((await h.caller(viewer).branches.list()).some((b) => b.name === 'from-s1')).toBe(true);
    expect((await settled(await h.caller(admin).snapshots.delete({ name: 's1' }))).status).toBe('finished');
    expect(await h.caller(viewer).snapshots.list()).toEqual([]);
  });

  it('[METRICS] a scrape stores bounded samples; charts have series', async () => {
    await h.caller(admin).metrics.scrape();
    await new Promise((r) => setTimeout(r, 1100));
    const r = await h.caller(admin).metrics.scrape();
    expect(r.stored).toBeGreaterThan(0);
    const charts = await h.caller(viewer).metrics.charts();
    const ingest = charts.find((c) => c.metric === 'wal_ingest_bytes_total')!;
    expect(ingest.series[0]?.points.length).toBeGreaterThanOrEqual(1);
    expect(charts.find((c) => c.metric === 'commit_lag_p99_ms')!.series.length).toBeGreaterThanOrEqual(1);
  });

  it('[SAFEKEEPERS] per-member state; membership change 1,2,3 → 1,2 → 1,2,3 with step progress', async () => {
    const before = await h.caller(viewer).safekeepers.overview();
    const tl = before.timelines.find((t) => t.branch === 'main')!;
    expect(tl.members.map((m) => m.nodeId)).toEqual([1, 2, 3]);
    const gen = tl.members[0]!.generation;
    const shrink = await settled(await h.caller(admin).safekeepers.changeMembership({ timelineId: tl.timelineId, members: [1, 2] }));
    expect(shrink).toMatchObject({ status: 'finished' });
    expect(shrink.steps.every((s) => s.status === 'finished')).toBe(true);
    const grow = await settled(await h.caller(admin).safekeepers.changeMembership({ timelineId: tl.timelineId, members: [1, 2, 3] }));
    expect(grow).toMatchObject({ status: 'finished', result: { members: [1, 2, 3] } });
    const after = await h.caller(viewer).safekeepers.overview();
    const m1 = after.timelines.find((t) => t.branch === 'main')!.members.find((m) => m.nodeId === 1)!;
    expect(m1.generation).toBeGreaterThan(gen);
    expect(m1.members).toEqual([1, 2, 3]);
  });

  it('[TIME TRAVEL] a read-only query at an LSN before the rows sees the old state; writes are refused', async () => {
    await expect(h.caller(viewer).timeTravel.query({ branch: 'main', sql: 'DELETE FROM t.a' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    const dev = (await h.caller(viewer).branches.list()).find((b) => b.name === 'dev')!;
    const c = await mysql.createConnection({ uri: await mainUrl() });
    await c.query('INSERT INTO t.a VALUES (3)');
    await c.end();
    // `dev` was branched before row 3: main as of dev's LSN has rows 1, 2 only.
    const r = await h.caller(viewer).timeTravel.query({ branch: 'main', lsn: dev.lsn!, sql: 'SELECT id FROM t.a ORDER BY id' });
    expect(r.columns).toEqual(['id']);
    expect(r.rows).toEqual([['1'], ['2']]);
    expect((await h.caller(viewer).computes.list()).some((x) => x.name === r.compute)).toBe(false);
  });

  // Last: adding a node restarts the page server.
  it('[SAFEKEEPERS][ADD] a new node started by the console, registered and healthy; viewers cannot', async () => {
    await expect(h.caller(viewer).safekeepers.add({})).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const op = await settled(await h.caller(admin).safekeepers.add({}));
    expect(op).toMatchObject({ status: 'finished', kind: 'safekeepers.add', result: { id: 4, url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) } });
    const o = await h.caller(viewer).safekeepers.overview();
    expect(o.nodes.map((n) => [n.id, n.healthy])).toEqual([[1, true], [2, true], [3, true], [4, true]]);

    // Remove: refused (CONFLICT) for a node main's timeline names; done for the idle new one.
    await expect(h.caller(viewer).safekeepers.remove({ nodeId: 4 })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const refused = await settled(await h.caller(admin).safekeepers.remove({ nodeId: 1 }));
    expect(refused.status).toBe('failed');
    expect(JSON.stringify(refused)).toMatch(/is a member of branch main/);
    const removed = await settled(await h.caller(admin).safekeepers.remove({ nodeId: 4 }));
    expect(removed).toMatchObject({ status: 'finished', kind: 'safekeepers.remove', result: { nodeId: 4 } });
    const after = await h.caller(viewer).safekeepers.overview();
    expect(after.nodes.map((n) => n.id)).toEqual([1, 2, 3]);
  });
});
