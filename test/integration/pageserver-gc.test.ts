/**
 * Compaction, GC, snapshots and time travel of the page server's storage
 * over a real MariaDB workload: the timeline runs in-process (TenantManager
 * + StorageMaintenance, the same objects main.ts wires up), then a real page
 * server serves it to the real CLI for `branch create --at`.
 *
 * - Compaction (delta merges, image layers) changes no page at any LSN.
 * - GC with a short PITR window frees layers, keeps the child's branch point
 *   and the snapshot readable (equal to `redo apply --until-lsn` there), and
 *   refuses reads below its horizon with LsnBeforeGcHorizon.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redo } from '@strata/core';
import { openLogFile } from '@strata/datadir';
import { memoryLogger } from '@strata/service-kit';
import { loadConfig } from '../../apps/pageserver/src/env.js';
import { startPageserver } from '../../apps/pageserver/src/main.js';
import { StorageMaintenance } from '../../apps/pageserver/src/maintenance.js';
import { PageserverMetrics } from '../../apps/pageserver/src/metrics.js';
import { createSnapshot } from '../../apps/pageserver/src/snapshots.js';
import { LsnBeforeGcHorizon, type Timeline, writeBasebackup } from '../../apps/pageserver/src/storage/index.js';
import { TenantManager } from '../../apps/pageserver/src/tenant-manager.js';
import { GetPageService } from '../../apps/pageserver/src/data-path/getpage-service.js';
import { decodeGetPageResponse, encodeGetPageRequests, GetPageStatus } from '@strata/core/getpage';
import { comparePages, formatComparison } from '../support/datadir-compare.js';
import { removeTempDir } from '../support/mariadb.js';
import { until } from '../support/until.js';
import { recordWorkload, runStrata } from '../support/redo-scenario.js';

const TENANT = '66666666666666666666666666666666';
const TIMELINE = '77777777777777777777777777777777';
const CHILD = '88888888888888888888888888888888';
/** The LSN ↔ time map's clock: points one second apart from here. */
const T0 = Date.parse('2030-01-01T00:00:00Z');

let rec: Awaited<ReturnType<typeof recordWorkload>>;
let work: string;
let logPath: string;
let importLsn = 0n;
/** mtr end LSNs at about 1/4, 3/8, 1/2, 3/4 of the workload, and its end. */
let l1 = 0n;
let ls = 0n;
let l2 = 0n;
let l3 = 0n;
let end = 0n;

async function exec(c: Connection, ...sql: string[]): Promise<void> {
  for (const s of sql) await c.query(s);
}

beforeAll(async () => {
  rec = await recordWorkload({
    name: 'psgc',
    setup: async (c) => {
      await exec(c, 'CREATE DATABASE g', 'CREATE TABLE g.t (id INT PRIMARY KEY, k INT, v VARCHAR(200), KEY (k)) ENGINE=InnoDB', "INSERT INTO g.t SELECT seq, seq % 50, CONCAT('v', seq) FROM seq_1_to_2000");
    },
    workload: async (c) => {
      await exec(
        c,
        "INSERT INTO g.t SELECT seq, seq % 50, REPEAT('w', seq % 180) FROM seq_2001_to_9000",
        "UPDATE g.t SET v = CONCAT(v, '+') WHERE id % 3 = 0",
        'CREATE TABLE g.n (id INT PRIMARY KEY, v INT) ENGINE=InnoDB',
        'INSERT INTO g.n SELECT seq, seq FROM seq_1_to_4000',
        'DELETE FROM g.t WHERE id BETWEEN 3000 AND 6000',
        "UPDATE g.n SET v = v + 1 WHERE id % 2 = 0",
      );
    },
  });
  work = join(rec.dir, 'gc');
  mkdirSync(work, { recursive: true });
  logPath = join(rec.final, 'ib_logfile0');
}, 600_000);

afterAll(async () => {
  await removeTempDir(rec.dir);
});

function mtrEnds(from: bigint): bigint[] {
  const reader = openLogFile(logPath);
  try {
    return [...reader.mtrs(from, 16384)].map((m) => m.endLsn);
  } finally {
    reader.close();
  }
}

function ingest(t: Timeline, until: bigint): void {
  const reader = openLogFile(logPath);
  try {
    for (const m of reader.mtrs(t.lastRecordLsn, t.pageSize)) {
      if (m.endLsn > until) break;
      t.ingest(m);
    }
  } finally {
    reader.close();
  }
  t.flush();
}

/** A digest of every page a basebackup at `lsn` would hold (what writeBasebackup writes, without the disk). */
function pageDigests(t: Timeline, lsn: bigint, withLsn = true): Map<string, string> {
  const out = new Map<string, string>();
  for (const [spaceId] of t.tablespacesAt(lsn)) {
    const p0 = t.getPageRaw({ spaceId, pageNo: 0 }, lsn);
    if (!p0) continue;
    const size = redo.readFspHeader(p0.page).sizePages;
    for (let p = 0; p < size; p++) {
      const r = t.getPageRaw({ spaceId, pageNo: p }, lsn);
      if (r) out.set(`${spaceId}:${p}`, `${withLsn ? r.lsn : ''} ${createHash('sha1').update(r.page).digest('hex')}`);
    }
  }
  return out;
}

function expectSamePages(a: Map<string, string>, b: Map<string, string>, what: string): void {
  const diffs = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k));
  expect(diffs.slice(0, 10), `${what}: ${diffs.length} pages differ`).toEqual([]);
  expect(a.size).toBeGreaterThan(100);
}

describe('page server compaction and GC', () => {
  let tm: TenantManager;
  let maintenance: StorageMaintenance;
  let t: Timeline;
  const before = new Map<bigint, Map<string, string>>();
  const log = memoryLogger();
  const dataDir = () => join(work, 'ps');
  const serverConfig = () => loadConfig(['--listen', '127.0.0.1:0', '--data', dataDir(), '--safekeepers', '127.0.0.1:9', '--gc-period-ms', '0', '--compaction-period-ms', '0'], {}, work);

  it('[COMPACT] merging deltas and creating image layers changes no page at any LSN', async () => {
    tm = TenantManager.open({ dataDir: dataDir(), log, checkpointBytes: 256 << 10 });
    const imported = tm.importDatadir(rec.base, { tenantId: TENANT, timelineId: TIMELINE });
    importLsn = imported.lsn;
    t = imported.timeline;
    const ends = mtrEnds(importLsn);
    const at = (num: number, den: number) => ends[Math.floor((ends.length * num) / den)]!;
    [l1, ls, l2, l3, end] = [at(1, 4), at(3, 8), at(1, 2), at(3, 4), ends[ends.length - 1]!];
    maintenance = new StorageMaintenance({ tenants: tm, metrics: new PageserverMetrics(), log, nowMs: () => T0 + 10_000, compaction: { mergeTargetBytes: 2 << 20, mergeMinLayers: 3 } });

    ingest(t, l2);
    for (const l of [l1, ls, l2]) before.set(l, pageDigests(t, l));
    const deltasBefore = t.layers.filter((d) => d.kind === 'delta').length;
    const c1 = await maintenance.compact(t, 'admin', true);
    expect(c1.mergedLayers).toBeGreaterThan(0);
    expect(c1.imageLayers).toBeGreaterThan(0);
    expect(c1.imageLsn).toBe(l2);
    expect(t.layers.filter((d) => d.kind === 'delta').length).toBeLessThan(deltasBefore);
    for (const l of [l1, ls, l2]) expectSamePages(pageDigests(t, l), before.get(l)!, `after compaction at ${l}`);

    ingest(t, end);
    for (const l of [l3, end]) before.set(l, pageDigests(t, l));
    // The second pass comes from backpressure: with more delta layers above the newest image than allowed,
    // the WAL receiver's call compacts before it asks for more WAL, and the pause is counted.
    const labels = { tenant_id: TENANT, timeline_id: TIMELINE };
    const bpMetrics = new PageserverMetrics();
    const bp = new StorageMaintenance({ tenants: tm, metrics: bpMetrics, log, nowMs: () => T0 + 10_000, compaction: { mergeTargetBytes: 2 << 20, mergeMinLayers: 3 }, l0DeltasMax: 1 });
    const l0Before = bp.l0Deltas(t);
    expect(l0Before).toBeGreaterThan(1);
    await bp.backpressure(t);
    expect(bp.l0Deltas(t)).toBeLessThan(l0Before);
    expect(bpMetrics.compactionRuns.get({ ...labels, trigger: 'backpressure', result: 'ok' })).toBe(1n);
    expect(bpMetrics.compactionLayers.get({ ...labels, trigger: 'backpressure', kind: 'image' })).toBeGreaterThan(0n);
    expect(bpMetrics.backpressureWaitMs.get(labels)).toBeGreaterThan(0n);
    for (const l of [l1, ls, l2, l3, end]) expectSamePages(pageDigests(t, l), before.get(l)!, `after the second compaction at ${l}`);
    // The background loop runs by itself on its period (nothing left to do here: it still counts the pass).
    const bgMetrics = new PageserverMetrics();
    const bg = new StorageMaintenance({ tenants: tm, metrics: bgMetrics, log, nowMs: () => T0 + 10_000, compactionPeriodMs: 20, gcPeriodMs: 0 });
    bg.start();
    try {
      await until('a background compaction pass', async () => bgMetrics.compactionRuns.get({ ...labels, trigger: 'background', result: 'ok' }) > 0n, 30_000);
    } finally {
      await bg.stop();
    }
    for (const l of [l1, ls, l2, l3, end]) expectSamePages(pageDigests(t, l), before.get(l)!, `after background compaction at ${l}`);
    process.stdout.write(`compaction: ${JSON.stringify({ first: c1, l0DeltasBeforeBackpressure: l0Before, l0DeltasAfter: bp.l0Deltas(t) }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);

    // And the pages still are MariaDB's own at the end.
    const out = join(work, 'bb-end');
    writeBasebackup(t, end, out);
    const cmp = await comparePages(rec.final, out);
    expect(cmp.diffs, formatComparison(cmp)).toEqual([]);
    rmSync(out, { recursive: true, force: true });
  });

  it('[AT] branch create --at a timestamp branches at the last LSN committed by then (LSN ↔ time map over the API)', async () => {
    tm.close();
    const ps = await startPageserver(serverConfig(), memoryLogger());
    const hostPort = ps.url.replace(/^http:\/\//, '');
    const base = `${ps.url}/v1/tenants/${TENANT}/timelines`;
    try {
      const points = [l1, l2, l3, end].map((lsn, i) => ({ lsn: lsn.toString(), timeMs: T0 + 1000 * (i + 1) }));
      const posted = await fetch(`${base}/${TIMELINE}/lsn_times`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ points }) });
      expect(posted.status, await posted.clone().text()).toBe(200);
      for (const [atMs, lsn] of [
        [T0 + 1_500, l1],
        [T0 + 3_999, l3],
        [T0 + 60_000, end],
      ] as const) {
        const r = await runStrata(['branch', 'create', '--pageserver', hostPort, '--tenant', TENANT, '--from', TIMELINE, '--at', new Date(atMs).toISOString()]);
        expect(r.code, r.stderr).toBe(0);
        const m = new RegExp(`^timeline ([0-9a-f]{32}) lsn ${lsn}$`, 'm').exec(r.stdout);
        expect(m, r.stdout).not.toBeNull();
        // These branches only check the lookup: gone again, so that GC below sees just its own branch point.
        expect((await fetch(`${base}/${m![1]}`, { method: 'DELETE' })).status).toBe(200);
      }
      const early = await runStrata(['branch', 'create', '--pageserver', hostPort, '--tenant', TENANT, '--from', TIMELINE, '--at', new Date(T0).toISOString()]);
      expect(early.code).not.toBe(0);
      expect(early.stderr).toContain('NO_LSN_AT_TIME');
    } finally {
      await ps.stop();
    }
  });

  it('[GC] a short PITR window frees layers, keeps the branch point and the snapshot readable, and refuses reads below the horizon', async () => {
    tm = TenantManager.open({ dataDir: dataDir(), log });
    t = tm.get(TENANT, TIMELINE);
    maintenance = new StorageMaintenance({ tenants: tm, metrics: new PageserverMetrics(), log, nowMs: () => T0 + 10_000 });
    const child = tm.branch(t, l1, CHILD);
    createSnapshot(tm, t, 'before-delete', ls, T0);
    // now = T0 + 10 s; a 6 s window reaches back to T0 + 4 s, when `end` was the last commit.
    const gc = await maintenance.gc(t, { pitrMs: 6_000 }, 'admin');
    process.stdout.write(`gc: horizon ${gc.horizon}, layers ${gc.layersBefore} → ${gc.layersAfter}, bytes ${gc.bytesBefore} → ${gc.bytesAfter}\n`);
    expect(gc.horizon).toBe(end);
    expect(gc.retained).toEqual([l1, ls]);
    expect(gc.removed.length).toBeGreaterThan(3);
    expect(gc.bytesAfter).toBeLessThan(gc.bytesBefore);
    expect(tm.layerBytes(t)).toBe(gc.bytesAfter);

    // Every retained point and the PITR window still read the same pages.
    for (const l of [l1, ls, end]) expectSamePages(pageDigests(t, l), before.get(l)!, `after GC at ${l}`);
    // The child reads its ancestor at the branch point (its pages carry the branch LSN when unchanged: compare bytes).
    expectSamePages(pageDigests(child, l1, false), pageDigests(t, l1, false), 'the child after GC');
    for (const l of [l2, l3]) expect(() => t.getPageRaw({ spaceId: 0, pageNo: 0 }, l)).toThrow(LsnBeforeGcHorizon);
    expect(() => tm.branch(t, l3)).toThrow(LsnBeforeGcHorizon);
    // On the GetPage wire it is its own status (not a generic out-of-range), and the window still reads.
    const service = new GetPageService({ tenants: tm, metrics: new PageserverMetrics(), log, waitMsMax: 0 });
    const reqs = [{ spaceId: 0, pageNo: 0, lsn: l3 }, { spaceId: 0, pageNo: 0, lsn: end }];
    const items = decodeGetPageResponse(await service.serve(t, encodeGetPageRequests(reqs), undefined), reqs.length, t.pageSize);
    expect(items.map((i) => i.status)).toEqual([GetPageStatus.BEFORE_GC_HORIZON, GetPageStatus.OK]);

    // The branch point and the snapshot equal `redo apply --until-lsn` there.
    for (const l of [l1, ls]) {
      const applied = join(work, `apply-${l}`);
      const r = await runStrata(['redo', 'apply', '--base', rec.base, '--log', logPath, '--out', applied, '--until-lsn', String(l), '--aux-from', rec.base]);
      expect(r.code, r.stderr).toBe(0);
      const bb = join(work, `bb-${l}`);
      writeBasebackup(l === l1 ? child : t, l, bb);
      const cmp = await comparePages(applied, bb);
      expect(cmp.diffs, formatComparison(cmp)).toEqual([]);
      expect(cmp.pagesCompared).toBeGreaterThan(100);
      rmSync(applied, { recursive: true, force: true });
      rmSync(bb, { recursive: true, force: true });
    }

    // A restart keeps the horizon and the snapshot.
    tm.close();
    tm = TenantManager.open({ dataDir: dataDir(), log });
    t = tm.get(TENANT, TIMELINE);
    expect(t.metaSnapshot.gc?.horizon).toBe(end);
    expect(t.metaSnapshot.snapshots.map((s) => s.name)).toEqual(['before-delete']);
    expect(() => t.getPageRaw({ spaceId: 0, pageNo: 0 }, l3)).toThrow(LsnBeforeGcHorizon);
    expect(t.getPageRaw({ spaceId: 0, pageNo: 0 }, ls)).toBeDefined();
    tm.close();

    // Over the API: 410 below the horizon, snapshot restore, layer metrics.
    const ps = await startPageserver(serverConfig(), memoryLogger());
    try {
      const api = `${ps.url}/v1/tenants/${TENANT}`;
      const below = await fetch(`${api}/timelines/${TIMELINE}/basebackup?lsn=${l3}`);
      expect(below.status).toBe(410);
      expect(((await below.json()) as { code: string }).code).toBe('LSN_BEFORE_GC_HORIZON');
      const list = (await (await fetch(`${api}/snapshots`)).json()) as { snapshots: Array<{ name: string; lsn: string }> };
      expect(list.snapshots).toEqual([expect.objectContaining({ name: 'before-delete', lsn: ls.toString() })]);
      const restored = await fetch(`${api}/snapshots/before-delete/restore`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(restored.status).toBe(201);
      expect(((await restored.json()) as { initLsn: string }).initLsn).toBe(ls.toString());
      const metrics = await (await fetch(`${ps.url}/metrics`)).text();
      expect(metrics).toMatch(/pageserver_layer_kind_bytes\{kind="image",[^}]*\} [1-9]/);
      expect(metrics).toMatch(/pageserver_gc_horizon_lsn\{[^}]*timeline_id="7{32}"\} [1-9]/);
    } finally {
      await ps.stop();
    }
  });
});
