/**
 * The page server's storage engine against a real MariaDB workload: import a
 * clean base, ingest the redo that followed into layers, and take
 * basebackups that must match MariaDB's own datadir and boot.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLogFile, readAuxFiles } from '@strata/datadir';
import { importDatadir, RemoteTimeline, restoreTimelineDir, Timeline, writeBasebackup } from '../../apps/pageserver/src/storage/index.js';
import { openRemoteStorage } from '@strata/remote-storage';
import { S3RVER_CREDENTIALS, startS3rver } from '../../packages/remote-storage/src/s3rver.test-util.js';
import { comparePages, formatComparison } from '../support/datadir-compare.js';
import { checksumTables, checkTables, removeTempDir, startMariadb } from '../support/mariadb.js';
import { recordWorkload, runStrata, withConnection } from '../support/redo-scenario.js';

const IDS = { tenantId: '11111111111111111111111111111111', timelineId: '22222222222222222222222222222222' };
let rec: Awaited<ReturnType<typeof recordWorkload>>;
let work: string;

async function exec(c: Connection, ...sql: string[]): Promise<void> {
  for (const s of sql) await c.query(s);
}

beforeAll(async () => {
  rec = await recordWorkload({
    name: 'ps',
    setup: async (c) => {
      await exec(c, 'CREATE DATABASE p', 'CREATE TABLE p.t (id INT PRIMARY KEY, k INT, v VARCHAR(200), b BLOB, KEY (k)) ENGINE=InnoDB', 'INSERT INTO p.t SELECT seq, seq % 50, CONCAT(\'v\', seq), NULL FROM seq_1_to_2000');
    },
    workload: async (c) => {
      await exec(
        c,
        'INSERT INTO p.t SELECT seq, seq % 50, REPEAT(\'w\', seq % 180), IF(seq % 100 = 0, REPEAT(\'b\', 30000), NULL) FROM seq_2001_to_12000',
        'UPDATE p.t SET v = CONCAT(v, \'+\') WHERE id % 3 = 0',
        'DELETE FROM p.t WHERE id BETWEEN 4000 AND 7000',
        'CREATE TABLE p.n (id INT PRIMARY KEY, v INT) ENGINE=InnoDB',
        'INSERT INTO p.n SELECT seq, seq FROM seq_1_to_5000',
        'RENAME TABLE p.n TO p.renamed',
      );
    },
  });
  work = join(rec.dir, 'ps');
  mkdirSync(work, { recursive: true });
}, 600_000);

afterAll(async () => {
  await removeTempDir(rec.dir);
});

function ingestAll(tl: Timeline, from: bigint, until?: bigint): bigint {
  const reader = openLogFile(join(rec.final, 'ib_logfile0'));
  try {
    for (const m of reader.mtrs(from, tl.pageSize)) {
      if (until !== undefined && m.endLsn > until) break;
      tl.ingest(m);
    }
  } finally {
    reader.close();
  }
  return tl.lastRecordLsn;
}

async function bootAndChecksum(dir: string): Promise<{ sums: Map<string, string>; failures: unknown[] }> {
  const server = await startMariadb(dir);
  try {
    return await withConnection(server, async (c) => ({ sums: await checksumTables(c), failures: await checkTables(c) }));
  } finally {
    await server.shutdown();
  }
}

describe('page server storage', () => {
  it('[IMPORT+INGEST] basebackup at the end LSN equals MariaDB\'s datadir page for page and boots with the same checksums', async () => {
    const dir = join(work, 'tl');
    const imported = importDatadir(rec.base, dir, IDS);
    expect(imported.pages).toBeGreaterThan(100);
    const tl = Timeline.load(dir, { checkpointBytes: 1 << 20 });
    const end = ingestAll(tl, imported.lsn);
    // Frozen layers are written in the background.
    await tl.flushed();
    expect(tl.layers.filter((l) => l.kind === 'delta').length).toBeGreaterThan(2);
    // The compute's shipper captures .frm and friends; here the final datadir stands in for it.
    tl.putAuxSet(end, readAuxFiles(rec.final));
    const out = join(work, 'bb-end');
    writeBasebackup(tl, end, out);
    const cmp = await comparePages(rec.final, out);
    expect(cmp.diffs, formatComparison(cmp)).toEqual([]);
    expect(cmp.missingInActual, formatComparison(cmp)).toEqual([]);
    const { sums, failures } = await bootAndChecksum(out);
    expect(failures).toEqual([]);
    expect(Object.fromEntries(sums)).toEqual(Object.fromEntries(rec.checksumsFinal));
    await tl.flushed();
    tl.close();
  });

  it('[RESTART] a reloaded timeline resumes ingest at its disk-consistent LSN and gives the same pages', async () => {
    const dir = join(work, 'tl2');
    const imported = importDatadir(rec.base, dir, { ...IDS, timelineId: '33333333333333333333333333333333' });
    const tl = Timeline.load(dir, { checkpointBytes: 256 << 10 });
    const reader = openLogFile(join(rec.final, 'ib_logfile0'));
    let n = 0;
    for (const m of reader.mtrs(imported.lsn, tl.pageSize)) {
      tl.ingest(m);
      if (++n === 3000) break;
    }
    reader.close();
    // Let the background writes of frozen layers finish, then "crash": drop the open layer; only what was flushed survives.
    await tl.flushed();
    tl.close();
    const again = Timeline.load(dir, { checkpointBytes: 1 << 20 });
    expect(again.lastRecordLsn).toBe(again.diskConsistentLsn);
    expect(again.diskConsistentLsn).toBeGreaterThan(imported.lsn);
    const end = ingestAll(again, again.diskConsistentLsn);
    const out = join(work, 'bb-restart');
    writeBasebackup(again, end, out);
    const cmp = await comparePages(rec.final, out);
    expect(cmp.diffs, formatComparison(cmp)).toEqual([]);
    await again.flushed();
    again.close();
  });

  it('[MID-LSN] a basebackup in the middle equals `redo apply --until-lsn` of the same LSN', async () => {
    const dir = join(work, 'tl3');
    const imported = importDatadir(rec.base, dir, { ...IDS, timelineId: '44444444444444444444444444444444' });
    const tl = Timeline.load(dir, { checkpointBytes: 2 << 20 });
    const end = ingestAll(tl, imported.lsn);
    for (const frac of [3n, 2n]) {
      // An mtr end LSN near 1/frac of the way.
      const target = imported.lsn + (end - imported.lsn) / frac;
      const reader = openLogFile(join(rec.final, 'ib_logfile0'));
      let cut = imported.lsn;
      for (const m of reader.mtrs(imported.lsn, tl.pageSize)) {
        if (m.endLsn > target) break;
        cut = m.endLsn;
      }
      reader.close();
      const bb = join(work, `bb-mid-${frac}`);
      writeBasebackup(tl, cut, bb);
      const applied = join(work, `apply-mid-${frac}`);
      rmSync(applied, { recursive: true, force: true });
      const r = await runStrata(['redo', 'apply', '--base', rec.base, '--log', join(rec.final, 'ib_logfile0'), '--out', applied, '--until-lsn', String(cut), '--aux-from', rec.base]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`final LSN ${cut}`);
      const cmp = await comparePages(applied, bb);
      expect(cmp.diffs, formatComparison(cmp)).toEqual([]);
    }
    await tl.flushed();
    tl.close();
  });

  it('[REMOTE] layers go to S3 (s3rver); evicted layers and a wiped disk come back from it alone', async () => {
    const s3 = await startS3rver();
    process.env['AWS_ACCESS_KEY_ID'] = S3RVER_CREDENTIALS.accessKeyId;
    process.env['AWS_SECRET_ACCESS_KEY'] = S3RVER_CREDENTIALS.secretAccessKey;
    const storage = openRemoteStorage(`s3://${s3.bucket}/ps?endpoint=${s3.endpoint}&region=us-east-1`);
    try {
      const ids = { ...IDS, timelineId: '55555555555555555555555555555555' };
      const remote = () => new RemoteTimeline(storage, RemoteTimeline.prefixFor(ids.tenantId, ids.timelineId));
      const dir = join(work, 'tl5');
      const r1 = remote();
      const imported = importDatadir(rec.base, dir, ids, undefined, { remote: r1 });
      const tl = Timeline.load(dir, { checkpointBytes: 1 << 20, remote: r1 });
      const end = ingestAll(tl, imported.lsn);
      tl.flush();
      tl.putAuxSet(end, readAuxFiles(rec.final));
      await r1.drain();
      expect(r1.snapshot().remoteConsistentLsn).toBe(end);
      expect(r1.snapshot().failures).toBe(0);
      // Evict everything local; reads download on demand.
      const before = tl.getPageRaw({ spaceId: 0, pageNo: 5 }, end)!;
      expect(tl.evictLayers(0).length).toBe(tl.metaSnapshot.layers.length);
      expect(tl.localLayerBytes()).toBe(0);
      const after = (await tl.getPageAsync({ spaceId: 0, pageNo: 5 }, end))!;
      expect(Buffer.from(after.page).equals(Buffer.from(before.page))).toBe(true);
      await tl.flushed();
      tl.close();
      // Wipe the local disk entirely: the timeline comes back from remote storage alone.
      rmSync(dir, { recursive: true, force: true });
      const r2 = remote();
      const meta = await restoreTimelineDir(r2, dir);
      expect(meta?.diskConsistentLsn).toBe(end);
      const back = Timeline.load(dir, { remote: r2 });
      await back.ensureAllLocal();
      const out = join(work, 'bb-remote');
      writeBasebackup(back, end, out);
      const cmp = await comparePages(rec.final, out);
      expect(cmp.diffs, formatComparison(cmp)).toEqual([]);
      const { sums } = await bootAndChecksum(out);
      expect(Object.fromEntries(sums)).toEqual(Object.fromEntries(rec.checksumsFinal));
      await back.flushed();
      back.close();
    } finally {
      await storage.close();
      await s3.stop();
    }
  });
});

describe('import of an existing database', () => {
  it('[MARIABACKUP] a datadir prepared by `mariabackup --prepare` imports, and its basebackup boots with the same checksums', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const run = promisify(execFile);
    const { installDatadir, startMariadb: start, makeTempDir: mk } = await import('../support/mariadb.js');
    const d = await mk('strata-mbk-');
    try {
      const live = join(d, 'live');
      await installDatadir(live, { logFileSize: '64M' });
      const server = await start(live, { logFileSize: '64M' });
      let sums: Map<string, string>;
      try {
        // The backup is taken from a running server with committed and uncommitted work in flight.
        sums = await withConnection(server, async (c) => {
          await exec(c, 'CREATE DATABASE m', 'CREATE TABLE m.t (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB', 'INSERT INTO m.t SELECT seq, CONCAT(\'v\', seq) FROM seq_1_to_20000');
          return checksumTables(c);
        });
        const open = await server.connect({ database: 'test' });
        await open.beginTransaction();
        await open.query('INSERT INTO m.t SELECT 100000 + seq, \'uncommitted\' FROM seq_1_to_500');
        const target = join(d, 'backup');
        await run('mariadb-backup', ['--backup', `--target-dir=${target}`, '--user=root', '--host=127.0.0.1', `--port=${server.port}`, `--datadir=${live}`], { maxBuffer: 64 << 20 });
        await open.rollback();
        await open.end();
        await run('mariadb-backup', ['--prepare', `--target-dir=${target}`], { maxBuffer: 64 << 20 });
      } finally {
        await server.shutdown();
      }
      const tl = join(d, 'tl');
      const imported = importDatadir(join(d, 'backup'), tl, { ...IDS, timelineId: '66666666666666666666666666666666' });
      const timeline = Timeline.load(tl);
      const out = join(d, 'bb');
      writeBasebackup(timeline, imported.lsn, out);
      await timeline.flushed();
      timeline.close();
      const booted = await bootAndChecksum(out);
      expect(booted.failures).toEqual([]);
      expect(Object.fromEntries(booted.sums)).toEqual(Object.fromEntries(sums));
    } finally {
      await removeTempDir(d);
    }
  });
});
