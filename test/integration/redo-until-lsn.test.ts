/**
 * `strata redo apply --until-lsn`: a datadir cut in the middle of a workload
 * boots and shows exactly what was committed before the cut; a transaction
 * still open at the cut is rolled back from the rebuilt undo pages.
 */
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { openLogFile } from '@strata/datadir';
import { checkTables, readLogCheckpoint, removeTempDir, startMariadb } from '../support/mariadb.js';
import { recordWorkload, runStrata, withConnection } from '../support/redo-scenario.js';

const BATCHES = 6;
const ROWS = 300;

async function currentLsn(q: (sql: string) => Promise<RowDataPacket[]>): Promise<bigint> {
  const rows = await q('SHOW ENGINE INNODB STATUS');
  const m = /Log sequence number\s+(\d+)/.exec(String(rows[0]?.['Status']));
  if (!m?.[1]) throw new Error('no LSN in SHOW ENGINE INNODB STATUS');
  return BigInt(m[1]);
}

describe('redo apply --until-lsn', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await removeTempDir(d);
  });

  it('[UNTIL] each cut shows exactly the transactions committed before it', async () => {
    const cuts: Array<{ lsn: bigint; committed: number }> = [];
    const rec = await recordWorkload({
      name: 'until',
      setup: async (c) => {
        await c.query('CREATE DATABASE u');
        await c.query('CREATE TABLE u.t (id INT PRIMARY KEY, batch INT NOT NULL, v VARCHAR(100) NOT NULL, KEY (batch)) ENGINE=InnoDB');
      },
      workload: async (c, server) => {
        const q = async (sql: string) => (await c.query<RowDataPacket[]>(sql))[0];
        // A long transaction on another connection stays open across every cut. Its rows sit below
        // the batches' key ranges so the batches' PK range scans never wait on its locks.
        const open = await server.connect({ database: 'test' });
        await open.beginTransaction();
        await open.query(`INSERT INTO u.t SELECT seq, 99, 'uncommitted' FROM seq_1_to_500`);
        for (let b = 1; b <= BATCHES; b++) {
          await c.query(`INSERT INTO u.t SELECT ${b * 10000} + seq, ${b}, CONCAT('batch ', ${b}, ' row ', seq) FROM seq_1_to_${ROWS}`);
          await c.query(`UPDATE u.t SET v = CONCAT(v, '+') WHERE id BETWEEN ${b * 10000 + 1} AND ${b * 10000 + ROWS} AND id % 4 = 0`);
          cuts.push({ lsn: await currentLsn(q), committed: b });
        }
        await open.commit();
        await open.end();
      },
    });
    dirs.push(rec.dir);
    for (const cut of [cuts[0]!, cuts[2]!, cuts[BATCHES - 1]!]) {
      const out = join(rec.dir, `out-${cut.committed}`);
      const apply = await runStrata(['redo', 'apply', '--base', rec.base, '--log', join(rec.final, 'ib_logfile0'), '--out', out, '--aux-from', rec.final, '--until-lsn', String(cut.lsn)]);
      expect(apply.code, apply.stderr).toBe(0);
      const finalLsn = BigInt(/final LSN (\d+)/.exec(apply.stdout)?.[1] ?? '0');
      expect(finalLsn).toBeLessThanOrEqual(cut.lsn);
      const server = await startMariadb(out);
      try {
        const rows = await withConnection(server, async (c) => {
          const [r] = await c.query<RowDataPacket[]>('SELECT batch, COUNT(*) AS n, SUM(v LIKE \'%+\') AS plus FROM u.t GROUP BY batch ORDER BY batch');
          const failures = await checkTables(c, ['u.t']);
          expect(failures).toEqual([]);
          return r.map((x) => ({ batch: Number(x['batch']), n: Number(x['n']), plus: Number(x['plus']) }));
        });
        const expected = Array.from({ length: cut.committed }, (_, i) => ({ batch: i + 1, n: ROWS, plus: ROWS / 4 }));
        expect(rows, `cut at ${cut.lsn} after batch ${cut.committed}`).toEqual(expected);
      } finally {
        await server.shutdown();
      }
    }

    // An LSN inside an mtr rounds down to the end of the mtr before it (the first mtr past the second cut).
    const reader = openLogFile(join(rec.final, 'ib_logfile0'));
    let inside: { startLsn: bigint; endLsn: bigint } | undefined;
    try {
      for (const m of reader.mtrs((await readLogCheckpoint(rec.base)).endLsn, 16384)) {
        if (m.startLsn >= cuts[1]!.lsn && m.endLsn - m.startLsn >= 2n) {
          inside = { startLsn: m.startLsn, endLsn: m.endLsn };
          break;
        }
      }
    } finally {
      reader.close();
    }
    expect(inside).toBeDefined();
    const mid = inside!.startLsn + 1n;
    const cutInside = await runStrata(['redo', 'apply', '--base', rec.base, '--log', join(rec.final, 'ib_logfile0'), '--out', join(rec.dir, 'out-inside'), '--aux-from', rec.final, '--until-lsn', String(mid)]);
    expect(cutInside.code, cutInside.stderr).toBe(0);
    expect(cutInside.stdout).toContain(`final LSN ${inside!.startLsn}\n`);
  });
});
