/**
 * A stock MariaDB living on Strata, with real processes: three safekeepers,
 * a page server and computes started through `./strata compute start`.
 * SQL goes through mysql2. Data and DDL survive a clean stop, a kill -9 of
 * mariadbd loses nothing the shipper reported committed, a read-only
 * compute on a branch shows exactly the rows committed before the branch
 * point, and a second compute on a timeline fences the first.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { changeMembership } from '@strata/client';
import { computeExitSchema } from '@strata/client/local';
import { startComputeProcess, type ComputeProcess } from '../support/compute.js';
import { installDatadir, makeTempDir, removeTempDir } from '../support/mariadb.js';
import { pageserver, type PageserverProcess } from '../support/pageserver.js';
import { runStrata } from '../support/redo-scenario.js';
import { safekeeper, type SafekeeperProcess } from '../support/safekeepers.js';

let dir: string;
const sks: SafekeeperProcess[] = [];
let ps: PageserverProcess;
let tenant = '';
let timeline = '';
const computes: ComputeProcess[] = [];

function rwArgs(name: string): string[] {
  return ['--pageserver', ps.hostPort, '--safekeepers', sks.map((s) => s.hostPort).join(','), '--tenant', tenant, '--timeline', timeline, '--name', name, '--data', join(dir, `compute-${name}`)];
}

async function start(args: string[]): Promise<ComputeProcess> {
  const c = await startComputeProcess(args);
  computes.push(c);
  return c;
}

async function withConn<T>(c: ComputeProcess, fn: (conn: Connection) => Promise<T>, user?: string, password?: string): Promise<T> {
  const conn = await c.connect(user, password);
  try {
    return await fn(conn);
  } finally {
    await conn.end();
  }
}

async function scalar(conn: Connection, sql: string): Promise<string> {
  const [rows] = await conn.query<RowDataPacket[]>(sql);
  const row = rows[0];
  if (!row) throw new Error(`no row from ${sql}`);
  return String(Object.values(row)[0]);
}

/** The table's row count and CHECKSUM TABLE, as one comparable string. */
async function fingerprint(conn: Connection, table: string): Promise<string> {
  const [rows] = await conn.query<RowDataPacket[]>(`CHECKSUM TABLE ${table}`);
  return `${await scalar(conn, `SELECT COUNT(*) FROM ${table}`)} rows, checksum ${String(rows[0]?.['Checksum'])}`;
}

/** InnoDB's current LSN, then wait until the compute's shipper reports the quorum committed it. */
async function waitShipped(c: ComputeProcess, conn: Connection): Promise<bigint> {
  const [rows] = await conn.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Innodb_lsn_current'");
  const lsn = BigInt(String(rows[0]?.['Value']));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const s = await c.status();
    const committed = BigInt(s.shipper?.commitLsn ?? '0');
    if (committed >= lsn) return committed;
    if (Date.now() > deadline) throw new Error(`the shipper did not commit ${lsn} (at ${committed})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  dir = await makeTempDir('compute');
  const base = join(dir, 'base');
  // A small log keeps basebackups small (the fresh log travels as zeros); computes run on a larger one of their own.
  await installDatadir(base, { logFileSize: '8M' });
  for (const id of [1, 2, 3]) {
    const s = await safekeeper(id, dir);
    await s.start();
    sks.push(s);
  }
  ps = await pageserver(dir, sks.map((s) => s.hostPort), ['--checkpoint-timeout-ms', '2000']);
  await ps.start();
  const imp = await runStrata(['tenant', 'import', '--pageserver', ps.hostPort, '--datadir', base]);
  expect(imp.code, imp.stderr).toBe(0);
  const m = /^tenant ([0-9a-f]{32}) timeline ([0-9a-f]{32}) lsn (\d+)$/m.exec(imp.stdout);
  expect(m, imp.stdout).not.toBeNull();
  [tenant, timeline] = [m![1]!, m![2]!];
}, 300_000);

afterAll(async () => {
  if (process.env['STRATA_TEST_VERBOSE']) for (const c of computes) process.stderr.write(`--- compute ${c.name}\n${c.output()}\n`);
  for (const c of computes) await c.stop().catch(() => undefined);
  await ps?.stop().catch(() => undefined);
  for (const s of sks) await s.stop().catch(() => undefined);
  if (dir) await removeTempDir(dir);
});

const t0 = Date.now();
/** With STRATA_TEST_VERBOSE: where the time goes. */
function step(what: string): void {
  if (process.env['STRATA_TEST_VERBOSE']) process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}\n`);
}

/** Recorded along the way, checked by later steps. */
const seen = { afterFirst: '', branchLsn: 0n, atBranch: '', final: '' };

describe('compute (real processes: 3 safekeepers, page server, mariadbd computes)', () => {
  it('[RW] SQL on a fresh compute; DDL, rows and grants survive a clean stop and a new compute', async () => {
    const c1 = await start(rwArgs('main'));
    expect(c1.name).toBe('main');
    await withConn(c1, async (conn) => {
      await conn.query('CREATE DATABASE app');
      // The Sequence engine's seq_* tables need a current database.
      await conn.query('USE app');
      await conn.query('CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(100), n INT) ENGINE=InnoDB');
      await conn.query("INSERT INTO app.t SELECT seq, CONCAT('v', seq), seq FROM seq_1_to_500");
      await conn.query('UPDATE app.t SET n = n * 2 WHERE id % 3 = 0');
      await conn.query('DELETE FROM app.t WHERE id > 490');
      await conn.query('CREATE TABLE app.tmp (id INT PRIMARY KEY) ENGINE=InnoDB');
      await conn.query('RENAME TABLE app.tmp TO app.renamed');
      await conn.query('INSERT INTO app.renamed VALUES (1), (2)');
      await conn.query('CREATE TABLE app.gone (id INT) ENGINE=InnoDB');
      await conn.query('DROP TABLE app.gone');
      await conn.query("CREATE USER 'alice'@'127.0.0.1' IDENTIFIED BY 'secret'");
      await conn.query("GRANT SELECT ON app.* TO 'alice'@'127.0.0.1'");
      seen.afterFirst = await fingerprint(conn, 'app.t');
    });
    expect(seen.afterFirst).toMatch(/^490 rows/);
    expect(await c1.stop()).toBe(0);
    expect(c1.output()).toMatch(/compute stopped cleanly at LSN \d+/);
    expect(c1.output()).toContain('aux set stored');

    const c2 = await start(rwArgs('main'));
    await withConn(c2, async (conn) => {
      expect(await fingerprint(conn, 'app.t')).toBe(seen.afterFirst);
      const [tables] = await conn.query<RowDataPacket[]>('SHOW TABLES FROM app');
      expect(tables.map((r) => String(Object.values(r)[0])).sort()).toEqual(['renamed', 't']);
      expect(await scalar(conn, 'SELECT COUNT(*) FROM app.renamed')).toBe('2');
    });
    // The account and its grant are aux files (Aria system tables): they came back too.
    expect(await withConn(c2, (conn) => scalar(conn, 'SELECT COUNT(*) FROM app.t'), 'alice', 'secret')).toBe('490');
    expect(await c2.stop()).toBe(0);
  });

  it('[KILL -9] every row the shipper reported committed survives a kill -9 of mariadbd; [BRANCH] a read-only compute at a mid LSN shows exactly the rows before it', async () => {
    const c3 = await start(rwArgs('main'));
    await withConn(c3, async (conn) => {
      await conn.query('USE app');
      await conn.query("INSERT INTO app.t SELECT seq, 'batch-a', seq FROM seq_1001_to_1200");
      seen.branchLsn = await waitShipped(c3, conn);
      seen.atBranch = await fingerprint(conn, 'app.t');
      for (let i = 0; i < 50; i++) await conn.query('INSERT INTO app.t VALUES (?, ?, ?)', [2000 + i, 'batch-b', i]);
      await waitShipped(c3, conn);
      seen.final = await fingerprint(conn, 'app.t');
    });
    const s = await c3.status();
    expect(s.shipper!.commitLagP99Ms).toBeLessThan(5000);
    const metrics = await (await fetch(`${c3.controlUrl}/metrics`)).text();
    expect(metrics).toMatch(/^strata_compute_commit_lag_seconds_count\{.*\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^strata_compute_lag_bytes\{.*\} \d+$/m);
    // The RPO window: what a crash of mariadbd could lose is what was in the file and not yet committed.
    process.stderr.write(`shipper commit lag (file → quorum): p50 ${s.shipper!.commitLagP50Ms} ms, p99 ${s.shipper!.commitLagP99Ms} ms\n`);
    step('kill -9 mariadbd');
    process.kill(s.mariadbdPid, 'SIGKILL');
    expect(await c3.exited).toBe(1);
    expect(c3.output()).toContain('MariadbExited');

    step('restart after kill');
    const c4 = await start(rwArgs('main'));
    step('restarted');
    await withConn(c4, async (conn) => {
      expect(await fingerprint(conn, 'app.t')).toBe(seen.final);
      expect(await scalar(conn, "SELECT COUNT(*) FROM app.t WHERE v = 'batch-b'")).toBe('50');
    });

    // A branch at the LSN the shipper reported after batch A, and a read-only compute on it.
    const wait = await fetch(`${ps.url}/v1/tenants/${tenant}/timelines/${timeline}/wait_lsn?lsn=${seen.branchLsn}&timeoutMs=60000`);
    expect(wait.status, await wait.clone().text()).toBe(200);
    step('waited for the branch LSN');
    const br = await fetch(`${ps.url}/v1/tenants/${tenant}/timelines/${timeline}/branch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lsn: String(seen.branchLsn) }) });
    expect(br.status, await br.clone().text()).toBe(201);
    const branch = ((await br.json()) as { timelineId: string }).timelineId;
    step('branched');
    const ro = await start(['--pageserver', ps.hostPort, '--tenant', tenant, '--timeline', branch, '--read-only', '--lsn', String(seen.branchLsn), '--name', 'mid']);
    step('read-only compute started');
    const roData = /; data (\S+)/.exec(ro.output())?.[1];
    expect(roData && existsSync(join(roData, 'datadir', 'ibdata1'))).toBe(true);
    await withConn(ro, async (conn) => {
      expect(await fingerprint(conn, 'app.t')).toBe(seen.atBranch);
      expect(await scalar(conn, "SELECT COUNT(*) FROM app.t WHERE v = 'batch-b'")).toBe('0');
      await expect(conn.query('INSERT INTO app.t VALUES (9999, 1, 1)')).rejects.toThrow(/read-only|READ-ONLY|read only/i);
    });
    expect(await ro.stop()).toBe(0);
    // A read-only compute is thrown away whole.
    expect(existsSync(roData!)).toBe(false);

    // [FENCE] a second read-write compute on the timeline takes it over: the first one stops at once.
    step('fence: second compute');
    const c5 = await start(rwArgs('second'));
    step('second compute started');
    expect(await c4.exited).toBe(1);
    expect(c4.output()).toContain('ProposerFencedByTerm');
    // The fenced controller removed its compute.json; what it leaves instead is why, for the console's alert.
    const fencedRecord = computeExitSchema.parse(JSON.parse(readFileSync(join(dir, 'compute-main', 'last-exit.json'), 'utf8')));
    expect(fencedRecord).toMatchObject({ name: 'main', tenantId: tenant, timelineId: timeline, code: 'ProposerFencedByTerm' });
    await withConn(c5, async (conn) => {
      expect(await fingerprint(conn, 'app.t')).toBe(seen.final);
    });
    expect(await c5.stop()).toBe(0);
  });

  it('[MEMBERSHIP] two membership changes back to back (the generation moves four times) while the compute writes: it follows every one and goes on committing', async () => {
    const c = await start(rwArgs('main'));
    // Started again under its name: the earlier fencing is no longer news.
    expect(existsSync(join(dir, 'compute-main', 'last-exit.json'))).toBe(false);
    const conn = await c.connect();
    let inserted = 0;
    try {
      await conn.query('CREATE DATABASE IF NOT EXISTS app');
      await conn.query('CREATE TABLE app.churn (id INT PRIMARY KEY) ENGINE=InnoDB');
      let writing = true;
      // Its failure (the compute gone) is kept and checked below, not left unhandled while the changes run.
      const writer = (async () => {
        while (writing) await conn.query('INSERT INTO app.churn VALUES (?)', [++inserted]);
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      const safekeepers = sks.map((sk) => ({ nodeId: sk.id, baseUrl: sk.url }));
      // A restarted proposer can be fenced again while it is being elected: that is one more restart, not a failure.
      for (const members of [[1, 2], [1, 2, 3]]) {
        const r = await changeMembership({ tenantId: tenant, timelineId: timeline, safekeepers, members, timeoutMs: 60_000 });
        expect(r.changed).toBe(true);
      }
      await new Promise((r) => setTimeout(r, 1000));
      writing = false;
      expect(await writer, c.output()).toBeUndefined();
      const st = await c.status();
      expect(st.state, c.output()).toBe('running');
      // Every member of the final configuration is in the quorum again.
      expect(st.degradedMembers).toEqual([]);
      await waitShipped(c, conn);
      expect(await scalar(conn, 'SELECT COUNT(*) FROM app.churn')).toBe(String(inserted));
    } finally {
      await conn.end();
    }
    expect(inserted).toBeGreaterThan(0);
    expect(c.output()).toMatch(/configuration changed .*: restarting the proposer/);
    expect(await c.stop(), c.output()).toBe(0);
  });
});
