/**
 * Issue 16's attacks on the console and the compute, against a real local
 * cluster (`./strata up`) and a real Postgres: a viewer reads no secret,
 * time travel cannot read the host's files or the grant tables, mariadbd
 * runs unprivileged, the compute's control port wants the admin token, and
 * the files holding secrets are 0600. Last, the compute's own tenant token
 * attacks the cluster's safekeepers, and the timeline keeps working: main
 * writes, restarts, and its rows are there.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The stream client alone: the package's index brings in modules that do not typecheck against the console's DOM lib.
import { ConsensusStream } from '@strata/client/consensus-stream';
import { encodeFrames, encodeMessage, type AcceptorMessage, type Message } from '@strata/core/consensus';
import { type ConsensusState as SafekeeperTimeline, fetchConsensusState } from '../../../../../test/support/consensus-state';
import { until } from '../../../../../test/support/until';
import { adminAndViewer, createHarness, type Harness } from '../testing/harness';

interface ComputeFile {
  controlUrl: string;
  controllerPid: number;
  mariadbdPid: number;
  connectionUrl: string;
}

/** The parts of cluster.json the attacks need. */
interface Registry {
  tenantId: string;
  safekeepers: { id: number; url: string }[];
  pageserver: { url: string };
  branches: { name: string; timelineId: string }[];
}


const U64_MAX = (1n << 64n) - 1n;

/**
 * One consensus stream as a hostile compute holds it: @strata/client's
 * stream client with the tenant token, one frame sent at a time and its
 * reply awaited. send() answers null when the safekeeper closes the
 * connection instead of replying; the backoff is long so that it stays closed.
 */
class HostileStream {
  private readonly got: AcceptorMessage[] = [];
  private readonly conn: ConsensusStream;
  private openNow = false;
  closed = false;
  closeReason = '';

  constructor(baseUrl: string, tenantId: string, timelineId: string, token: string) {
    this.conn = new ConsensusStream({
      baseUrl,
      tenantId,
      timelineId,
      token,
      backoffMsMin: 600_000,
      backoffMsMax: 600_000,
      onOpen: () => {
        this.openNow = true;
      },
      onMessage: (m) => this.got.push(m),
      onDrain: () => undefined,
      onClose: (reason) => {
        this.closed = true;
        this.openNow = false;
        this.closeReason = reason;
      },
    });
  }

  async send(m: Message): Promise<AcceptorMessage | null> {
    await until('the consensus stream to open', async () => this.openNow || this.closed, 10_000);
    if (this.closed) throw new Error(`the consensus stream is not open: ${this.closeReason}`);
    const want = this.got.length + 1;
    this.conn.write(encodeMessage(m));
    await until(`a reply to ${m.type}`, async () => this.got.length >= want || this.closed, 10_000);
    return this.got[want - 1] ?? null;
  }

  close(): void {
    this.conn.close();
  }
}

describe('[SECURITY][CLUSTER] least privilege for viewers, time travel, mariadbd and the compute control port', () => {
  let h: Harness;
  let admin: string;
  let viewer: string;
  let dbPassword: string;
  let adminToken: string;

  const mainFile = (): ComputeFile => JSON.parse(readFileSync(join(h.home, 'computes', 'main', 'compute.json'), 'utf8')) as ComputeFile;
  const modeOf = (file: string) => (statSync(file).mode & 0o777).toString(8);

  beforeAll(async () => {
    h = await createHarness({ cluster: true });
    ({ admin, viewer } = await adminAndViewer(h));
    const registry = JSON.parse(readFileSync(join(h.home, 'cluster.json'), 'utf8')) as { db: { password: string } };
    dbPassword = registry.db.password;
    expect(dbPassword.length).toBeGreaterThanOrEqual(8);
    adminToken = readFileSync(join(h.home, 'keys', 'admin.jwt'), 'utf8').trim();
  });
  afterAll(() => h?.close());

  it("[VIEWER] computes.list, overview and operations carry no password; an admin's polled list neither, only the reveal asks for it", async () => {
    const mine = await h.caller(viewer).computes.list();
    const main = mine.find((c) => c.name === 'main');
    expect(main?.connectionUrl).toMatch(/^mysql:\/\/root@127\.0\.0\.1:\d+\/$/);
    expect(JSON.stringify(mine)).not.toContain(dbPassword);
    expect(JSON.stringify(await h.caller(viewer).overview.get())).not.toContain(dbPassword);
    // The list is polled by every open page: an admin's carries the password no more than a viewer's.
    const adminList = await h.caller(admin).computes.list();
    expect(adminList.find((c) => c.name === 'main')?.connectionUrl).toMatch(/^mysql:\/\/root@127\.0\.0\.1:\d+\/$/);
    expect(JSON.stringify(adminList)).not.toContain(dbPassword);
    // The admin connects with it, asked for on reveal: the redaction is a separate call, not a broken URL.
    expect((await h.caller(admin).computes.connection({ name: 'main' })).connectionUrl).toContain(`:${dbPassword}@`);
    await expect(h.caller(viewer).computes.connection({ name: 'main' })).rejects.toMatchObject({ code: 'FORBIDDEN' });

    // An admin's compute start is an operation every viewer may read: its result names the compute, not the password.
    const op = await h.caller(admin).computes.start({ branch: 'main', readOnly: true });
    await h.deps.background.idle();
    const done = await h.caller(viewer).operations.get({ id: op.id });
    expect(done.status).toBe('finished');
    expect(done.result).toMatchObject({ connectionUrl: expect.stringMatching(/^mysql:\/\/root@/) });
    expect(JSON.stringify(done)).not.toContain(dbPassword);
    expect(JSON.stringify(await h.caller(viewer).operations.list())).not.toContain(dbPassword);
    const name = (done.result as { name: string }).name;
    await h.caller(admin).computes.stop({ name });
    await h.deps.background.idle();
  });

  it('[MARIADBD] runs as an unprivileged OS user with secure_file_priv on an empty directory: even root reads no host file', async () => {
    const { mariadbdPid, connectionUrl } = mainFile();
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${mariadbdPid}/status`, 'utf8'))![1]);
    if (process.getuid?.() === 0) expect(uid).not.toBe(0);
    const c = await mysql.createConnection({ uri: connectionUrl });
    try {
      const [rows] = await c.query<RowDataPacket[]>("SELECT @@secure_file_priv AS dir, LOAD_FILE('/etc/passwd') AS f");
      expect(rows[0]!['dir']).toMatch(/secure-files\/?$/);
      expect(rows[0]!['f']).toBeNull();
    } finally {
      await c.end();
    }
  });

  it('[TIME TRAVEL] LOAD_FILE returns NULL; the query runs as its own account that cannot read mysql.*', async () => {
    const file = await h.caller(viewer).timeTravel.query({ branch: 'main', sql: "SELECT LOAD_FILE('/etc/passwd') AS f" });
    expect(file.rows).toEqual([[null]]);
    const who = await h.caller(viewer).timeTravel.query({ branch: 'main', sql: 'SELECT CURRENT_USER() AS u' });
    expect(who.rows[0]![0]).toMatch(/^strata_tt_[0-9a-f]{12}@127\.0\.0\.1$/);
    await expect(h.caller(viewer).timeTravel.query({ branch: 'main', sql: 'SELECT User, Password FROM mysql.user' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/denied/i),
    });
    await expect(h.caller(viewer).timeTravel.query({ branch: 'main', sql: 'SELECT * FROM mysql.global_priv' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('[CONTROL PORT] every route but /v1/health wants the admin token; a tenant token is forbidden; a foreign Origin cannot stop the compute', async () => {
    const { controlUrl, controllerPid } = mainFile();
    const status = (headers: Record<string, string> = {}) => fetch(`${controlUrl}/v1/status`, { headers });
    expect((await fetch(`${controlUrl}/v1/health`)).status).toBe(200);
    expect((await status()).status).toBe(401);
    expect((await status({ authorization: 'Bearer not-a-jwt' })).status).toBe(401);
    // alg "none": a token anyone can write.
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"scope":"admin"}').toString('base64url')}.`;
    expect((await status({ authorization: `Bearer ${none}` })).status).toBe(401);
    for (const path of ['/metrics', '/v1/lsn-times']) expect((await fetch(`${controlUrl}${path}`)).status).toBe(401);
    // The compute's own tenant token (it holds it in its environment) is not the admin's.
    const tenantToken = /(?:^|\0)STRATA_TOKEN=([^\0]+)/.exec(readFileSync(`/proc/${controllerPid}/environ`, 'utf8'))![1]!;
    expect((await status({ authorization: `Bearer ${tenantToken}` })).status).toBe(403);
    expect((await status({ authorization: `Bearer ${adminToken}` })).status).toBe(200);

    const stop = (headers: Record<string, string>) => fetch(`${controlUrl}/v1/stop`, { method: 'POST', headers });
    expect((await stop({ origin: 'http://evil.example' })).status).toBe(403);
    // Not even with the token: a browser page must never steer it.
    expect((await stop({ origin: 'http://evil.example', authorization: `Bearer ${adminToken}` })).status).toBe(403);
    expect((await stop({ 'sec-fetch-site': 'cross-site', authorization: `Bearer ${adminToken}` })).status).toBe(403);
    expect((await stop({})).status).toBe(401);
    await new Promise((r) => setTimeout(r, 500));
    const after = await (await status({ authorization: `Bearer ${adminToken}` })).json() as { state: string };
    expect(after.state).toBe('running');
  });

  it('[FILES] compute.json (it names the root password), the registry, keys and daemon logs are 0600', () => {
    expect(readFileSync(join(h.home, 'computes', 'main', 'compute.json'), 'utf8')).toContain(dbPassword);
    expect(modeOf(join(h.home, 'computes', 'main', 'compute.json'))).toBe('600');
    expect(modeOf(join(h.home, 'cluster.json'))).toBe('600');
    for (const k of ['auth.key', 'admin.jwt', 'pageserver.jwt', 'safekeeper.jwt']) expect(modeOf(join(h.home, 'keys', k))).toBe('600');
    expect(modeOf(join(h.home, 'logs', 'compute-main.log'))).toBe('600');
  });

  /*
   * Which assertion catches which attack, had it been accepted:
   *  (1) garbage append: the refusals themselves; then the compute's next real
   *      append (the INSERTs) would overlap the stored garbage and be taken as
   *      a resend, the page server would stop ingest at the garbage (wait_lsn
   *      times out), the restart would fail, or the rows would be missing.
   *  (2) term 2^64 − 1: the term check (unchanged on every safekeeper); the
   *      compute would be fenced (the INSERTs fail) and its restart would die
   *      on the term (computes.start does not finish).
   *  (3) empty member list: the configuration check, and the pid check (the
   *      safekeeper used to assert and exit, code 70).
   *  (4) timeline at 2^64 − 1: the 400 and the 404 of that timeline afterwards.
   */
  it('[AFTERWARDS] the tenant token\'s attacks on the real safekeepers are refused, every process lives, and main writes, restarts and keeps its rows', async () => {
    const registry = JSON.parse(readFileSync(join(h.home, 'cluster.json'), 'utf8')) as Registry;
    const tenantId = registry.tenantId;
    const timelineId = registry.branches.find((b) => b.name === 'main')!.timelineId;
    // The compute's own token, from its environment: what a hostile process on the compute host has.
    const token = /(?:^|\0)STRATA_TOKEN=([^\0]+)/.exec(readFileSync(`/proc/${mainFile().controllerPid}/environ`, 'utf8'))![1]!;
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    const timelineUrl = (url: string, id = timelineId) => `${url}/v1/tenants/${tenantId}/timelines/${id}`;
    const daemonPid = (name: string) => Number(readFileSync(join(h.home, 'run', `${name}.pid`), 'utf8').trim());
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const timelineOn = (url: string): Promise<SafekeeperTimeline> => fetchConsensusState(timelineUrl(url), adminToken);
    const consensusPost = (url: string, frames: Uint8Array) =>
      fetch(`${timelineUrl(url)}/consensus`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...bearer(token) }, body: new Uint8Array(frames) });

    const pids = new Map([...registry.safekeepers.map((s) => `safekeeper-${s.id}`), 'pageserver'].map((name) => [name, daemonPid(name)]));
    const before = new Map<number, SafekeeperTimeline>();
    for (const sk of registry.safekeepers) before.set(sk.id, await timelineOn(sk.url));

    for (const sk of registry.safekeepers) {
      const st = before.get(sk.id)!;
      const head = { tenantId, timelineId, generation: st.conf.generation };
      const garbage = (at: bigint): Message => ({ type: 'AppendRequest', ...head, term: st.term, beginLsn: at, endLsn: at + 64n, commitLsn: at + 64n, data: new Uint8Array(64).fill(0xab) });

      // (1) over HTTP: the route takes coordinator messages from operator scopes only.
      const http = await consensusPost(sk.url, encodeFrames([garbage(st.flushLsn)]));
      expect(http.status, `safekeeper ${sk.id}, HTTP append`).toBe(403);
      expect(await http.json()).toMatchObject({ code: 'FORBIDDEN' });
      // (1) over the stream, as a proposer sends it.
      const stream = new HostileStream(sk.url, tenantId, timelineId, token);
      try {
        expect(await stream.send(garbage(st.flushLsn)), `safekeeper ${sk.id}, a fresh connection`).toMatchObject({ type: 'Reject', reason: 'notElected' });
        // Replaying the current term's election is refused while main's own connection holds the term (notElected);
        // were that connection down at this moment, the replay would bind this one (AppendResponse)...
        const replay = await stream.send({ type: 'ProposerElected', ...head, term: st.term, startStreamingAt: st.termHistory[0]!.lsn, termHistory: st.termHistory });
        expect(replay?.type === 'Reject' ? replay.reason : replay?.type, `safekeeper ${sk.id}, replayed election`).toMatch(/^(notElected|AppendResponse)$/);
        // ...and the bytes would still be refused: not redo (badRedo), or not what is stored (conflict) had main appended meanwhile.
        const reply = await stream.send(garbage(st.flushLsn));
        expect(reply, `safekeeper ${sk.id}, after the replay`).toMatchObject({ type: 'Reject' });
        expect(['notElected', 'badRedo', 'conflict']).toContain(reply?.type === 'Reject' ? reply.reason : null);
      } finally {
        stream.close();
      }

      // (2) a term that could never be followed, (3) a configuration without members.
      const bump = encodeFrames([{ type: 'TermBumpRequest', ...head, term: U64_MAX }]);
      const empty = encodeFrames([{ type: 'MembershipSwitchRequest', ...head, generation: st.conf.generation + 1, conf: { generation: st.conf.generation + 1, members: [] } }]);
      for (const [what, frames] of [['TermBumpRequest 2^64 − 1', bump], ['empty MembershipSwitchRequest', empty]] as const) {
        const res = await consensusPost(sk.url, frames);
        expect(res.status, `safekeeper ${sk.id}, ${what}`).toBe(403);
        expect(await res.json()).toMatchObject({ code: 'FORBIDDEN' });
      }

      // (4) a timeline starting at 2^64 − 1.
      const other = randomBytes(16).toString('hex');
      const created = await fetch(`${sk.url}/v1/tenants/${tenantId}/timelines`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer(token) },
        body: JSON.stringify({ timelineId: other, startLsn: String(U64_MAX), conf: { generation: 1, members: registry.safekeepers.map((s) => s.id) } }),
      });
      expect(created.status, `safekeeper ${sk.id}, timeline at 2^64 − 1`).toBe(400);
      expect(await created.json()).toMatchObject({ code: 'BAD_REQUEST' });
      expect((await fetch(timelineUrl(sk.url, other), { headers: bearer(adminToken) })).status).toBe(404);
    }

    // Every process is the one that was there before (none exited and was restarted) and answers.
    await new Promise((r) => setTimeout(r, 300));
    for (const [name, pid] of pids) expect(alive(pid) && daemonPid(name) === pid, `${name} (pid ${pid}) is alive`).toBe(true);
    for (const sk of registry.safekeepers) {
      expect((await fetch(`${sk.url}/v1/status`, { headers: bearer(adminToken) })).status).toBe(200);
      const st = await timelineOn(sk.url);
      const was = before.get(sk.id)!;
      expect({ term: st.term, termHistory: st.termHistory, conf: st.conf }, `safekeeper ${sk.id}`).toEqual({ term: was.term, termHistory: was.termHistory, conf: was.conf });
    }

    // main writes through its own connection...
    const rows: [number, string][] = Array.from({ length: 200 }, (_, i) => [i, `row ${i} after the attacks`]);
    const writer = await mysql.createConnection({ uri: mainFile().connectionUrl });
    try {
      await writer.query('CREATE DATABASE IF NOT EXISTS afterwards');
      await writer.query('CREATE TABLE afterwards.t (id INT PRIMARY KEY, v VARCHAR(64) NOT NULL) ENGINE=InnoDB');
      await writer.query('INSERT INTO afterwards.t (id, v) VALUES ?', [rows]);
    } finally {
      await writer.end();
    }

    // ...is stopped and started through the console's API...
    const stopped = await h.caller(admin).computes.stop({ name: 'main' });
    await h.deps.background.idle();
    const stop = await h.caller(admin).operations.get({ id: stopped.id });
    expect(stop, JSON.stringify(stop)).toMatchObject({ status: 'finished' });
    // The rows went through the safekeepers (a restart starts from their committed end, basebackup from the
    // page server), and the page server ingested all of it: garbage in the WAL would stop it short.
    const committed = (await Promise.all(registry.safekeepers.map((s) => timelineOn(s.url)))).reduce((m, st) => (st.commitLsn > m ? st.commitLsn : m), 0n);
    expect(committed).toBeGreaterThan([...before.values()].reduce((m, st) => (st.flushLsn > m ? st.flushLsn : m), 0n));
    await until(`the page server to ingest up to ${committed}`, async () => {
      const res = await fetch(`${registry.pageserver.url}/v1/tenants/${tenantId}/timelines/${timelineId}/wait_lsn?lsn=${committed}&timeoutMs=5000`, { headers: bearer(token) });
      return res.status === 200;
    }, 60_000);
    const started = await h.caller(admin).computes.start({ branch: 'main' });
    await h.deps.background.idle();
    const done = await h.caller(admin).operations.get({ id: started.id });
    expect(done, JSON.stringify(done)).toMatchObject({ status: 'finished' });

    // ...and every row is there.
    const after = await mysql.createConnection({ uri: mainFile().connectionUrl });
    try {
      const [got] = await after.query<RowDataPacket[]>('SELECT id, v FROM afterwards.t ORDER BY id');
      expect(got.map((r) => [r['id'], r['v']])).toEqual(rows);
    } finally {
      await after.end();
    }
    for (const [name, pid] of pids) expect(alive(pid), `${name} (pid ${pid}) is alive`).toBe(true);
  }, 600_000);
});
