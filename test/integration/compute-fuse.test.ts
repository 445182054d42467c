/**
 * The stateless compute of issue 12, with real processes: three
 * safekeepers, a page server, computes started with `--storage fuse`
 * (the datadir a FUSE filesystem served by the controller).
 *
 * - [ZERO RPO] clients commit in a loop and record every COMMIT that
 *   returned OK; then mariadbd and the controller are killed with -9 and the
 *   compute's whole directory is deleted: a new compute has every row that
 *   was acknowledged. Again with one safekeeper down. With two down, a
 *   COMMIT waits (and the status says so) until one is back.
 * - [DDL] a read-only compute at the LSN right after a DDL returned has
 *   its table: the fsync of the DDL's commit waited for the .frm to be stored.
 * - [LAZY] a larger database (imported) starts while fetching a small
 *   fraction of its pages, and a point query then reads the right row;
 *   CHECKSUM TABLE matches the original.
 * - No mount outlives its compute, whatever happened to it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { startComputeProcess, type ComputeProcess } from '../support/compute.js';
import { installDatadir, makeTempDir, removeTempDir, startMariadb } from '../support/mariadb.js';
import { pageserver, type PageserverProcess } from '../support/pageserver.js';
import { runStrata } from '../support/redo-scenario.js';
import { safekeeper, type SafekeeperProcess } from '../support/safekeepers.js';
import { until } from '../support/until.js';

let dir: string;
const sks: SafekeeperProcess[] = [];
let ps: PageserverProcess;
const computes: ComputeProcess[] = [];
/** The small tenant (zero RPO) and the larger one (lazy start). */
const small = { tenant: '', timeline: '' };
const big = { tenant: '', timeline: '', checksum: '', rows: 0 };
const BIG_ROWS = 100_000;

function computeDir(name: string): string {
  return join(dir, `compute-${name}`);
}

function args(t: { tenant: string; timeline: string }, name: string, safekeepers = sks): string[] {
  return ['--storage', 'fuse', '--pageserver', ps.hostPort, '--safekeepers', safekeepers.map((s) => s.hostPort).join(','), '--tenant', t.tenant, '--timeline', t.timeline, '--name', name, '--data', computeDir(name)];
}

async function start(a: string[]): Promise<ComputeProcess> {
  const c = await startComputeProcess(a);
  computes.push(c);
  return c;
}

/** FUSE mounts below the test's directory now. */
function mountsUnder(root: string): string[] {
  const abs = resolve(root);
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(`${abs}/`));
}

function unmountAll(root: string): void {
  for (const m of mountsUnder(root)) spawnSync('fusermount', ['-uz', m], { stdio: 'ignore' });
}

async function importTenant(datadir: string): Promise<{ tenant: string; timeline: string }> {
  const imp = await runStrata(['tenant', 'import', '--pageserver', ps.hostPort, '--datadir', datadir]);
  expect(imp.code, imp.stderr).toBe(0);
  const m = /^tenant ([0-9a-f]{32}) timeline ([0-9a-f]{32}) lsn (\d+)$/m.exec(imp.stdout);
  expect(m, imp.stdout).not.toBeNull();
  return { tenant: m![1]!, timeline: m![2]! };
}

async function rows(conn: Connection, sql: string): Promise<RowDataPacket[]> {
  const [r] = await conn.query<RowDataPacket[]>(sql);
  return r;
}

beforeAll(async () => {
  dir = await makeTempDir('compute-fuse');
  const base = join(dir, 'base');
  await installDatadir(base, { logFileSize: '8M' });
  for (const id of [1, 2, 3]) {
    const s = await safekeeper(id, dir);
    await s.start();
    sks.push(s);
  }
  ps = await pageserver(dir, sks.map((s) => s.hostPort), ['--checkpoint-timeout-ms', '2000']);
  await ps.start();
  Object.assign(small, await importTenant(base));

  // A larger database, built by a plain mariadbd and imported: ~100k rows of ~1 KiB.
  const bigDir = join(dir, 'big');
  await installDatadir(bigDir, { logFileSize: '64M' });
  const m = await startMariadb(bigDir, { logFileSize: '64M', bufferPoolSize: '128M' });
  try {
    const conn = await m.connect();
    try {
      await conn.query('CREATE DATABASE big');
      // The Sequence engine's seq_* tables need a current database.
      await conn.query('USE big');
      await conn.query('CREATE TABLE big.t (id INT PRIMARY KEY, v VARCHAR(1000)) ENGINE=InnoDB');
      for (let from = 1; from <= BIG_ROWS; from += 25_000) {
        await conn.query(`INSERT INTO big.t SELECT seq, CONCAT(seq, ':', REPEAT(CHAR(65 + seq % 26), 900)) FROM seq_${from}_to_${from + 24_999}`);
      }
      const [cs] = await conn.query<RowDataPacket[]>('CHECKSUM TABLE big.t');
      big.checksum = String(cs[0]?.['Checksum']);
      big.rows = BIG_ROWS;
    } finally {
      await conn.end();
    }
    await m.shutdown();
  } catch (e) {
    await m.kill();
    throw e;
  }
  Object.assign(big, await importTenant(bigDir));
}, 600_000);

afterAll(async () => {
  if (process.env['STRATA_TEST_VERBOSE']) for (const c of computes) process.stderr.write(`--- compute ${c.name}\n${c.output()}\n`);
  for (const c of computes) await c.stop().catch(() => undefined);
  await ps?.stop().catch(() => undefined);
  for (const s of sks) await s.stop().catch(() => undefined);
  if (dir) {
    // A test that failed half way may have left a killed controller's mount: never leave one behind.
    unmountAll(dir);
    await removeTempDir(dir);
  }
});

const t0 = Date.now();
/** With STRATA_TEST_VERBOSE: where the time goes. */
function step(what: string): void {
  if (process.env['STRATA_TEST_VERBOSE']) process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}\n`);
}

interface Loop {
  readonly acked: Set<number>;
  stop(): Promise<void>;
}

/** `writers` connections insert rows, one autocommit INSERT each; an id goes to `acked` only once its COMMIT returned OK. */
async function commitLoop(c: ComputeProcess, table: string, writers: number, firstId: number): Promise<Loop> {
  const acked = new Set<number>();
  const conns = await Promise.all(Array.from({ length: writers }, () => c.connect()));
  let running = true;
  let next = firstId;
  const loops = conns.map(async (conn) => {
    while (running) {
      const id = next++;
      try {
        await conn.query(`INSERT INTO ${table} VALUES (?, REPEAT('x', 200))`, [id]);
      } catch {
        return;
      }
      acked.add(id);
    }
  });
  return {
    acked,
    async stop() {
      running = false;
      await Promise.all(loops);
      for (const conn of conns) conn.destroy();
    },
  };
}

/** kill -9 of mariadbd and of the controller at the same moment, the mount cleared and the compute's directory deleted. */
async function loseTheMachine(c: ComputeProcess, name: string): Promise<void> {
  const st = (await c.status()) as unknown as { controllerPid: number; mariadbdPid: number };
  process.kill(st.controllerPid, 'SIGKILL');
  process.kill(st.mariadbdPid, 'SIGKILL');
  await c.exited;
  unmountAll(computeDir(name));
  rmSync(computeDir(name), { recursive: true, force: true });
}

describe('FUSE compute (real processes: 3 safekeepers, page server, mariadbd on the Strata filesystem)', () => {
  it('[ZERO RPO] every acknowledged COMMIT survives kill -9 of mariadbd and the controller and the loss of the compute\'s directory, with 3 and with 2 safekeepers; with 1 a COMMIT waits until a second is back', async () => {
    const c1 = await start(args(small, 'rpo'));
    expect(c1.output()).toContain('storage: fuse');
    const setup = await c1.connect();
    await setup.query('CREATE DATABASE rpo');
    await setup.query('CREATE TABLE rpo.t (id INT PRIMARY KEY, pad VARCHAR(255)) ENGINE=InnoDB');
    setup.destroy();
    step("const loop1 = await commitLoop(c1, 'rpo.t', 4, 1);");
    const loop1 = await commitLoop(c1, 'rpo.t', 4, 1);
    await until('1000 commits', async () => loop1.acked.size >= 1000, 60_000);
    step("await loseTheMachine(c1, 'rpo');");
    await loseTheMachine(c1, 'rpo');
    step('await loop1.stop();');
    await loop1.stop();
    expect(loop1.acked.size).toBeGreaterThan(0);

    // One safekeeper down from here: a quorum of two still commits.
    await sks[2]!.stop();
    step("const c2 = await start(args(small, 'rpo'));");
    const c2 = await start(args(small, 'rpo'));
    let conn = await c2.connect();
    const have = new Set((await rows(conn, 'SELECT id FROM rpo.t')).map((r) => Number(r['id'])));
    const lost = [...loop1.acked].filter((id) => !have.has(id));
    expect(lost, `acknowledged and lost: ${lost.slice(0, 20).join(',')}`).toEqual([]);
    conn.destroy();
    step("const loop2 = await commitLoop(c2, 'rpo.t', 4, 1_000_000);");
    const loop2 = await commitLoop(c2, 'rpo.t', 4, 1_000_000);
    await until('1000 more commits', async () => loop2.acked.size >= 1000, 60_000);
    step("await loseTheMachine(c2, 'rpo');");
    await loseTheMachine(c2, 'rpo');
    await loop2.stop();

    step("const c3 = await start(args(small, 'rpo', sks.slice(0, 2)));");
    const c3 = await start(args(small, 'rpo', sks.slice(0, 2)));
    conn = await c3.connect();
    const have3 = new Set((await rows(conn, 'SELECT id FROM rpo.t')).map((r) => Number(r['id'])));
    const lost3 = [...loop1.acked, ...loop2.acked].filter((id) => !have3.has(id));
    expect(lost3, `acknowledged and lost: ${lost3.slice(0, 20).join(',')}`).toEqual([]);

    // Two down: the COMMIT cannot be acknowledged, and waits; it returns once a second safekeeper is back.
    step('await sks[1]!.stop();');
    await sks[1]!.stop();
    let returned = false;
    const pending = conn.query('INSERT INTO rpo.t VALUES (5000000, NULL)').then(() => {
      returned = true;
    });
    await until('a commit waiting for the quorum', async () => {
      const s = (await c3.status()) as unknown as { datadirFs: { commitsWaiting: number } | null };
      return (s.datadirFs?.commitsWaiting ?? 0) > 0;
    }, 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    expect(returned).toBe(false);
    step('await sks[1]!.start();');
    await sks[1]!.start();
    await pending;
    expect(returned).toBe(true);
    expect(Number((await rows(conn, 'SELECT COUNT(*) AS n FROM rpo.t WHERE id = 5000000'))[0]?.['n'])).toBe(1);
    conn.destroy();
    await sks[2]!.start();
    expect(await c3.stop(), c3.output()).toBe(0);
    expect(mountsUnder(dir)).toEqual([]);
  }, 420_000);

  it('[FALLBACK] --storage basebackup still copies the datadir and runs as before', async () => {
    const a = args(small, 'fallback');
    a[1] = 'basebackup';
    const c = await start(a);
    expect(c.output()).toMatch(/storage: basebackup at LSN \d+: \d+ files/);
    const st = (await c.status()) as unknown as { storage: string; datadirFs: unknown };
    expect(st.storage).toBe('basebackup');
    expect(st.datadirFs).toBeNull();
    const conn = await c.connect();
    const before = Number((await rows(conn, 'SELECT COUNT(*) AS n FROM rpo.t'))[0]?.['n']);
    expect(before).toBeGreaterThan(2000);
    await conn.query('INSERT INTO rpo.t VALUES (6000000, NULL)');
    conn.destroy();
    expect(await c.stop(), c.output()).toBe(0);
    // And the next FUSE compute sees what the basebackup one wrote.
    const f = await start(args(small, 'after-fallback'));
    const conn2 = await f.connect();
    expect(Number((await rows(conn2, 'SELECT COUNT(*) AS n FROM rpo.t'))[0]?.['n'])).toBe(before + 1);
    conn2.destroy();
    expect(await f.stop(), f.output()).toBe(0);
  }, 300_000);

  it('[DDL] a read-only compute at the LSN right after a CREATE TABLE returned has the table, with its columns (no waiting: the fsync of the DDL waited for its .frm)', async () => {
    const c = await start(args(small, 'ddl'));
    const conn = await c.connect();
    await conn.query('CREATE DATABASE IF NOT EXISTS ddl');
    const tables: Array<{ name: string; lsn: bigint }> = [];
    // A few in a row, each read at once: a capture that lags (a poll) misses some of them.
    for (let i = 0; i < 5; i++) {
      const name = `ddl_${i}`;
      await conn.query(`CREATE TABLE ddl.${name} (a INT PRIMARY KEY, b${i} VARCHAR(10), c DATE) ENGINE=InnoDB`);
      const [st] = await rows(conn, "SHOW GLOBAL STATUS LIKE 'Innodb_lsn_current'");
      tables.push({ name, lsn: BigInt(String(st?.['Value'])) });
    }
    conn.destroy();
    const st = (await c.status()) as unknown as { auxSetsStored: number };
    expect(st.auxSetsStored).toBeGreaterThanOrEqual(5);
    for (const [i, t] of tables.entries()) {
      const ro = await start(['--storage', 'fuse', '--pageserver', ps.hostPort, '--tenant', small.tenant, '--timeline', small.timeline, '--read-only', '--lsn', t.lsn.toString(), '--name', `ddl-ro-${i}`, '--data', computeDir(`ddl-ro-${i}`)]);
      const rc = await ro.connect();
      const cols = (await rows(rc, `SHOW COLUMNS FROM ddl.${t.name}`)).map((r) => String(r['Field']));
      expect(cols, ro.output()).toEqual(['a', `b${i}`, 'c']);
      rc.destroy();
      expect(await ro.stop(), ro.output()).toBe(0);
    }
    expect(await c.stop(), c.output()).toBe(0);
  }, 300_000);

  it('[LAZY] a larger database starts fetching under 5% of its pages; a point query and CHECKSUM TABLE read it right', async () => {
    const manifest = (await (await fetch(`${ps.url}/v1/tenants/${big.tenant}/timelines/${big.timeline}/datadir`)).json()) as { pageSize: number; tablespaces: Array<{ path: string; sizePages: number }> };
    const totalPages = manifest.tablespaces.reduce((n, t) => n + t.sizePages, 0);
    expect(totalPages * manifest.pageSize).toBeGreaterThan(100 << 20);
    const startedMs = Date.now();
    const c = await start(args(big, 'lazy'));
    const conn = await c.connect();
    const [row] = await rows(conn, 'SELECT v FROM big.t WHERE id = 77777');
    const firstQueryMs = Date.now() - startedMs;
    expect(String(row?.['v'])).toBe(`77777:${String.fromCharCode(65 + (77777 % 26)).repeat(900)}`);
    const st = (await c.status()) as unknown as { datadirFs: { pagesFetched: number; getpageBatches: number } };
    const fraction = st.datadirFs.pagesFetched / totalPages;
    process.stderr.write(
      `lazy start: ${totalPages} pages (${((totalPages * manifest.pageSize) / 2 ** 20).toFixed(0)} MiB), first query after ${firstQueryMs} ms, ` +
        `${st.datadirFs.pagesFetched} pages fetched in ${st.datadirFs.getpageBatches} batches (${(fraction * 100).toFixed(2)}%)\n`,
    );
    expect(fraction).toBeLessThan(0.05);
    const [cs] = await rows(conn, 'CHECKSUM TABLE big.t');
    expect(String(cs?.['Checksum'])).toBe(big.checksum);
    expect(Number((await rows(conn, 'SELECT COUNT(*) AS n FROM big.t'))[0]?.['n'])).toBe(big.rows);
    conn.destroy();
    expect(await c.stop(), c.output()).toBe(0);
    expect(mountsUnder(dir)).toEqual([]);
  }, 300_000);

  it('[EVICTION] with a local file cache far smaller than the table, pages the compute wrote and the cache evicted read back as written, scan after scan', async () => {
    // 4 MiB of LFC and 16 MiB of buffer pool for a 100+ MiB table: every page MariaDB writes is evicted from both, fetched
    // again at its own LSN on the next scan, evicted again, and fetched again on the scan after (that second refetch came
    // back at the start LSN, the version from before the UPDATE: InnoDB saw "index corruption").
    const name = 'evict';
    const c = await start([...args(big, name), '--lfc-mib', '4', '--buffer-pool-mib', '16']);
    const conn = await c.connect();
    await conn.query("UPDATE big.t SET v = CONCAT(id, ':', REPEAT('z', 900)) WHERE id % 7 = 0");
    const sums: string[] = [];
    for (let i = 0; i < 3; i++) sums.push(String((await rows(conn, 'CHECKSUM TABLE big.t'))[0]?.['Checksum']));
    const st = (await c.status()) as unknown as { datadirFs: { lfcEvictedWritten: number } };
    conn.destroy();
    expect(st.datadirFs.lfcEvictedWritten, 'written pages were evicted from the LFC').toBeGreaterThan(1000);
    expect(sums[0]).not.toBe(big.checksum);
    expect(sums).toEqual([sums[0], sums[0], sums[0]]);
    expect(await c.stop(), c.output()).toBe(0);
    // The same rows from storage, copied whole: what the three scans must have seen.
    const ro = await start(['--storage', 'basebackup', '--pageserver', ps.hostPort, '--tenant', big.tenant, '--timeline', big.timeline, '--name', 'evict-ro', '--data', computeDir('evict-ro'), '--read-only']);
    const roConn = await ro.connect();
    expect(String((await rows(roConn, 'CHECKSUM TABLE big.t'))[0]?.['Checksum'])).toBe(sums[0]);
    roConn.destroy();
    expect(await ro.stop(), ro.output()).toBe(0);
  }, 300_000);
});
