/**
 * The page server as a service, with real processes: mariadbd records a
 * workload; three safekeepers take its redo (`wal push`); a page server
 * process imports the base, streams the committed WAL from the safekeepers,
 * and serves basebackups, branches and GetPage@LSN that must equal what
 * MariaDB wrote and what `redo apply --until-lsn` rebuilds. It is killed
 * with -9 mid-ingest and restarted along the way.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../support/until.js';
import { encodeAuxSet } from '@strata/core';
import { openLogFile, readAuxFiles } from '@strata/datadir';
import { decodeGetPageResponse, encodeGetPageRequests, GetPageStatus, type GetPageRequest } from '@strata/core/getpage';
import { comparePages, formatComparison, listTablespaces } from '../support/datadir-compare.js';
import { checksumTables, checkTables, makeTempDir, readLogCheckpoint, removeTempDir, startMariadb } from '../support/mariadb.js';
import { pageserver, type PageserverProcess } from '../support/pageserver.js';
import { recordWorkload, REPO_ROOT, runStrata, withConnection } from '../support/redo-scenario.js';
import { safekeeper, type SafekeeperProcess, timelineStatus } from '../support/safekeepers.js';
import { type RunningS3rver, S3RVER_CREDENTIALS, startS3rver } from '../../packages/remote-storage/src/s3rver.test-util.js';

let s3: RunningS3rver | undefined;

let dir: string;
let rec: Awaited<ReturnType<typeof recordWorkload>>;
let logPath: string;
const sks: SafekeeperProcess[] = [];
let ps: PageserverProcess;
let tenant = '';
let timeline = '';
let importLsn = 0n;
let endLsn = 0n;
/** `redo apply --until-lsn` outputs by LSN, shared by the branch and GetPage checks. */
const applied = new Map<bigint, string>();

async function timelineInfo(tl = timeline): Promise<{ lastRecordLsn: bigint; diskConsistentLsn: bigint; ancestor: unknown; layers: number }> {
  const res = await fetch(`${ps.url}/v1/tenants/${tenant}/timelines/${tl}`);
  if (!res.ok) throw new Error(`timeline ${tl}: HTTP ${res.status} ${await res.text()}`);
  const j = (await res.json()) as { lastRecordLsn: string; diskConsistentLsn: string; ancestor: unknown; layers: number };
  return { ...j, lastRecordLsn: BigInt(j.lastRecordLsn), diskConsistentLsn: BigInt(j.diskConsistentLsn) };
}

/** The end LSN of the last mtr at or below `target`. */
function mtrEndNear(target: bigint): bigint {
  const reader = openLogFile(logPath);
  let cut = importLsn;
  try {
    for (const m of reader.mtrs(importLsn, 16384)) {
      if (m.endLsn > target) break;
      cut = m.endLsn;
    }
  } finally {
    reader.close();
  }
  return cut;
}

async function redoApplyUntil(lsn: bigint): Promise<string> {
  const have = applied.get(lsn);
  if (have) return have;
  const out = join(dir, `apply-${lsn}`);
  const r = await runStrata(['redo', 'apply', '--base', rec.base, '--log', logPath, '--out', out, '--until-lsn', String(lsn), '--aux-from', rec.base]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toContain(`final LSN ${lsn}`);
  applied.set(lsn, out);
  return out;
}

async function basebackup(out: string, tl: string, lsn?: bigint): Promise<void> {
  const r = await runStrata(['basebackup', '--pageserver', ps.hostPort, '--tenant', tenant, '--timeline', tl, ...(lsn !== undefined ? ['--lsn', String(lsn)] : []), '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^basebackup at LSN \d+: /m);
  expect(r.stderr).toContain('progress:');
}

async function getPages(tl: string, reqs: GetPageRequest[]) {
  const res = await fetch(`${ps.url}/v1/tenants/${tenant}/timelines/${tl}/getpage`, { method: 'POST', body: encodeGetPageRequests(reqs) as Uint8Array<ArrayBuffer> });
  expect(res.status).toBe(200);
  return decodeGetPageResponse(new Uint8Array(await res.arrayBuffer()), reqs.length, Number(res.headers.get('x-strata-page-size')));
}

beforeAll(async () => {
  dir = await makeTempDir('strata-ps-');
  rec = await recordWorkload({
    name: 'ps-svc',
    setup: async (c) => {
      await c.query('CREATE DATABASE p');
      await c.query('CREATE TABLE p.t (id INT PRIMARY KEY, k INT, v VARCHAR(300), b BLOB, KEY (k)) ENGINE=InnoDB');
      await c.query("INSERT INTO p.t SELECT seq, seq % 50, CONCAT('v', seq), NULL FROM seq_1_to_2000");
    },
    workload: async (c) => {
      await c.query("INSERT INTO p.t SELECT seq, seq % 50, REPEAT('w', 100 + seq % 180), IF(seq % 500 = 0, REPEAT('b', 30000), NULL) FROM seq_2001_to_30000");
      await c.query("UPDATE p.t SET v = CONCAT(v, '+') WHERE id % 3 = 0");
      await c.query('DELETE FROM p.t WHERE id BETWEEN 4000 AND 9000');
      await c.query('CREATE TABLE p.n (id INT PRIMARY KEY, v INT) ENGINE=InnoDB');
      await c.query('INSERT INTO p.n SELECT seq, seq FROM seq_1_to_5000');
      await c.query('RENAME TABLE p.n TO p.renamed');
      await c.query("INSERT INTO p.t SELECT seq, seq % 50, REPEAT('x', 200), NULL FROM seq_30001_to_45000");
    },
  });
  logPath = join(rec.final, 'ib_logfile0');
  for (const id of [1, 2, 3]) {
    const s = await safekeeper(id, dir);
    await s.start();
    sks.push(s);
  }
  // Small layers: a kill -9 then lands between flushes, and restarts resume from a layer boundary.
  // Remote storage is a real S3 protocol server; a small disk budget keeps evicting layers to it,
  // so later reads also exercise download on demand.
  s3 = await startS3rver();
  process.env['AWS_ACCESS_KEY_ID'] = S3RVER_CREDENTIALS.accessKeyId;
  process.env['AWS_SECRET_ACCESS_KEY'] = S3RVER_CREDENTIALS.secretAccessKey;
  ps = await pageserver(dir, sks.map((s) => s.hostPort), [
    '--checkpoint-bytes', String(1 << 20),
    '--checkpoint-timeout-ms', '1000',
    '--remote-storage', `s3://${s3.bucket}/ps?endpoint=${s3.endpoint}&region=us-east-1`,
    '--disk-budget-bytes', String(4 << 20),
  ]);
  await ps.start();
}, 600_000);

afterAll(async () => {
  await ps?.stop().catch(() => undefined);
  await s3?.stop().catch(() => undefined);
  for (const s of sks) await s.stop().catch(() => undefined);
  await removeTempDir(dir);
  if (rec) await removeTempDir(rec.dir);
});

describe('page server (real processes: 3 safekeepers, page server, mariadbd)', () => {
  it('[IMPORT+INGEST] import, WAL through the safekeepers with a kill -9 mid-ingest, basebackup equals MariaDB page for page and boots', async () => {
    const imp = await runStrata(['tenant', 'import', '--pageserver', ps.hostPort, '--datadir', rec.base]);
    expect(imp.code, imp.stderr).toBe(0);
    const m = /^tenant ([0-9a-f]{32}) timeline ([0-9a-f]{32}) lsn (\d+)$/m.exec(imp.stdout);
    expect(m, imp.stdout).not.toBeNull();
    [tenant, timeline] = [m![1]!, m![2]!];
    importLsn = BigInt(m![3]!);

    const push = spawn(join(REPO_ROOT, 'strata'), ['wal', 'push', '--safekeepers', sks.map((s) => s.hostPort).join(','), '--tenant', tenant, '--timeline', timeline, '--log', logPath, '--from', String(importLsn)], { cwd: REPO_ROOT });
    let pushOut = '';
    let pushErr = '';
    push.stdout.on('data', (d: Buffer) => (pushOut += d.toString()));
    push.stderr.on('data', (d: Buffer) => (pushErr += d.toString()));
    const pushed = new Promise<number>((r) => push.once('exit', (code) => r(code ?? 1)));

    // Mid-ingest: some WAL in layers, more in memory, more still coming.
    const logEnd = (await readLogCheckpoint(rec.final)).endLsn;
    await until('the page server ingesting', async () => (await timelineInfo()).lastRecordLsn > importLsn + (3n << 20n), 120_000);
    expect((await timelineInfo()).lastRecordLsn).toBeLessThan(logEnd);
    await ps.kill9();
    await ps.start();
    // What was flushed before the kill survives; the rest is streamed again from the safekeepers.
    const after = await timelineInfo();
    expect(after.diskConsistentLsn).toBeGreaterThan(importLsn);
    expect(after.diskConsistentLsn).toBeLessThan(logEnd);

    expect(await pushed, pushErr).toBe(0);
    endLsn = BigInt(/^committed (\d+)$/m.exec(pushOut)?.[1] ?? '0');
    expect(endLsn).toBeGreaterThan(importLsn + (8n << 20n));
    const wait = await runStrata(['wait-lsn', '--pageserver', ps.hostPort, '--tenant', tenant, '--timeline', timeline, '--lsn', String(endLsn)]);
    expect(wait.code, wait.stderr).toBe(0);
    expect(wait.stdout).toContain(`lsn ${endLsn} ingested`);
    // The receiver reports its lag behind the safekeeper's commit: nothing once everything is ingested.
    await until('the ingest lag gauge at 0', async () => {
      const text = await (await fetch(`${ps.url}/metrics`)).text();
      return new RegExp(`^pageserver_wal_ingest_lag_bytes\\{tenant_id="${tenant}",timeline_id="${timeline}"\\} 0$`, 'm').test(text);
    }, 30_000);

    // The compute's shipper will capture aux files (.frm, Aria tables) at their LSNs; here MariaDB's final datadir stands in.
    // The files travel in the body (aux-set frames): a path on the page server's machine is not accepted.
    const auxUrl = `${ps.url}/v1/tenants/${tenant}/timelines/${timeline}/aux`;
    const byPath = await fetch(auxUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lsn: String(endLsn), datadir: rec.final }) });
    expect(byPath.status).toBe(400);
    const aux = await fetch(`${auxUrl}?lsn=${endLsn}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: encodeAuxSet(readAuxFiles(rec.final)) });
    expect(aux.status, await aux.clone().text()).toBe(201);
    expect(((await aux.json()) as { files: number }).files).toBeGreaterThan(10);

    const out = join(dir, 'bb-end');
    await basebackup(out, timeline, endLsn);
    const cmp = await comparePages(rec.final, out);
    expect(cmp.diffs, formatComparison(cmp)).toEqual([]);
    expect(cmp.missingInActual, formatComparison(cmp)).toEqual([]);
    const server = await startMariadb(out);
    try {
      const { sums, failures } = await withConnection(server, async (c) => ({ sums: await checksumTables(c), failures: await checkTables(c) }));
      expect(failures).toEqual([]);
      expect(Object.fromEntries(sums)).toEqual(Object.fromEntries(rec.checksumsFinal));
    } finally {
      await server.shutdown();
    }
  });

  it('[RESTART] kill -9 after ingest and SIGTERM: the same basebackup; a clean stop leaves nothing to re-ingest', async () => {
    await ps.kill9();
    await ps.start();
    const wait = await runStrata(['wait-lsn', '--pageserver', ps.hostPort, '--tenant', tenant, '--timeline', timeline, '--lsn', String(endLsn), '--timeout-ms', '60000']);
    expect(wait.code, wait.stderr).toBe(0);
    const out = join(dir, 'bb-restart');
    await basebackup(out, timeline);
    const cmp = await comparePages(rec.final, out);
    expect(cmp.diffs, formatComparison(cmp)).toEqual([]);
    expect(cmp.missingInActual, formatComparison(cmp)).toEqual([]);

    expect(await ps.stop()).toBe(0);
    expect(ps.output()).toContain('open layers flushed');
    // The final flush was reported: the safekeepers know the page server needs no WAL below the end.
    for (const sk of sks) expect((await timelineStatus(sk, tenant, timeline))['remoteConsistentLsn']).toBe(String(endLsn));
    await ps.start();
    const info = await timelineInfo();
    expect(info.diskConsistentLsn).toBe(endLsn);
    expect(info.lastRecordLsn).toBe(endLsn);
  });

  it('[WIPE] a page server whose local disk is wiped comes back from remote storage alone', async () => {
    expect(await ps.stop()).toBe(0);
    await rm(ps.dataDir, { recursive: true, force: true });
    await mkdir(ps.dataDir, { recursive: true });
    await ps.start();
    expect(ps.output()).toContain('restored from remote storage');
    const info = await timelineInfo();
    expect(info.diskConsistentLsn).toBe(endLsn);
    const out = join(dir, 'bb-wiped');
    await basebackup(out, timeline, endLsn);
    const cmp = await comparePages(rec.final, out);
    expect(cmp.diffs, formatComparison(cmp)).toEqual([]);
    expect(cmp.missingInActual, formatComparison(cmp)).toEqual([]);
    const server = await startMariadb(out);
    try {
      const sums = await withConnection(server, (c) => checksumTables(c));
      expect(Object.fromEntries(sums)).toEqual(Object.fromEntries(rec.checksumsFinal));
    } finally {
      await server.shutdown();
    }
  });

  it('[BRANCH] a branch at a mid-workload LSN: its basebackup equals `redo apply --until-lsn`; its parent cannot be deleted', async () => {
    const mid = mtrEndNear(importLsn + (endLsn - importLsn) / 2n);
    const r = await runStrata(['branch', 'create', '--pageserver', ps.hostPort, '--tenant', tenant, '--from', timeline, '--lsn', String(mid)]);
    expect(r.code, r.stderr).toBe(0);
    const m = /^timeline ([0-9a-f]{32}) lsn (\d+)$/m.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const branch = m![1]!;
    expect(BigInt(m![2]!)).toBe(mid);
    const info = await timelineInfo(branch);
    expect(info.ancestor).toEqual({ timelineId: timeline, lsn: String(mid) });
    expect(info.layers).toBe(0); // O(1): nothing copied

    const bb = join(dir, 'bb-branch');
    await basebackup(bb, branch, mid);
    const cmp = await comparePages(await redoApplyUntil(mid), bb);
    expect(cmp.diffs, formatComparison(cmp)).toEqual([]);
    expect(cmp.missingInActual, formatComparison(cmp)).toEqual([]);

    const del = await fetch(`${ps.url}/v1/tenants/${tenant}/timelines/${timeline}`, { method: 'DELETE' });
    expect(del.status).toBe(409);
    expect(((await del.json()) as { code: string }).code).toBe('TIMELINE_HAS_CHILDREN');
    const beyond = await runStrata(['branch', 'create', '--pageserver', ps.hostPort, '--tenant', tenant, '--from', timeline, '--lsn', String(endLsn + 1000n)]);
    expect(beyond.code).toBe(1);
    expect(beyond.stderr).toContain('LSN_OUT_OF_RANGE');
  });

  it('[GETPAGE] random pages at random mid LSNs equal `redo apply --until-lsn` of the same LSN', async () => {
    let seed = 0x5eed;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const lsns = [mtrEndNear(importLsn + (endLsn - importLsn) / 2n), mtrEndNear(importLsn + BigInt(rand(1000) + 1) * ((endLsn - importLsn) / 1000n))];
    let compared = 0;
    for (const lsn of lsns) {
      const applyDir = await redoApplyUntil(lsn);
      const spaces = (await listTablespaces(applyDir)).filter((s) => s.fspSizePages > 0);
      const picks: { req: GetPageRequest; file: string; pageSize: number }[] = [];
      for (let i = 0; i < 60; i++) {
        const s = spaces[rand(spaces.length)]!;
        picks.push({ req: { spaceId: s.spaceId, pageNo: rand(s.fspSizePages), lsn }, file: join(applyDir, s.path), pageSize: s.pageSize });
      }
      const items = await getPages(timeline, picks.map((p) => p.req));
      for (const [i, p] of picks.entries()) {
        const expected = readFileSync(p.file).subarray(p.req.pageNo * p.pageSize, (p.req.pageNo + 1) * p.pageSize);
        const item = items[i]!;
        const where = `space ${p.req.spaceId} page ${p.req.pageNo} at LSN ${lsn}`;
        if (expected.every((b) => b === 0)) {
          expect(item.status, where).toBe(GetPageStatus.NOT_FOUND);
        } else {
          expect(item.status, where).toBe(GetPageStatus.OK);
          if (item.status !== GetPageStatus.OK) continue;
          expect(Buffer.from(item.page).equals(expected), where).toBe(true);
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(40);

    // The CLI's single-page path, and the "not yet" status past the end.
    const first = (await listTablespaces(applied.get(lsns[0]!)!)).find((s) => s.spaceId !== 0 && s.fspSizePages > 3)!;
    const outFile = join(dir, 'page.bin');
    const r = await runStrata(['page', 'get', '--pageserver', ps.hostPort, '--tenant', tenant, '--timeline', timeline, '--space', String(first.spaceId), '--page', '3', '--lsn', String(lsns[0]), '--out', outFile]);
    expect(r.code, r.stderr).toBe(0);
    const file = readFileSync(join(applied.get(lsns[0]!)!, first.path));
    expect(readFileSync(outFile).equals(file.subarray(3 * first.pageSize, 4 * first.pageSize))).toBe(true);
    const [late] = await getPages(timeline, [{ spaceId: 0, pageNo: 0, lsn: endLsn + 1_000_000n }]);
    expect(late?.status).toBe(GetPageStatus.NOT_YET_AVAILABLE);
    expect(late?.lsn).toBe(endLsn);
    // The disk budget evicts uploaded layers (a check every 5 s; uploads to S3 may lag under load): it does so within a minute.
    await until('the disk budget to evict layers', async () => {
      const metrics = await (await fetch(`${ps.url}/metrics`)).text();
      const evictions = /^pageserver_layer_evictions_total\{[^}]*\} (\d+)/m.exec(metrics);
      return Number(evictions?.[1] ?? 0) > 0;
    }, 60_000);
    // The tier family tells the same story side by side: memory misses, local evictions, layers back from remote, remote bytes.
    const metrics = await (await fetch(`${ps.url}/metrics`)).text();
    const tier = (family: string, name: string): number => Number(new RegExp(`^pageserver_tier_${family}\\{tier="${name}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? -1);
    expect(tier('evictions_total', 'local')).toBeGreaterThan(0);
    expect(tier('promotions_total', 'local')).toBeGreaterThan(0);
    expect(tier('bytes', 'remote')).toBeGreaterThan(0);
    expect(tier('bytes', 'local')).toBeGreaterThan(0);
    expect(tier('hits_total', 'local') + tier('hits_total', 'remote')).toBeGreaterThan(0);
    // The budget and what the local tier holds, for the console's "disk budget near full" alert.
    const status = (await (await fetch(`${ps.url}/v1/status`)).json()) as { diskBudgetBytes: number | null; localLayerBytes: number };
    expect(status.diskBudgetBytes).toBe(4 << 20);
    expect(status.localLayerBytes).toBeGreaterThan(0);
  });
});
