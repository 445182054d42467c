/**
 * The local cluster as a user drives it (issue 5's CLI contract): `./strata
 * up` in a temporary STRATA_HOME, SQL through the printed URLs, named
 * branches at an LSN and at a time, snapshots, computes by branch, kill -9
 * of mariadbd, of a safekeeper and of the page server under load, `down`
 * and `up` again. Auth is on throughout; the CLI finds its token in the
 * cluster's home.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { COMPUTE_NICE, isRunning } from '@strata/client/local';
import { until } from '../support/until.js';
import { computeLine, connectUrl, fingerprint, innodbLsn, type LocalCli, localClusterPerFile, scalar, withUrl } from '../support/local-cluster.js';

let home: string;
let cli: LocalCli;
let mainUrl = '';

interface ComputeState {
  name: string;
  controllerPid: number;
  mariadbdPid: number;
  controlUrl: string;
}

/** The control port takes the cluster's admin token (keys/admin.jwt). */
function controlHeaders(): Record<string, string> {
  return { authorization: `Bearer ${readFileSync(join(home, 'keys', 'admin.jwt'), 'utf8').trim()}` };
}

/** Field 19 of /proc/…/stat, counted after the parenthesized command name (which may hold spaces). */
function niceOf(statFile: string): number {
  const stat = readFileSync(statFile, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

function computeState(name: string): ComputeState {
  return JSON.parse(readFileSync(join(home, 'computes', name, 'compute.json'), 'utf8')) as ComputeState;
}

async function shipperCommit(name: string): Promise<bigint> {
  const r = await fetch(`${computeState(name).controlUrl}/v1/status`, { headers: controlHeaders() });
  const s = (await r.json()) as { shipper: { commitLsn: string } | null };
  return BigInt(s.shipper?.commitLsn ?? '0');
}

/** Waits until the compute's shipper reports `lsn` committed by the safekeeper quorum. */
async function waitShipped(name: string, lsn: bigint): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await shipperCommit(name)) < lsn) {
    if (Date.now() > deadline) throw new Error(`compute ${name}: the shipper did not commit ${lsn}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Waits until the compute stored an aux-file set (.frm and friends) at or
 * after `lsn`. Aux files are captured by polling the datadir (100 ms): a
 * branch point or a crash inside that window right after a DDL misses the
 * DDL's .frm (a known limit of capture by polling).
 */
async function auxSetsStored(name: string): Promise<number> {
  const r = await fetch(`${computeState(name).controlUrl}/v1/status`, { headers: controlHeaders() });
  return ((await r.json()) as { auxSetsStored: number }).auxSetsStored;
}

/**
 * Waits until the compute has stored every aux change made before now: its datadir was found equal to a
 * stored set after now plus Aria's one-second checkpoint (grants reach the disk only then). An LSN test
 * would race: the InnoDB LSN goes on with background work after the last aux file changed.
 */
async function waitAuxCurrent(name: string): Promise<void> {
  const since = Date.now() + ARIA_CHECKPOINT_MS;
  await until(`compute ${name} to store the aux files changed before ${new Date(since).toISOString()}`, async () => {
    const r = await fetch(`${computeState(name).controlUrl}/v1/status`, { headers: controlHeaders() });
    const s = (await r.json()) as { auxCurrentAtMs: number | null };
    return s.auxCurrentAtMs !== null && s.auxCurrentAtMs > since;
  }, 30_000);
}
const ARIA_CHECKPOINT_MS = 1_500;

async function ok(args: string[]): Promise<string> {
  const r = await cli(args);
  expect(r.code, `strata ${args.join(' ')}\n${r.stderr}\n${r.stdout}`).toBe(0);
  return r.stdout;
}

/** The command line a process runs (NUL-separated arguments joined by spaces). */
function cmdline(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
}

/** `./strata down` with computes running (the bound: they stop in parallel, killed after a bounded wait). */
const DOWN_MS_MAX = 10_000;

async function waitDead(pid: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (isRunning(pid)) {
    if (Date.now() > deadline) throw new Error(`pid ${pid} did not exit`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The safekeeper main's WAL receiver on the page server streams from now, by node id (undefined between picks). */
async function streamedSafekeeper(): Promise<number | undefined> {
  const c = JSON.parse(readFileSync(join(home, 'cluster.json'), 'utf8')) as { tenantId: string; pageserver: { url: string }; safekeepers: { id: number; url: string }[]; branches: { name: string; timelineId: string }[] };
  const timelineId = c.branches.find((b) => b.name === 'main')!.timelineId;
  const token = readFileSync(join(home, 'keys', 'admin.jwt'), 'utf8').trim();
  const res = await fetch(`${c.pageserver.url}/v1/tenants/${c.tenantId}/timelines/${timelineId}`, { headers: { authorization: `Bearer ${token}` } });
  const tl = (await res.json()) as { walReceiver: { state: string; safekeeper: string | null } | null };
  const url = tl.walReceiver?.state === 'streaming' ? tl.walReceiver.safekeeper : null;
  // Compared by host:port: the receiver may hold a bare H:P or a URL.
  const hostPort = (u: string): string => /([\w.-]+:\d+)/.exec(u)?.[1] ?? u;
  return c.safekeepers.find((s) => url !== null && hostPort(url) === hostPort(s.url))?.id;
}

function pidOf(daemon: string): number {
  return Number(readFileSync(join(home, 'run', `${daemon}.pid`), 'utf8').trim());
}

const seen = { lsnA: 0n, timeA: new Date(0), fpA: '', fpMain: '' };

localClusterPerFile('strata-local-', (h, c) => {
  home = h;
  cli = c;
});

describe('local cluster (./strata up, real processes)', () => {
  it('[UP] prints its endpoints; SQL with DDL and grants on main; services refuse requests without a token', async () => {
    const out = await ok(['up', '--no-console']);
    mainUrl = computeLine(out, 'main').url;
    expect(out).toMatch(/^pageserver http:\/\/127\.0\.0\.1:\d+$/m);
    expect(out.match(/^safekeeper \d http:\/\/127\.0\.0\.1:\d+$/gm)).toHaveLength(3);
    const ps = /^pageserver (\S+)$/m.exec(out)![1]!;
    expect((await fetch(`${ps}/v1/tenants`)).status).toBe(401);
    const token = readFileSync(join(home, 'keys', 'admin.jwt'), 'utf8').trim();
    expect((await fetch(`${ps}/v1/tenants`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    // The compute (controller, mariadbd, every thread) runs below the storage services it shares the machine with.
    const { controllerPid, mariadbdPid } = computeState('main');
    for (const pid of [controllerPid, mariadbdPid]) for (const tid of readdirSync(`/proc/${pid}/task`)) expect(niceOf(`/proc/${pid}/task/${tid}/stat`), `nice of ${pid}/${tid}`).toBe(COMPUTE_NICE);
    expect(niceOf(`/proc/${pidOf('pageserver')}/stat`)).toBe(0);

    await withUrl(mainUrl, async (c) => {
      await c.query('CREATE DATABASE app');
      await c.query('USE app');
      await c.query('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(100), n INT) ENGINE=InnoDB');
      await c.query('CREATE TABLE tmp (id INT PRIMARY KEY) ENGINE=InnoDB');
      await c.query('RENAME TABLE tmp TO renamed');
      await c.query('ALTER TABLE t ADD COLUMN extra INT NOT NULL DEFAULT 7');
      await c.query('CREATE TABLE gone (id INT) ENGINE=InnoDB');
      await c.query('DROP TABLE gone');
      await c.query("CREATE USER 'alice'@'127.0.0.1' IDENTIFIED BY 'secret'");
      await c.query("GRANT SELECT ON app.* TO 'alice'@'127.0.0.1'");
      await waitAuxCurrent('main');
      // An account change touches only Aria tables, whose pages wait in Aria's cache for its checkpoint
      // (30 s by default): the compute checkpoints Aria every second, so a new aux set follows within seconds.
      const sets = await auxSetsStored('main');
      await c.query("CREATE USER 'bob'@'127.0.0.1' IDENTIFIED BY 'pw'");
      await until('an aux set with the new account', async () => (await auxSetsStored('main')) > sets, 15_000); // well under Aria's default 30 s
      await c.query("INSERT INTO t (id, v, n) SELECT seq, CONCAT('a', seq), seq FROM seq_1_to_300");
      seen.lsnA = await innodbLsn(c);
      await waitShipped('main', seen.lsnA);
      seen.fpA = await fingerprint(c, 't');
      seen.timeA = new Date();
      // The LSN ↔ time map has millisecond stamps: leave a clear gap before the next batch.
      await new Promise((r) => setTimeout(r, 1500));
      await c.query("INSERT INTO t (id, v, n) SELECT seq, CONCAT('b', seq), seq FROM seq_301_to_600");
      await c.query('UPDATE t SET n = n + 1 WHERE id % 7 = 0');
      await waitShipped('main', await innodbLsn(c));
      seen.fpMain = await fingerprint(c, 't');
    });
    expect(seen.fpA).toMatch(/^300 rows/);
    expect(seen.fpMain).toMatch(/^600 rows/);
  });

  it('[BRANCH] at an LSN and at a time: exactly the data committed by then, with DDL and grants; writes stay on their branch', async () => {
    const atLsn = await ok(['branch', 'create', '--from', 'main', '--name', 'at-lsn', '--lsn', seen.lsnA.toString()]);
    expect(atLsn).toMatch(new RegExp(`^branch at-lsn timeline [0-9a-f]{32} lsn ${seen.lsnA}$`, 'm'));
    const atTime = await ok(['branch', 'create', '--from', 'main', '--name', 'at-time', '--at', seen.timeA.toISOString()]);
    expect(atTime).toMatch(/^branch at-time timeline [0-9a-f]{32} lsn \d+$/m);

    const lsnUrl = computeLine(await ok(['compute', 'start', '--branch', 'at-lsn']), 'at-lsn').url;
    const timeUrl = computeLine(await ok(['compute', 'start', '--branch', 'at-time']), 'at-time').url;
    for (const url of [lsnUrl, timeUrl]) {
      await withUrl(url, async (c) => {
        expect(await fingerprint(c, 'app.t')).toBe(seen.fpA);
        expect(await scalar(c, 'SELECT COUNT(*) FROM app.renamed')).toBe('0');
        expect(await scalar(c, 'SELECT MIN(extra) FROM app.t')).toBe('7');
        await expect(c.query('SELECT * FROM app.gone')).rejects.toThrow(/doesn't exist/);
      });
      const u = new URL(url);
      await withUrl(`mysql://alice:secret@127.0.0.1:${u.port}/`, async (c) => {
        expect(await scalar(c, 'SELECT COUNT(*) FROM app.t')).toBe('300');
      });
    }
    // Writes on a branch stay there, and main's stay on main.
    await withUrl(lsnUrl, (c) => c.query("INSERT INTO app.t (id, v, n) VALUES (9001, 'branch', 1)"));
    await withUrl(mainUrl, async (c) => {
      expect(await scalar(c, 'SELECT COUNT(*) FROM app.t WHERE id = 9001')).toBe('0');
      await c.query("INSERT INTO app.t (id, v, n) VALUES (9002, 'main', 1)");
      seen.fpMain = await fingerprint(c, 'app.t');
    });
    await withUrl(lsnUrl, async (c) => {
      expect(await scalar(c, 'SELECT COUNT(*) FROM app.t WHERE id = 9002')).toBe('0');
      expect(await scalar(c, 'SELECT COUNT(*) FROM app.t')).toBe('301');
    });
    // A branch survives its compute's restart with its own writes.
    await ok(['compute', 'stop', '--branch', 'at-lsn']);
    const again = computeLine(await ok(['compute', 'start', '--branch', 'at-lsn']), 'at-lsn').url;
    await withUrl(again, async (c) => expect(await scalar(c, 'SELECT COUNT(*) FROM app.t WHERE id = 9001')).toBe('1'));

    const list = await ok(['branch', 'list']);
    expect(list).toMatch(/^branch main timeline [0-9a-f]{32} parent - lsn -$/m);
    expect(list).toMatch(new RegExp(`^branch at-lsn timeline [0-9a-f]{32} parent main lsn ${seen.lsnA}$`, 'm'));
    const computes = await ok(['compute', 'list']);
    expect(computes).toMatch(/^compute at-time branch at-time .* port \d+ pid \d+ .* lag \S+/m);

    // Delete: refused for the root branch and while a compute runs; then it goes.
    expect((await cli(['branch', 'delete', 'main'])).code).not.toBe(0);
    expect((await cli(['branch', 'delete', 'at-time'])).stderr).toMatch(/running computes/);
    await ok(['compute', 'stop', '--branch', 'at-time']);
    await ok(['branch', 'delete', 'at-time']);
    expect(await ok(['branch', 'list'])).not.toMatch(/at-time/);
    await ok(['compute', 'stop', '--branch', 'at-lsn']);
  });

  it('[SNAPSHOT] create, list, restore as a branch, read-only compute at an LSN', async () => {
    const created = await ok(['snapshot', 'create', '--branch', 'main', '--name', 'before-more']);
    const m = /^snapshot before-more branch main lsn (\d+)$/m.exec(created);
    expect(m, created).not.toBeNull();
    const snapLsn = m![1]!;
    await withUrl(mainUrl, async (c) => {
      await c.query('USE app');
      await c.query("INSERT INTO app.t (id, v, n) SELECT seq, 'later', 0 FROM seq_10001_to_10100");
      await waitShipped('main', await innodbLsn(c));
    });
    expect(await ok(['snapshot', 'list'])).toMatch(new RegExp(`^snapshot before-more branch main lsn ${snapLsn} created \\S+$`, 'm'));
    const restored = await ok(['snapshot', 'restore', 'before-more', '--name', 'restored']);
    expect(restored).toMatch(new RegExp(`^branch restored timeline [0-9a-f]{32} lsn ${snapLsn}$`, 'm'));
    const url = computeLine(await ok(['compute', 'start', '--branch', 'restored']), 'restored').url;
    await withUrl(url, async (c) => expect(await fingerprint(c, 'app.t')).toBe(seen.fpMain));
    await ok(['compute', 'stop', '--branch', 'restored']);
    // Time travel on main: a read-only compute at the snapshot's LSN.
    const ro = await ok(['compute', 'start', '--branch', 'main', '--read-only', '--lsn', snapLsn]);
    const roLine = /^compute (\S+) (mysql:\S+)$/m.exec(ro)!;
    await withUrl(roLine[2]!, async (c) => {
      expect(await fingerprint(c, 'app.t')).toBe(seen.fpMain);
      await expect(c.query("INSERT INTO app.t (id, v, n) VALUES (1, 'x', 1)")).rejects.toThrow(/read-only|read only/i);
    });
    await ok(['compute', 'stop', '--name', roLine[1]!]);
    await withUrl(mainUrl, async (c) => {
      seen.fpMain = await fingerprint(c, 'app.t');
    });
  });

  it('[KILL -9] of mariadbd under load: every commit the shipper reported is there after the restart; the RPO window is measured', async () => {
    const acked: Array<{ id: number; lsn: bigint; atMs: number }> = [];
    const reports: Array<{ atMs: number; commit: bigint }> = [];
    const { mariadbdPid, controllerPid } = computeState('main');
    let stop = false;
    const poll = (async () => {
      while (!stop) {
        const commit = await shipperCommit('main').catch(() => undefined);
        if (commit !== undefined) reports.push({ atMs: Date.now(), commit });
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const conn: Connection = await connectUrl(mainUrl);
    await conn.query('CREATE TABLE app.load (id INT PRIMARY KEY, pad VARCHAR(200)) ENGINE=InnoDB');
    await waitAuxCurrent('main');
    const writer = (async () => {
      for (let id = 1; ; id++) {
        try {
          await conn.query('INSERT INTO app.load VALUES (?, REPEAT(?, 200))', [id, 'x']);
          acked.push({ id, lsn: await innodbLsn(conn), atMs: Date.now() });
        } catch {
          return;
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 2500));
    const killAtMs = Date.now();
    process.kill(mariadbdPid, 'SIGKILL');
    await writer;
    stop = true;
    await poll;
    conn.destroy();
    await waitDead(controllerPid);
    expect(acked.length).toBeGreaterThan(50);

    const url = computeLine(await ok(['compute', 'start', '--branch', 'main']), 'main').url;
    expect(url).toBe(mainUrl);
    const reported = reports.filter((r) => r.atMs <= killAtMs).reduce((a, r) => (r.commit > a ? r.commit : a), 0n);
    const mustSurvive = acked.filter((a) => a.lsn <= reported);
    const present = new Set<number>();
    await withUrl(url, async (c) => {
      const [rows] = await c.query<RowDataPacket[]>('SELECT id FROM app.load');
      for (const r of rows) present.add(Number(r['id']));
      expect(await fingerprint(c, 'app.t')).toBe(seen.fpMain);
    });
    expect(mustSurvive.length).toBeGreaterThan(0);
    expect(mustSurvive.filter((a) => !present.has(a.id))).toEqual([]);
    const lost = acked.filter((a) => !present.has(a.id));
    const lastKept = acked.filter((a) => present.has(a.id)).at(-1);
    process.stderr.write(
      `[RPO] kill -9 of mariadbd after ${acked.length} acknowledged commits: ${lost.length} acknowledged commits lost ` +
        `(${lastKept ? killAtMs - lastKept.atMs : 0} ms before the kill were not yet in the quorum); ` +
        `${mustSurvive.length} reported committed by the shipper, all present\n`,
    );
  });

  it('[KILL -9] of the compute controller: its mariadbd dies with it; a new compute has every shipped commit', async () => {
    let lsn = 0n;
    await withUrl(mainUrl, async (c) => {
      for (let i = 0; i < 50; i++) await c.query('INSERT INTO app.load VALUES (?, ?)', [300_000 + i, 'before the controller died']);
      lsn = await innodbLsn(c);
    });
    await waitShipped('main', lsn);
    const { controllerPid, mariadbdPid } = computeState('main');
    process.kill(controllerPid, 'SIGKILL');
    // The kernel's parent-death signal takes mariadbd down too: no one acknowledges commits nobody ships.
    await waitDead(mariadbdPid);
    const url = computeLine(await ok(['compute', 'start', '--branch', 'main']), 'main').url;
    expect(url).toBe(mainUrl);
    await withUrl(url, async (c) => expect(await scalar(c, 'SELECT COUNT(*) FROM app.load WHERE id >= 300000')).toBe('50'));
  });

  it('[KILL -9] of one safekeeper and of the page server under load: writes go on, nothing committed is lost', async () => {
    // The safekeeper the page server streams from: its ingest must switch to another one.
    let killed: number | undefined;
    await until('the page server streaming main from a safekeeper', async () => (killed = await streamedSafekeeper()) !== undefined, 60_000);
    const skPid = pidOf(`safekeeper-${killed!}`);
    process.kill(skPid, 'SIGKILL');
    await waitDead(skPid);
    let lsn = 0n;
    await withUrl(mainUrl, async (c) => {
      for (let i = 0; i < 100; i++) await c.query('INSERT INTO app.load VALUES (?, ?)', [100_000 + i, 'one safekeeper down']);
      lsn = await innodbLsn(c);
    });
    await waitShipped('main', lsn);
    // Ingest goes on from another member while that one is down.
    expect(await ok(['wait-lsn', '--branch', 'main', '--lsn', lsn.toString(), '--timeout-ms', '120000'])).toMatch(/ingested/);
    const now = await streamedSafekeeper();
    expect(now === undefined || now !== killed, `still streaming from the killed safekeeper ${killed}`).toBe(true);
    const ps = pidOf('pageserver');
    process.kill(ps, 'SIGKILL');
    await waitDead(ps);
    await withUrl(mainUrl, async (c) => {
      for (let i = 100; i < 200; i++) await c.query('INSERT INTO app.load VALUES (?, ?)', [100_000 + i, 'page server down too']);
      expect(await scalar(c, 'SELECT COUNT(*) FROM app.load WHERE id BETWEEN 100000 AND 199999')).toBe('200');
      lsn = await innodbLsn(c);
      seen.fpMain = await fingerprint(c, 'app.load');
    });
    await waitShipped('main', lsn);
    // `up` brings back what is missing and leaves what runs alone.
    await ok(['up', '--no-console']);
    const waited = await ok(['wait-lsn', '--branch', 'main', '--lsn', lsn.toString(), '--timeout-ms', '120000']);
    expect(waited).toMatch(/ingested/);
    const status = await ok(['status']);
    expect(status).toMatch(new RegExp(`^safekeeper ${killed!} \\S+ up$`, 'm'));
    expect(status).toMatch(/^pageserver \S+ up$/m);
    expect(status).toMatch(new RegExp(`^ {2}safekeeper ${killed!}: term \\d+ flush \\d+ commit \\d+`, 'm'));
    // A compute from the page server alone (read-only, at the head) sees every row.
    const ro = await ok(['compute', 'start', '--branch', 'main', '--read-only', '--lsn', lsn.toString()]);
    const roLine = /^compute (\S+) (mysql:\S+)$/m.exec(ro)!;
    await withUrl(roLine[2]!, async (c) => expect(await fingerprint(c, 'app.load')).toBe(seen.fpMain));
    await ok(['compute', 'stop', '--name', roLine[1]!]);
  });

  it('[MEMBERSHIP] three new safekeeper nodes take over main from the first three under writes; the compute follows', async () => {
    for (const id of [4, 5, 6]) expect(await ok(['safekeeper', 'add'])).toMatch(new RegExp(`^safekeeper ${id} http://127\\.0\\.0\\.1:\\d+$`, 'm'));
    const conn = await connectUrl(mainUrl);
    let stop = false;
    let written = 0;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        await conn.query('INSERT INTO app.load VALUES (?, ?)', [200_000 + i, 'during the membership change']);
        written++;
      }
    })();
    const changed = await ok(['safekeeper', 'membership', '--branch', 'main', '--members', '4,5,6']);
    expect(changed).toMatch(/^generation \d+ members 4,5,6$/m);
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await writer;
    const lsn = await innodbLsn(conn);
    seen.fpMain = await fingerprint(conn, 'app.load');
    conn.destroy();
    expect(written).toBeGreaterThan(10);
    // The compute's proposer moved to the new members: what it writes now commits there.
    await waitShipped('main', lsn);
    const status = await ok(['status']);
    for (const id of [4, 5, 6]) expect(status).toMatch(new RegExp(`^ {2}safekeeper ${id}: term \\d+ flush (\\d+) commit (\\d+) .* members 4,5,6$`, 'm'));
    const commit4 = BigInt(new RegExp('^ {2}safekeeper 4: term \\d+ flush \\d+ commit (\\d+)', 'm').exec(status)![1]!);
    expect(commit4).toBeGreaterThanOrEqual(lsn);
    // A node still named by a branch's timeline cannot be removed; one no timeline names can.
    const refused = await cli(['safekeeper', 'remove', '1']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/safekeeper 1 is a member of branch \S+'s timeline/);
    expect(await ok(['safekeeper', 'add'])).toMatch(/^safekeeper 7 /m);
    expect(await ok(['safekeeper', 'remove', '7'])).toMatch(/^safekeeper 7 removed$/m);
    expect(await ok(['status'])).not.toMatch(/^safekeeper 7 /m);
  });

  it('[DOWN/UP] down stops every process within 10 s, two computes in parallel included; up resumes the same cluster with all its data', async () => {
    const pids = ['safekeeper-1', 'safekeeper-2', 'safekeeper-3', 'safekeeper-4', 'pageserver'].map(pidOf);
    // What users run: the services run from their bundles, not from TypeScript source.
    expect(cmdline(pidOf('safekeeper-1'))).toContain('/apps/safekeeper/dist/safekeeper.mjs');
    expect(cmdline(pidOf('pageserver'))).toContain('/apps/pageserver/dist/pageserver.mjs');
    const main = computeState('main');
    expect(isRunning(main.controllerPid)).toBe(true);
    // A second compute (read-only, at main's head): the bound is for down with several computes, stopped in parallel.
    const roName = /^compute (\S+) mysql:\S+$/m.exec(await ok(['compute', 'start', '--branch', 'main', '--read-only']))?.[1];
    expect(roName).toBeDefined();
    const ro = computeState(roName!);
    expect(isRunning(ro.controllerPid)).toBe(true);
    const t0 = performance.now();
    const out = await ok(['down']);
    const downMs = performance.now() - t0;
    const parallel = /^stopping (\d+) computes in parallel \(([^)]*)\): clean stop, SIGKILL after/m.exec(out);
    expect(parallel, out).not.toBeNull();
    expect(Number(parallel![1])).toBeGreaterThanOrEqual(2);
    expect(parallel![2]!.split(', ')).toEqual(expect.arrayContaining(['main', roName!]));
    expect(out).toMatch(/^stopped compute main$/m);
    expect(out).toContain(`\nstopped compute ${roName!}\n`);
    process.stdout.write(`[DOWN] ./strata down with ${parallel![1]} computes running: ${Math.round(downMs)} ms\n`);
    expect(downMs, out).toBeLessThanOrEqual(DOWN_MS_MAX);
    for (const pid of [...pids, main.controllerPid, main.mariadbdPid, ro.controllerPid, ro.mariadbdPid]) expect(isRunning(pid)).toBe(false);
    expect(existsSync(join(home, 'cluster.json'))).toBe(true);
    const again = await ok(['up', '--no-console']);
    expect(computeLine(again, 'main').url).toBe(mainUrl);
    await withUrl(mainUrl, async (c) => expect(await fingerprint(c, 'app.load')).toBe(seen.fpMain));
  });
});
