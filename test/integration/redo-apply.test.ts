/**
 * `strata redo apply` against real MariaDB 10.11 workloads: every page
 * MariaDB wrote after the base must come out byte for byte, and a server
 * booted on the result must return the same CHECKSUM TABLE and pass CHECK TABLE.
 */
import type { Connection } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { cp, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runRedoScenario, runStrata, type ScenarioResult } from '../support/redo-scenario.js';
import { formatComparison } from '../support/datadir-compare.js';
import { listTablespaceFiles } from '@strata/datadir';
import { replayPartition, WHOLE } from '../../apps/cli/src/datadir/replay-partition.js';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

async function exec(c: Connection, ...sql: string[]): Promise<void> {
  for (const s of sql) await c.query(s);
}

/** Records `redo apply` skipped because a later mtr initialises or frees their page. */
const superseded = (stdout: string): number => Number(/records superseded by a later init or free of their page (\d+)/.exec(stdout)?.[1] ?? NaN);

function expectIdentical(r: ScenarioResult): void {
  cleanups.push(r.cleanup);
  const c = r.comparison;
  expect(c.diffs, r.report).toEqual([]);
  expect(c.missingInActual, r.report).toEqual([]);
  expect(c.extraInActual, r.report).toEqual([]);
  expect(c.pagesCompared).toBeGreaterThan(0);
  expect(r.checkFailures, r.report).toEqual([]);
  expect(r.recoveredOnBoot, `mariadbd ran crash recovery on the rebuilt datadir\n${r.report}`).toBe(false);
  expect(Object.fromEntries(r.checksumsOut), r.report).toEqual(Object.fromEntries(r.checksumsFinal));
  expect(r.finalCheckpoint).toBeGreaterThan(r.baseCheckpoint);
  const finalLsn = /final LSN (\d+)/.exec(r.applyStdout)?.[1];
  for (const v of r.variantComparisons) {
    const what = `redo apply ${v.args.join(' ')}\n${v.stdout}${formatComparison(v.comparison)}`;
    expect(v.comparison.diffs, what).toEqual([]);
    expect(v.comparison.missingInActual, what).toEqual([]);
    expect(v.comparison.extraInActual, what).toEqual([]);
    expect(v.comparison.pagesCompared, what).toBe(c.pagesCompared);
    // The same mtrs and records, whatever the threads.
    expect(/final LSN (\d+)/.exec(v.stdout)?.[1], what).toBe(finalLsn);
    expect(/applied (\d+ mtrs, \d+ records)/.exec(v.stdout)?.[1], what).toBe(/applied (\d+ mtrs, \d+ records)/.exec(r.applyStdout)?.[1]);
    expect(superseded(v.stdout), what).toBe(superseded(r.applyStdout));
  }
}

/** One thread with a cache of 16 pages (evictions all the time), and three threads (barriers around every file operation). */
const THREAD_VARIANTS = [
  ['--jobs', '1', '--page-cache-mib', '0.25'],
  ['--jobs', '3', '--page-cache-mib', '0.25'],
] as const;

const ROW_FORMATS = ['REDUNDANT', 'COMPACT', 'DYNAMIC'] as const;

describe('redo apply rebuilds what MariaDB wrote', () => {
  it('[DML] inserts with page splits, secondary indexes, BLOBs, updates, deletes, purge, rollback, in every row format', async () => {
    const r = await runRedoScenario({
      name: 'dml',
      variants: THREAD_VARIANTS,
      setup: async (c) => {
        await exec(c, 'CREATE DATABASE w');
        for (const f of ROW_FORMATS) {
          await exec(
            c,
            `CREATE TABLE w.t_${f} (id INT PRIMARY KEY, k INT NOT NULL, v VARCHAR(200) NOT NULL, b MEDIUMBLOB, n DECIMAL(12,2), KEY k (k), KEY vk (v(20), k)) ENGINE=InnoDB ROW_FORMAT=${f}`,
            `INSERT INTO w.t_${f} SELECT seq, seq % 97, CONCAT('row-', seq), NULL, seq / 3 FROM seq_1_to_500`,
          );
        }
      },
      workload: async (c) => {
        for (const f of ROW_FORMATS) {
          const t = `w.t_${f}`;
          await exec(
            c,
            // Page splits: thousands of rows, out of order.
            `INSERT INTO ${t} SELECT seq, seq % 89, CONCAT('r', seq, REPEAT('x', seq % 150)), NULL, seq FROM seq_501_to_6000`,
            `INSERT INTO ${t} SELECT 100000 - seq, seq % 7, REPEAT('y', 100), NULL, NULL FROM seq_1_to_2000`,
            // Off-page BLOBs.
            `UPDATE ${t} SET b = REPEAT(CHAR(65 + id % 26), 20000 + id) WHERE id BETWEEN 100 AND 140`,
            // In place (same size) and not (size changes, key changes).
            `UPDATE ${t} SET n = n + 1 WHERE id % 5 = 0`,
            `UPDATE ${t} SET v = CONCAT(v, '-grown-', id) WHERE id % 7 = 0`,
            `UPDATE ${t} SET k = k + 1000, v = LEFT(v, 5) WHERE id % 11 = 0`,
            // Deletes and purge (a slow shutdown purges everything), with page merges.
            `DELETE FROM ${t} WHERE id BETWEEN 1000 AND 4500`,
            `DELETE FROM ${t} WHERE id % 3 = 0 AND id < 1000`,
          );
          // A rolled-back transaction leaves only undo behind.
          await c.beginTransaction();
          await exec(c, `INSERT INTO ${t} SELECT seq, 1, 'rolled back', NULL, NULL FROM seq_200000_to_200300`, `DELETE FROM ${t} WHERE id < 50`);
          await c.rollback();
        }
      },
    });
    expectIdentical(r);
    console.log(r.report);
    // Long runs report where they are (every 8 MiB of redo).
    expect(r.applyStderr).toMatch(/^progress: LSN \d+, [\d.]+ MiB of redo \(\d+%\), \d+ mtrs, \d+ records$/m);
    // And so does the first pass that finds where pages start over.
    expect(r.applyStderr).toMatch(/^first pass: LSN \d+, [\d.]+ MiB of redo \(\d+%\)$/m);
    // The workload must really exercise the B-tree and undo records it claims to.
    for (const t of ['INSERT_HEAP_REDUNDANT', 'INSERT_HEAP_DYNAMIC', 'INSERT_REUSE_REDUNDANT', 'INSERT_REUSE_DYNAMIC', 'DELETE_ROW_FORMAT_REDUNDANT', 'DELETE_ROW_FORMAT_DYNAMIC', 'UNDO_INIT', 'UNDO_APPEND', 'INIT_ROW_FORMAT_REDUNDANT', 'INIT_ROW_FORMAT_DYNAMIC']) {
      expect(r.recordTypes.get(`EXTENDED/${t}`) ?? 0, `${t} in ${r.report}`).toBeGreaterThan(0);
    }
    expect(r.recordTypes.get('FREE_PAGE') ?? 0).toBeGreaterThan(0);
    // Undo pages reused and index pages freed: records crash recovery would drop are skipped, not applied, and the
    // pages still come out byte for byte (above).
    expect(superseded(r.applyStdout), r.applyStdout).toBeGreaterThan(0);

    // The base is copied while the first pass reads the log: a copy that fails meanwhile (here: --aux-from is missing)
    // is a clean error that leaves nothing behind, not an unhandled rejection that kills the process.
    const out = join(r.dir, 'out-of-failed-copy');
    const failed = await runStrata(['redo', 'apply', '--base', r.base, '--log', join(r.final, 'ib_logfile0'), '--out', out, '--aux-from', join(r.dir, 'missing')]);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(/^strata: ENOENT: no such file or directory, scandir .*missing'$/m);
    expect(failed.stderr, 'an unhandled rejection').not.toMatch(/^\s+at /m);
    expect((await readdir(r.dir)).filter((f) => f.startsWith('out-of-failed-copy')), 'a partial output directory').toEqual([]);

    // The replay goes no further than its first pass read (a log that grew since has no page resets for the rest).
    const grown = join(r.dir, 'out-first-pass-shorter');
    await cp(r.base, grown, { recursive: true, filter: (src) => !src.endsWith('/ib_logfile0') });
    const firstPassEnd = r.baseCheckpoint + (r.finalCheckpoint - r.baseCheckpoint) / 2n;
    const stopped = replayPartition(
      {
        outDir: grown,
        logPath: join(r.final, 'ib_logfile0'),
        files: listTablespaceFiles(grown).map((f) => ({ spaceId: f.spaceId, path: f.path })),
        pageSize: 16384,
        startLsn: r.baseCheckpoint,
        resets: new Map(),
        scanEndLsn: firstPassEnd,
      },
      WHOLE,
    );
    expect(stopped.endLsn).toBeLessThanOrEqual(firstPassEnd);
    expect(stopped.endLsn).toBeGreaterThan(r.baseCheckpoint);
    expect(stopped.logEndReason).toMatch(/the log grew during the replay: stopped at \d+, where its first pass ended/);
  });

  it('[DDL] instant ADD COLUMN, ADD INDEX, OPTIMIZE, TRUNCATE, RENAME, DROP, CREATE and many tables', async () => {
    const r = await runRedoScenario({
      name: 'ddl',
      variants: THREAD_VARIANTS,
      setup: async (c) => {
        await exec(c, 'CREATE DATABASE d');
        for (const name of ['instant', 'addidx', 'opt', 'trunc', 'ren', 'dropme']) {
          await exec(
            c,
            `CREATE TABLE d.${name} (id INT PRIMARY KEY, a INT, s VARCHAR(100)) ENGINE=InnoDB`,
            `INSERT INTO d.${name} SELECT seq, seq * 2, CONCAT('s', seq) FROM seq_1_to_3000`,
          );
        }
      },
      workload: async (c) => {
        await exec(
          c,
          'ALTER TABLE d.instant ADD COLUMN extra VARCHAR(30) NOT NULL DEFAULT \'dflt\', ALGORITHM=INSTANT',
          'INSERT INTO d.instant (id, a, s, extra) SELECT seq, seq, \'after-instant\', \'x\' FROM seq_3001_to_3500',
          'UPDATE d.instant SET extra = \'changed\' WHERE id % 10 = 0',
          'ALTER TABLE d.addidx ADD INDEX a_idx (a), ADD UNIQUE INDEX s_idx (s)',
          'DELETE FROM d.opt WHERE id % 2 = 0',
          'OPTIMIZE TABLE d.opt',
          'TRUNCATE TABLE d.trunc',
          'INSERT INTO d.trunc VALUES (1, 1, \'after truncate\')',
          'RENAME TABLE d.ren TO d.renamed',
          'INSERT INTO d.renamed VALUES (5000, 1, \'after rename\')',
          'DROP TABLE d.dropme',
          'CREATE TABLE d.newtable (id INT PRIMARY KEY AUTO_INCREMENT, v TEXT) ENGINE=InnoDB',
          'INSERT INTO d.newtable (v) SELECT REPEAT(\'n\', seq % 300) FROM seq_1_to_800',
        );
        for (let i = 0; i < 25; i++) {
          await exec(c, `CREATE TABLE d.many_${i} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB`, `INSERT INTO d.many_${i} SELECT seq, seq * ${i} FROM seq_1_to_${20 + i * 10}`);
        }
      },
    });
    expectIdentical(r);
    expect(r.applyStdout).toMatch(/tablespaces created [1-9]/);
    expect(r.applyStdout).toMatch(/deleted [1-9]/);
  });
});

/** A smaller DML mix for the server-configuration variants. */
async function smallDml(c: Connection): Promise<void> {
  await exec(
    c,
    'INSERT INTO v.t SELECT seq, seq % 13, REPEAT(CHAR(97 + seq % 26), seq % 300), IF(seq % 50 = 0, REPEAT(\'b\', 70000), NULL) FROM seq_1001_to_4000',
    'UPDATE v.t SET v = CONCAT(v, \'!\') WHERE id % 3 = 0',
    'DELETE FROM v.t WHERE id BETWEEN 1500 AND 2500',
    'CREATE TABLE v.later (id INT PRIMARY KEY, v VARCHAR(50)) ENGINE=InnoDB',
    'INSERT INTO v.later SELECT seq, \'later\' FROM seq_1_to_1000',
  );
}

const smallSetup = async (c: Connection): Promise<void> => {
  await exec(
    c,
    'CREATE DATABASE v',
    'CREATE TABLE v.t (id INT PRIMARY KEY, k INT, v VARCHAR(400), b LONGBLOB, KEY (k)) ENGINE=InnoDB',
    'INSERT INTO v.t SELECT seq, seq % 13, \'seed\', NULL FROM seq_1_to_1000',
  );
};

describe('redo apply under other server configurations', () => {
  it('[CHECKSUM] legacy crc32 tablespaces (innodb_checksum_algorithm=crc32) get the legacy checksum', async () => {
    const r = await runRedoScenario({ name: 'crc32', server: { extraArgs: ['--innodb-checksum-algorithm=crc32'] }, variants: THREAD_VARIANTS, setup: smallSetup, workload: smallDml });
    expectIdentical(r);
    const { listTablespaces } = await import('../support/datadir-compare.js');
    const spaces = await listTablespaces(r.out);
    expect(spaces.find((s) => s.path === 'v/t.ibd')?.fullCrc32).toBe(false);
    expect(spaces.find((s) => s.path === 'v/later.ibd')?.fullCrc32).toBe(false);
  });

  it('[UNDO] separate undo tablespaces, truncated by purge (TRIM_PAGES)', async () => {
    const undoArgs = ['--innodb-undo-tablespaces=2', '--innodb-undo-log-truncate=ON', '--innodb-max-undo-log-size=10M', '--innodb-purge-rseg-truncate-frequency=1'];
    const r = await runRedoScenario({
      name: 'undo',
      variants: THREAD_VARIANTS,
      server: { extraArgs: undoArgs, logFileSize: '512M' },
      setup: smallSetup,
      workload: async (c) => {
        // Big transactions grow the undo tablespaces past 10M; purge then truncates them.
        for (let round = 1; round <= 3; round++) {
          await exec(
            c,
            `INSERT INTO v.t SELECT 100000 * ${round} + seq, seq, REPEAT('u', 380), NULL FROM seq_1_to_12000`,
            `UPDATE v.t SET v = REPEAT(CHAR(65 + ${round}), 390) WHERE id > 100000 * ${round}`,
            `DELETE FROM v.t WHERE id > 100000 * ${round}`,
          );
        }
        await smallDml(c);
      },
    });
    expectIdentical(r);
    expect(r.recordTypes.get('EXTENDED/TRIM_PAGES') ?? 0, r.report).toBeGreaterThan(0);
    expect(r.applyStdout).toMatch(/undo truncations [1-9]/);
  });

  for (const pageSize of [4096, 65536]) {
    it(`[PAGESIZE] innodb_page_size=${pageSize / 1024}k`, async () => {
      const r = await runRedoScenario({ name: `ps${pageSize}`, server: { pageSize }, setup: smallSetup, workload: smallDml });
      expectIdentical(r);
    });
  }
});

describe('redo apply refuses what it cannot rebuild', () => {
  it('[COMPRESSED] ROW_FORMAT=COMPRESSED is refused with a clear error and no partial success', async () => {
    const { recordWorkload, runStrata } = await import('../support/redo-scenario.js');
    const { removeTempDir } = await import('../support/mariadb.js');
    const { join } = await import('node:path');
    const rec = await recordWorkload({
      name: 'zip',
      setup: async (c) => {
        await c.query('CREATE DATABASE z');
        await c.query('CREATE TABLE z.t (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8');
      },
      workload: async (c) => {
        await c.query('INSERT INTO z.t SELECT seq, REPEAT(\'z\', 50) FROM seq_1_to_2000');
      },
    });
    cleanups.push(() => removeTempDir(rec.dir));
    const r = await runStrata(['redo', 'apply', '--base', rec.base, '--log', join(rec.final, 'ib_logfile0'), '--out', join(rec.dir, 'out')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/UNSUPPORTED_PAGE.*ROW_FORMAT=COMPRESSED/);
    expect(r.stdout).not.toMatch(/final LSN/);
    // Nothing half-built is left behind to be mistaken for a datadir.
    const { existsSync, readdirSync } = await import('node:fs');
    expect(existsSync(join(rec.dir, 'out'))).toBe(false);
    expect(readdirSync(rec.dir).filter((n) => n.includes('partial'))).toEqual([]);
  });
});
