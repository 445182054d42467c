/**
 * Self-test of the integration harness: a private mariadbd on a temp datadir, driven end to
 * end, and the page comparator checked against datadirs whose relation we know.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { crc32c } from '../../packages/core/src/redo/crc32c.js';
import {
  comparePages,
  copyDatadir,
  formatComparison,
  listTablespaces,
  pageSizesFromFlags,
} from '../support/datadir-compare.js';
import {
  checkTables,
  checksumTables,
  cleanupTempDirs,
  installDatadir,
  killAllMariadb,
  makeTempDir,
  readCheckpointLsn,
  readLogCheckpoint,
  startMariadb,
} from '../support/mariadb.js';

const SERVER_TEST_TIMEOUT_MS = 240_000;

afterAll(async () => {
  await killAllMariadb();
  await cleanupTempDirs();
}, 60_000);

describe('[HARNESS] pure helpers', () => {
  it('decodes page sizes from FSP_SPACE_FLAGS like fil_space_t::logical_size', () => {
    expect(pageSizesFromFlags(0x15)).toEqual({ logical: 16384, physical: 16384, fullCrc32: true });
    expect(pageSizesFromFlags(0x13)).toEqual({ logical: 4096, physical: 4096, fullCrc32: true });
    expect(pageSizesFromFlags(0x21)).toEqual({ logical: 16384, physical: 16384, fullCrc32: false });
    // Legacy flags: page ssize 3 (4 KiB) in bits 6..9; ROW_FORMAT=COMPRESSED zip ssize 4 (8 KiB).
    expect(pageSizesFromFlags((3 << 6) | 1)).toMatchObject({ logical: 4096, physical: 4096 });
    expect(pageSizesFromFlags((4 << 1) | 0x21)).toMatchObject({ logical: 16384, physical: 8192 });
    expect(() => pageSizesFromFlags(0x10)).toThrow(/invalid/);
  });
});

describe('[HARNESS] private mariadbd', () => {
  it(
    'installs, serves, checksums, shuts down cleanly and moves the checkpoint forward',
    async () => {
      const root = await makeTempDir('harness');
      const datadir = path.join(root, 'data');
      const tInstall = Date.now();
      await installDatadir(datadir);
      const installMs = Date.now() - tInstall;
      const lsnAfterInstall = await readCheckpointLsn(datadir);

      const tStart = Date.now();
      const server = await startMariadb(datadir);
      const startMs = Date.now() - tStart;
      expect(server.port).not.toBe(3306);
      expect(Buffer.byteLength(server.socket)).toBeLessThan(108);

      const conn = await server.connect();
      await conn.query('CREATE DATABASE lab');
      await conn.query(
        'CREATE TABLE lab.t (id INT PRIMARY KEY, v VARCHAR(200) NOT NULL) ENGINE=InnoDB',
      );
      const rows = Array.from({ length: 500 }, (_, i) => [i, `row-${i}-${'x'.repeat(i % 150)}`]);
      const [insert] = await conn.query<ResultSetHeader>('INSERT INTO lab.t VALUES ?', [rows]);
      expect(insert.affectedRows).toBe(500);

      const sums = await checksumTables(conn);
      expect([...sums.keys()]).toEqual(['lab.t']);
      expect(sums.get('lab.t')).toMatch(/^\d+$/);
      expect(await checkTables(conn)).toEqual([]);
      const [count] = await conn.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM lab.t');
      expect(count[0]?.['n']).toBe(500);
      await conn.end();

      const tShutdown = Date.now();
      await server.shutdown();
      const shutdownMs = Date.now() - tShutdown;
      expect(server.exited).toBe(true);
      expect(await server.errorLogTail(5)).toMatch(/Shutdown complete/);

      const checkpoint = await readLogCheckpoint(datadir);
      expect(checkpoint.checkpointLsn).toBeGreaterThan(lsnAfterInstall);
      // A clean shutdown leaves checkpoint == end (the FILE_CHECKPOINT mtr follows).
      expect(checkpoint.endLsn).toBe(checkpoint.checkpointLsn);

      const spaces = await listTablespaces(datadir);
      const byPath = new Map(spaces.map((s) => [s.path, s]));
      expect(byPath.get('ibdata1')).toMatchObject({ spaceId: 0, pageSize: 16384, fullCrc32: true });
      const t = byPath.get('lab/t.ibd');
      expect(t?.pageSize).toBe(16384);
      expect(t?.spaceId).toBeGreaterThan(0);
      expect(new Set(spaces.map((s) => s.spaceId)).size).toBe(spaces.length);

      // The same datadir against a copy of itself: nothing differs.
      const copy = path.join(root, 'copy');
      await copyDatadir(datadir, copy);
      const same = await comparePages(datadir, copy);
      expect(same.diffs, formatComparison(same)).toEqual([]);
      expect(same.freedOrUnwritten).toEqual([]);
      expect(same.missingInActual).toEqual([]);
      expect(same.extraInActual).toEqual([]);
      expect(same.sizeMismatches).toEqual([]);
      expect(same.pagesCompared).toBeGreaterThan(600);

      // The copy boots, and a read-only server leaves every tablespace untouched.
      const ro = await startMariadb(copy, { readOnly: true });
      const roConn = await ro.connect();
      expect(await checksumTables(roConn)).toEqual(sums);
      await roConn.end();
      await ro.shutdown();
      const afterRo = await comparePages(datadir, copy);
      expect(afterRo.diffs, formatComparison(afterRo)).toEqual([]);

      // Change the copy; comparing base → changed copy must find exactly the changed pages.
      const rw = await startMariadb(copy);
      await rw.query('UPDATE lab.t SET v = CONCAT(v, "!") WHERE id < 10');
      await rw.shutdown();
      const changed = await comparePages(copy, datadir, { onlyChangedSince: datadir });
      expect(changed.diffs.length).toBeGreaterThan(0);
      expect(changed.diffs.some((d) => d.path === 'lab/t.ibd')).toBe(true);
      for (const d of changed.diffs) expect(d.expectedLsn).toBeGreaterThan(d.actualLsn);
      // Skipping is honoured.
      const skipped = await comparePages(copy, datadir, { onlyChangedSince: datadir, skip: () => true });
      expect(skipped.diffs).toEqual([]);
      expect(skipped.pagesCompared).toBe(0);

      console.log(
        `[harness] install ${installMs} ms, start ${startMs} ms, slow shutdown ${shutdownMs} ms; ` +
          `checkpoint ${lsnAfterInstall} -> ${checkpoint.checkpointLsn}; ` +
          `${changed.diffs.length} pages changed by the UPDATE`,
      );
    },
    SERVER_TEST_TIMEOUT_MS,
  );

  it(
    'comparePages reports real differences, masks the flush-LSN field and sets freed pages apart',
    async () => {
      const root = await makeTempDir('harness-cmp');
      const datadir = path.join(root, 'data');
      await installDatadir(datadir);
      const server = await startMariadb(datadir);
      const conn = await server.connect();
      await conn.query('CREATE DATABASE lab');
      await conn.query('CREATE TABLE lab.f (id INT PRIMARY KEY, v VARCHAR(500)) ENGINE=InnoDB');
      await conn.query("INSERT INTO lab.f SELECT seq, REPEAT('a', 400) FROM lab.seq_1_to_8000");
      // Flush every page now, so the pages the purge frees below stay stale on disk.
      await conn.query('SET GLOBAL innodb_max_dirty_pages_pct = 0');
      for (let i = 0; i < 200; i++) {
        const [dirty] = await conn.query<RowDataPacket[]>(
          "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'",
        );
        if (dirty[0]?.['Value'] === '0') break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await conn.query('DELETE FROM lab.f WHERE id > 100');
      await conn.end();
      await server.shutdown(); // slow shutdown: purge frees the emptied leaf pages

      const copy = path.join(root, 'copy');
      await copyDatadir(datadir, copy);
      const f = await fs.open(path.join(copy, 'lab/f.ibd'), 'r+');
      const t = await fs.open(path.join(copy, 'ibdata1'), 'r+');
      const expectedIbdata = await fs.readFile(path.join(datadir, 'ibdata1'));
      const expectedF = await fs.readFile(path.join(datadir, 'lab/f.ibd'));
      const page = (buf: Buffer, n: number): Buffer => buf.subarray(n * 16384, (n + 1) * 16384);
      let nonZeroPagesAbove3 = 0;
      try {
        // Zero every page from 3 on: the in-use ones must differ, the stale freed ones not.
        for (let n = 3; n * 16384 < expectedF.length; n++) {
          if (page(expectedF, n).some((b) => b !== 0)) nonZeroPagesAbove3++;
          await f.write(Buffer.alloc(16384), 0, 16384, n * 16384);
        }
        // Page 2 (inode): one flipped body byte.
        const inode = Buffer.from(page(expectedF, 2));
        inode[200] = inode[200]! ^ 0xff;
        await f.write(inode, 0, 16384, 2 * 16384);
        // Page 1: a different FIL_PAGE_FILE_FLUSH_LSN with a matching full_crc32 checksum.
        const bitmap = Buffer.from(page(expectedF, 1));
        bitmap.writeBigUInt64BE(0x1234n, 26);
        bitmap.writeUInt32BE(crc32c(bitmap, 0, 16380), 16380);
        await f.write(bitmap, 0, 16384, 16384);
        // An all-zero page of ibdata1 outside the doublewrite buffer gets junk.
        let zeroPageNo = -1;
        for (let n = 192; n * 16384 < expectedIbdata.length; n++) {
          if (page(expectedIbdata, n).every((b) => b === 0)) {
            zeroPageNo = n;
            break;
          }
        }
        expect(zeroPageNo).toBeGreaterThan(0);
        await t.write(Buffer.alloc(16384, 0x5a), 0, 16384, zeroPageNo * 16384);
        // The doublewrite buffer is never compared.
        await t.write(Buffer.alloc(16384, 0x77), 0, 16384, 70 * 16384);
      } finally {
        await f.close();
        await t.close();
      }

      const r = await comparePages(datadir, copy);
      const fDiffs = r.diffs.filter((d) => d.path === 'lab/f.ibd');
      const free = r.freedOrUnwritten.filter((u) => u.reason === 'free-in-expected');
      expect(r.diffs.filter((d) => d.path !== 'lab/f.ibd')).toEqual([]);
      expect(fDiffs.find((d) => d.pageNo === 2)?.firstDiffOffset).toBe(200);
      expect(fDiffs.some((d) => d.pageNo === 1)).toBe(false);
      expect(free.length).toBeGreaterThan(0);
      expect(free.every((u) => u.path === 'lab/f.ibd')).toBe(true);
      // Every non-zero page from 3 on is either in use (a diff) or freed.
      expect(fDiffs.filter((d) => d.pageNo >= 3).length + free.length).toBe(nonZeroPagesAbove3);
      expect(r.freedOrUnwritten.filter((u) => u.reason === 'zero-in-expected')).toEqual([
        expect.objectContaining({ path: 'ibdata1', spaceId: 0, expectedLsn: 0n }),
      ]);
      console.log(
        `[harness] lab/f.ibd: ${fDiffs.length} in-use pages differ, ${free.length} stale freed pages set apart`,
      );
    },
    SERVER_TEST_TIMEOUT_MS,
  );

  it(
    'kill() crashes the server and the next start recovers from the redo log',
    async () => {
      const root = await makeTempDir('harness-crash');
      const datadir = path.join(root, 'data');
      await installDatadir(datadir);
      const first = await startMariadb(datadir);
      await first.query('CREATE DATABASE lab');
      await first.query('CREATE TABLE lab.c (id INT PRIMARY KEY) ENGINE=InnoDB');
      await first.query('INSERT INTO lab.c SELECT seq FROM lab.seq_1_to_1000');
      await first.kill();
      expect(first.exited).toBe(true);

      const second = await startMariadb(datadir);
      const [rows] = await second.connect().then(async (c) => {
        try {
          return await c.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM lab.c');
        } finally {
          await c.end();
        }
      });
      expect(rows[0]?.['n']).toBe(1000);
      expect(await second.errorLogTail(200)).toMatch(/Starting crash recovery|recovery/i);
      await second.shutdown();
    },
    SERVER_TEST_TIMEOUT_MS,
  );

  it('a server that cannot start fails fast with its error log', async () => {
    const root = await makeTempDir('harness-bad');
    await expect(startMariadb(path.join(root, 'missing'))).rejects.toThrow(/does not exist/);
    const empty = path.join(root, 'empty');
    await fs.mkdir(empty);
    const t0 = Date.now();
    // Printed before --log-error takes effect: must still reach the error log and the message.
    await expect(startMariadb(empty, { extraArgs: ['--no-such-option=1'] })).rejects.toThrow(
      /during startup[\s\S]*unknown (variable|option)/i,
    );
    expect(Date.now() - t0).toBeLessThan(30_000);
  }, 60_000);
});
