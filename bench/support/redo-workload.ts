/**
 * The workload whose redo the redo-apply benchmark replays: an OLTP-ish mix on three tables
 * with secondary indexes and off-page BLOBs, run in rounds until the server has written the
 * wanted amount of redo since the base.
 *
 * Every table is created before the base is taken, so the base's `.frm` files describe them and
 * MariaDB's own recovery of the span can be checked with CHECKSUM TABLE.
 */
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { StartOptions } from '../../test/support/mariadb.js';
import { recordWorkload } from '../../test/support/redo-scenario.js';

/** The tables the workload writes; the benchmark compares their CHECKSUM TABLE. */
export const WORKLOAD_TABLES = ['test.orders', 'test.events', 'test.docs'] as const;

/** A round never needs more; the bound catches a workload that stopped writing redo. */
const ROUNDS_MAX = 1000;
const SEED_ROWS = 20_000;
const ROUND_ID_STRIDE = 1_000_000;
const DOC_ID_STRIDE = 10_000;
const BLOBS_PER_ROUND = 150;
const POINT_UPDATES_PER_ROUND = 100;

export interface RecordedWorkload {
  /** Temp directory holding `base` and `final`; the caller removes it. */
  readonly dir: string;
  /** The datadir after a slow shutdown before the workload. */
  readonly base: string;
  /** The same datadir after the workload and another slow shutdown. */
  readonly final: string;
  /** CHECKSUM TABLE of every InnoDB user table, taken just before the final shutdown. */
  readonly checksumsFinal: Map<string, string>;
  readonly rounds: number;
  readonly rowsPerRound: number;
  /** Wall time of the rounds (not of installs, restarts and shutdowns). */
  readonly workloadMs: number;
}

async function exec(c: Connection, ...sql: string[]): Promise<void> {
  for (const s of sql) await c.query(s);
}

async function currentLsn(c: Connection): Promise<bigint> {
  const [rows] = await c.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Innodb_lsn_current'");
  const value: unknown = rows[0]?.['Value'];
  if (typeof value !== 'string' || !/^\d+$/.test(value)) throw new Error(`Innodb_lsn_current is ${String(value)}`);
  return BigInt(value);
}

async function setup(c: Connection): Promise<void> {
  await exec(
    c,
    `CREATE TABLE test.orders (
       id INT PRIMARY KEY, customer INT NOT NULL, status VARCHAR(16) NOT NULL,
       amount DECIMAL(12,2) NOT NULL, note VARCHAR(400) NOT NULL, created DATETIME NOT NULL,
       KEY customer (customer), KEY status_created (status, created)) ENGINE=InnoDB`,
    `CREATE TABLE test.events (
       id BIGINT AUTO_INCREMENT PRIMARY KEY, order_id INT NOT NULL, kind TINYINT NOT NULL,
       payload VARCHAR(500) NOT NULL, KEY order_kind (order_id, kind)) ENGINE=InnoDB`,
    `CREATE TABLE test.docs (
       id INT PRIMARY KEY, title VARCHAR(100) NOT NULL, body MEDIUMBLOB NOT NULL,
       KEY title (title)) ENGINE=InnoDB`,
    ordersInsert(0, SEED_ROWS),
    // Seeded so that the workload's inserts are logged row by row: InnoDB bulk-loads an empty
    // table with whole-page writes, a different (and rarer) kind of redo.
    eventsInsert(0, SEED_ROWS),
    `INSERT INTO test.docs SELECT seq, CONCAT('seed-', seq), REPEAT('s', 9000) FROM seq_1_to_10`,
  );
}

function ordersInsert(lo: number, rows: number): string {
  return `INSERT INTO test.orders (id, customer, status, amount, note, created)
    SELECT ${lo} + seq, seq % 5003, ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'done'), seq * 1.25,
           REPEAT(CHAR(97 + seq % 26), 20 + seq % 80), TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq MINUTE
      FROM seq_1_to_${rows}`;
}

function eventsInsert(lo: number, rows: number): string {
  return `INSERT INTO test.events (order_id, kind, payload)
    SELECT ${lo} + seq, seq % 7, REPEAT(CHAR(65 + seq % 26), 40 + seq % 160) FROM seq_1_to_${rows}`;
}

/** One round: bulk inserts, in-place and growing updates, deletes of the previous round, BLOBs. */
async function round(c: Connection, r: number, rows: number): Promise<void> {
  const lo = r * ROUND_ID_STRIDE;
  const inRound = `id BETWEEN ${lo + 1} AND ${lo + rows}`;
  const prevLo = (r - 1) * ROUND_ID_STRIDE;
  const inPrev = `BETWEEN ${prevLo + 1} AND ${prevLo + ROUND_ID_STRIDE}`;
  const docLo = r * DOC_ID_STRIDE;
  const docsPrev = `id BETWEEN ${docLo - DOC_ID_STRIDE + 1} AND ${docLo - 1}`;
  await exec(
    c,
    ordersInsert(lo, rows),
    eventsInsert(lo, rows),
    // In place: a fixed-size column.
    `UPDATE test.orders SET amount = amount + 1 WHERE ${inRound} AND id % 3 = 0`,
    // Size-changing, and secondary keys moving.
    `UPDATE test.orders SET note = CONCAT(note, '-', id, REPEAT('+', id % 50)) WHERE ${inRound} AND id % 5 = 0`,
    `UPDATE test.orders SET status = 'archived', customer = customer + 1 WHERE ${inRound} AND id % 7 = 0`,
    `DELETE FROM test.orders WHERE id ${inPrev} AND id % 4 = 0`,
    `DELETE FROM test.events WHERE order_id ${inPrev} AND kind = 3`,
    // Off-page BLOBs: inserted, rewritten and deleted.
    `INSERT INTO test.docs SELECT ${docLo} + seq, CONCAT('doc-', ${r}, '-', seq),
       REPEAT(CHAR(65 + seq % 26), 4000 + seq * 150) FROM seq_1_to_${BLOBS_PER_ROUND}`,
    `UPDATE test.docs SET body = REPEAT('z', 30000 + id % 1000) WHERE ${docsPrev} AND id % 3 = 0`,
    `DELETE FROM test.docs WHERE ${docsPrev} AND id % 5 = 0`,
  );
  // Small transactions: one commit each, like point writes of an application.
  const points: string[] = [];
  for (let i = 1; i <= POINT_UPDATES_PER_ROUND; i++) {
    points.push(`UPDATE test.orders SET amount = amount - 1, note = CONCAT('p', note) WHERE id = ${lo + i * 7}`);
  }
  await exec(c, points.join(';\n'));
}

/**
 * Rows per round so that the target takes about four rounds or more and every statement kind
 * recurs. A round writes about 3.5 KB of redo per row (the growing updates make InnoDB
 * reorganize pages, which it logs as whole-page writes, and the BLOBs are logged whole).
 */
export function rowsPerRoundFor(targetBytes: number): number {
  const rows = Math.round(targetBytes / (4 * 3500));
  return Math.min(40_000, Math.max(2_000, rows));
}

/**
 * Base → rounds until at least `targetBytes` of redo were written since the base → slow
 * shutdown. The final checkpoint is at or after the LSN reached here, so the span between the
 * two checkpoints is at least the target too.
 */
export async function recordRedoWorkload(targetBytes: number, server: StartOptions): Promise<RecordedWorkload> {
  const rowsPerRound = rowsPerRoundFor(targetBytes);
  let rounds = 0;
  let workloadMs = 0;
  const rec = await recordWorkload({
    name: 'bench-redo-apply',
    server,
    setup,
    workload: async (c) => {
      const t0 = performance.now();
      const startLsn = await currentLsn(c);
      while ((await currentLsn(c)) - startLsn < BigInt(targetBytes)) {
        if (rounds >= ROUNDS_MAX) throw new Error(`${ROUNDS_MAX} rounds wrote less than ${targetBytes} bytes of redo`);
        rounds++;
        await round(c, rounds, rowsPerRound);
        const written = Number((await currentLsn(c)) - startLsn) / 2 ** 20;
        process.stderr.write(`redo-apply: workload round ${rounds}: ${written.toFixed(1)} MiB of redo since the base\n`);
      }
      workloadMs = performance.now() - t0;
    },
  });
  return { ...rec, rounds, rowsPerRound, workloadMs };
}
