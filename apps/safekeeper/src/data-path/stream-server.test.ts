/**
 * The consensus stream end to end: real safekeepers listening on loopback
 * (startSafekeeper: real storage with fsync, the real listener with TLS and
 * JWT) and the real proposer driver of @strata/client.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProposerDriver, type ProposerDriverOptions } from '@strata/client';
import { CONSENSUS_STREAM_PROTOCOL, encodeMessage, FrameReader, type Message } from '@strata/core/consensus';
import { crc32c } from '@strata/core/redo';
import { memoryLogger } from '@strata/service-kit';
import { TENANT, TIMELINE, createBody, ed25519Keys, tempDir, type Keys } from '../app.test-util.js';
import { loadConfig } from '../env.js';
import { startSafekeeper, type RunningSafekeeper } from '../main.js';

const START_LSN = 1000n;
const OTHER_TIMELINE = '00000000000000000000000000000002';

/** Whole, CRC-valid mtrs (one small page write each) adding up to about `bytes`. */
function mtrs(bytes: number, seed: number): Uint8Array {
  const one = 11;
  const n = Math.max(1, Math.floor(bytes / one));
  const out = new Uint8Array(n * one);
  for (let i = 0; i < n; i++) {
    const at = i * one;
    const k = seed * 7919 + i;
    out.set([0x35, 1, 1 + (k % 5), 100 + (k % 20), k & 0xff, (k >> 8) & 0xff], at);
    out[at + 6] = 1;
    new DataView(out.buffer).setUint32(at + 7, crc32c(out, at, at + 6));
  }
  return out;
}

interface Cluster {
  sks: RunningSafekeeper[];
  configs: ReturnType<typeof loadConfig>[];
  stop(): Promise<void>;
}

async function cluster(dir: string, name: string): Promise<Cluster> {
  const configs = [1, 2, 3].map((id) => loadConfig(['--id', String(id), '--listen', '127.0.0.1:0', '--data', join(dir, name, `sk${id}`)], {}, '/'));
  const sks: RunningSafekeeper[] = [];
  for (const c of configs) sks.push(await startSafekeeper(c, memoryLogger()));
  // The restarted ones come back on the same port.
  sks.forEach((s, i) => (configs[i] = { ...configs[i]!, listen: { host: '127.0.0.1', port: s.port } }));
  for (const s of sks) {
    for (const timelineId of [TIMELINE, OTHER_TIMELINE]) {
      const res = await fetch(`${s.url}/v1/tenants/${TENANT}/timelines`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(createBody({ timelineId })),
      });
      expect(res.status, await res.text()).toBe(201);
    }
  }
  return {
    sks,
    configs,
    stop: async () => {
      for (const s of sks) await s.stop();
    },
  };
}

const endpoints = (c: Cluster) => c.sks.map((s, i) => ({ nodeId: i + 1, baseUrl: s.url }));

function driver(c: Cluster, opts: Partial<ProposerDriverOptions> = {}): ProposerDriver {
  return new ProposerDriver({ tenantId: TENANT, timelineId: TIMELINE, proposerId: 7, safekeepers: endpoints(c), heartbeatMs: 100, ...opts });
}

async function status(sk: RunningSafekeeper, timelineId = TIMELINE): Promise<{ flushLsn: bigint; commitLsn: bigint }> {
  const t = sk.deps.timelines.get(TENANT, timelineId);
  return { flushLsn: t.flushLsn, commitLsn: t.commitLsn };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Open a raw consensus stream (the upgrade only), as a hostile client would. */
function rawStream(url: string, timelineId = TIMELINE, token?: string): Promise<{ socket: Socket; status: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/v1/tenants/${TENANT}/timelines/${timelineId}/consensus/stream`, {
      headers: { connection: 'Upgrade', upgrade: CONSENSUS_STREAM_PROTOCOL, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
    req.on('upgrade', (_res: IncomingMessage, socket: Socket) => resolve({ socket, status: 101 }));
    req.on('response', (res: IncomingMessage) => {
      res.resume();
      resolve({ socket: res.socket as Socket, status: res.statusCode ?? 0 });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the consensus stream (real safekeepers on loopback)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let c: Cluster | undefined;
  let d: ProposerDriver | undefined;
  beforeAll(async () => {
    tmp = await tempDir('strata-sk-stream-');
  });
  afterEach(async () => {
    d?.stop();
    d = undefined;
    await c?.stop();
    c = undefined;
  });
  afterAll(() => tmp.cleanup());

  it('pipelined appends commit; acknowledgements carry flush and commit LSNs; one connection per safekeeper, no HTTP appends', async () => {
    c = await cluster(tmp.dir, 'pipelined');
    const commits: bigint[] = [];
    d = driver(c, { onEvent: (e) => e.kind === 'committed' && commits.push(e.commitLsn) });
    await d.waitElected(10_000);
    let lsn = d.endLsn;
    expect(lsn).toBe(START_LSN);
    const flushesBefore = c.sks.map((s) => s.deps.timelines.get(TENANT, TIMELINE).walFlushes);
    // 300 appends without waiting for any reply.
    for (let i = 0; i < 300; i++) {
      const data = mtrs(4096, i);
      d.append(lsn, data);
      lsn += BigInt(data.length);
    }
    await d.waitCommitted(lsn, 20_000);
    expect(await d.waitAllFlushed([1, 2, 3], lsn, 10_000)).toBe(true);
    expect(d.minFlushLsn([1, 2, 3])).toBe(lsn);
    // Commits were announced as acknowledgements arrived, in order, far more often than once.
    expect(commits.at(-1)).toBe(lsn);
    expect(commits.length).toBeGreaterThan(1);
    for (let i = 1; i < commits.length; i++) expect(commits[i]!).toBeGreaterThan(commits[i - 1]!);
    for (const s of c.sks) expect((await status(s)).flushLsn).toBe(lsn);
    // Appends that arrived together, or during an fdatasync, shared one.
    c.sks.forEach((s, i) => expect(s.deps.timelines.get(TENANT, TIMELINE).walFlushes - flushesBefore[i]!).toBeLessThan(150));
    // The commit LSN travels to the safekeepers on the next append or heartbeat.
    await until('every safekeeper to know the commit', async () => (await Promise.all(c!.sks.map((s) => status(s)))).every((st) => st.commitLsn === lsn));
    for (const p of d.peerStats()) {
      expect(p).toMatchObject({ connection: 'open', connects: 1, failed: 0, framesDropped: 0, queued: 0 });
      expect(p.bytesSent).toBeGreaterThan(Number(lsn - START_LSN));
    }
    // Nothing went through the HTTP consensus route.
    const metrics = await (await fetch(`${c.sks[0]!.url}/metrics`)).text();
    expect(metrics).not.toMatch(/safekeeper_http_requests_total\{[^}]*consensus"/);
  });

  it('a safekeeper that stops is reconnected with backoff once it is back; the quorum commits meanwhile', async () => {
    c = await cluster(tmp.dir, 'restart');
    d = driver(c, { backoffMsMin: 20, backoffMsMax: 400 });
    await d.waitElected(10_000);
    let lsn = d.endLsn;
    const push = (n: number) => {
      for (let i = 0; i < n; i++) {
        const data = mtrs(8192, i);
        d!.append(lsn, data);
        lsn += BigInt(data.length);
      }
    };
    push(20);
    await d.waitAllFlushed([1, 2, 3], lsn, 10_000);
    await c.sks[2]!.stop();
    await until('the driver to notice', () => d!.peerStats()[2]!.connection !== 'open');
    push(20);
    await d.waitCommitted(lsn, 10_000);
    // Down for a while: attempts back off (20, 40, ... 400 ms, with jitter), not a busy loop.
    await new Promise((r) => setTimeout(r, 1500));
    const failed = d.peerStats()[2]!.failed;
    expect(failed).toBeGreaterThanOrEqual(3);
    expect(failed).toBeLessThanOrEqual(15);
    expect(d.peerStats()[2]!.lastError).toMatch(/ECONNREFUSED|closed/);
    c.sks[2] = await startSafekeeper(c.configs[2]!, memoryLogger());
    push(10);
    expect(await d.waitAllFlushed([1, 2, 3], lsn, 15_000)).toBe(true);
    expect((await status(c.sks[2]!)).flushLsn).toBe(lsn);
    expect(d.peerStats()[2]).toMatchObject({ connection: 'open', connects: 2 });
    expect(d.peerStats()[0]).toMatchObject({ connects: 1, failed: 0 });
  });

  it('back-pressure: WAL beyond the acknowledged flush LSN stays within the window', async () => {
    c = await cluster(tmp.dir, 'window');
    const windowBytes = 64 * 1024;
    const appendBytesMax = 16 * 1024;
    d = driver(c, { inflightBytesMax: windowBytes, appendBytesMax });
    await d.waitElected(10_000);
    let maxUnacked = 0;
    let maxQueued = 0;
    const sample = () => {
      for (const p of d!.peerStats()) {
        maxUnacked = Math.max(maxUnacked, p.unackedBytes);
        maxQueued = Math.max(maxQueued, p.queuedBytes);
      }
    };
    const timer = setInterval(sample, 1);
    let lsn = d.endLsn;
    // 4 MiB handed over at once: far more than the window.
    for (let i = 0; i < 256; i++) {
      const data = mtrs(16 * 1024, i);
      d.append(lsn, data);
      lsn += BigInt(data.length);
      sample();
    }
    await d.waitCommitted(lsn, 30_000);
    clearInterval(timer);
    expect(maxUnacked).toBeGreaterThan(0);
    expect(maxUnacked).toBeLessThan(windowBytes + appendBytesMax);
    expect(maxQueued).toBeLessThan(windowBytes + 4 * appendBytesMax + (1 << 20));
  });

  it('JWT checked at connect: a bad token or another tenant\'s is refused before any frame; a good one streams (over TLS)', async () => {
    const keys: Keys = await ed25519Keys();
    const dir = join(tmp.dir, 'auth');
    await writeFile(join(tmp.dir, 'auth.pub'), keys.publicKeyPem);
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(tmp.dir, 'tls.key'), '-out', join(tmp.dir, 'tls.crt')],
      { stdio: 'ignore' },
    );
    const ca = await readFile(join(tmp.dir, 'tls.crt'));
    const configs = [1, 2, 3].map((id) =>
      loadConfig(['--id', String(id), '--listen', '127.0.0.1:0', '--data', join(dir, `sk${id}`), '--auth-public-key', join(tmp.dir, 'auth.pub'), '--tls-cert', join(tmp.dir, 'tls.crt'), '--tls-key', join(tmp.dir, 'tls.key')], {}, '/'),
    );
    const sks: RunningSafekeeper[] = [];
    for (const cfg of configs) sks.push(await startSafekeeper(cfg, memoryLogger()));
    c = { sks, configs, stop: async () => void (await Promise.all(sks.map((s) => s.stop()))) };
    for (const s of sks) {
      // Made through the registry: the admin API over TLS is main.test.ts's.
      const t = await s.deps.timelines.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: START_LSN, conf: { generation: 1, members: [1, 2, 3] } });
      expect(t.timeline.flushLsn).toBe(START_LSN);
    }
    expect(sks[0]!.url).toMatch(/^https:/);
    const other = await ed25519Keys();
    const cases: Array<[string, string, RegExp]> = [
      ['garbage', 'not-a-jwt', /HTTP 401 UNAUTHENTICATED/],
      ['signed by another key', await other.token({ scope: 'admin' }), /HTTP 401 UNAUTHENTICATED/],
      ['another tenant', await keys.token({ scope: 'tenant', tenant_id: 'fedcba9876543210fedcba9876543210' }), /HTTP 403 FORBIDDEN/],
    ];
    for (const [what, token, error] of cases) {
      const bad = driver(c, { token, ca, backoffMsMax: 100 });
      try {
        await expect(bad.waitElected(500), what).rejects.toThrow(/timed out/);
        for (const p of bad.peerStats()) {
          expect(p.connects, what).toBe(0);
          expect(p.lastError, what).toMatch(error);
        }
      } finally {
        bad.stop();
      }
    }
    expect(sks.every((s) => s.deps.timelines.get(TENANT, TIMELINE).control.term === 0n)).toBe(true);
    d = driver(c, { token: await keys.token({ scope: 'tenant', tenant_id: TENANT }), ca });
    await d.waitElected(10_000);
    const data = mtrs(4096, 1);
    d.append(d.endLsn, data);
    await d.waitCommitted(START_LSN + BigInt(data.length), 10_000);
  });

  it('hostile frames close the connection and nothing else: oversize length, unknown tag, another timeline, a reply type', async () => {
    c = await cluster(tmp.dir, 'hostile');
    const sk = c.sks[0]!;
    const greeting = (timelineId: string): Message => ({ type: 'Greeting', tenantId: TENANT, timelineId, generation: 0, proposerId: 1, conf: null });
    const bad: Array<[string, Uint8Array]> = [
      ['oversize length', Uint8Array.from([0xff, 0xff, 0xff, 0xff])],
      ['unknown tag', (() => {
        const f = encodeMessage(greeting(TIMELINE));
        f[4] = 99;
        return f;
      })()],
      ['another timeline', encodeMessage(greeting(OTHER_TIMELINE))],
      ['a reply type', encodeMessage({ type: 'TermBumpResponse', tenantId: TENANT, timelineId: TIMELINE, generation: 0, nodeId: 1, term: 1n })],
    ];
    for (const [what, bytes] of bad) {
      const { socket, status: st } = await rawStream(sk.url);
      expect(st, what).toBe(101);
      const closed = once(socket, 'close');
      socket.on('error', () => undefined);
      socket.write(bytes);
      await closed;
    }
    // A well-formed greeting is still answered on a fresh stream.
    const { socket } = await rawStream(sk.url);
    const reader = new FrameReader();
    const got = new Promise<Message>((resolve) => socket.on('data', (chunk: Buffer) => reader.push(chunk, resolve)));
    socket.write(encodeMessage(greeting(TIMELINE)));
    expect(await got).toMatchObject({ type: 'GreetingResponse', nodeId: 1, term: 0n });
    socket.destroy();
    // Unknown timeline and a wrong path are refused at connect.
    expect((await rawStream(sk.url, 'ffffffffffffffffffffffffffffffff')).status).toBe(404);
    expect(c.sks.every((s) => s.deps.timelines.get(TENANT, TIMELINE).flushLsn === START_LSN)).toBe(true);
  });

  it("scope on the stream: a compute's tenant token cannot switch membership, bump the term, or forge a configuration; an operator's can", async () => {
    const keys: Keys = await ed25519Keys();
    await writeFile(join(tmp.dir, 'scope.pub'), keys.publicKeyPem);
    const cfg = loadConfig(['--id', '1', '--listen', '127.0.0.1:0', '--data', join(tmp.dir, 'scope', 'sk1'), '--auth-public-key', join(tmp.dir, 'scope.pub')], {}, '/');
    const sk = await startSafekeeper(cfg, memoryLogger());
    c = { sks: [sk], configs: [cfg], stop: () => sk.stop() };
    await sk.deps.timelines.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: START_LSN, conf: { generation: 1, members: [1, 2, 3] } });
    const h = { tenantId: TENANT, timelineId: TIMELINE, generation: 1 };
    /** Send frames on a fresh stream with `token`, return the replies (one per frame). */
    const exchange = async (token: string, frames: Message[]): Promise<Message[]> => {
      const { socket, status: st } = await rawStream(sk.url, TIMELINE, token);
      expect(st).toBe(101);
      const reader = new FrameReader();
      const got: Message[] = [];
      const all = new Promise<void>((resolve) => socket.on('data', (chunk: Buffer) => reader.push(chunk, (m) => got.push(m) === frames.length && resolve())));
      for (const f of frames) socket.write(encodeMessage(f));
      await all;
      socket.destroy();
      return got;
    };
    const forged = { generation: 9, members: [1] };
    const hostile: Message[] = [
      { type: 'TermBumpRequest', ...h, term: 1n << 40n },
      { type: 'MembershipSwitchRequest', ...h, conf: forged },
      { type: 'Greeting', ...h, generation: 9, proposerId: 66, conf: forged },
      { type: 'AppendRequest', ...h, term: 0n, beginLsn: START_LSN, endLsn: START_LSN, commitLsn: START_LSN, data: new Uint8Array() },
    ];
    const tenant = await keys.token({ scope: 'tenant', tenant_id: TENANT });
    const replies = await exchange(tenant, hostile);
    expect(replies[0]).toMatchObject({ type: 'Reject', reason: 'notAuthorized' });
    expect(replies[1]).toMatchObject({ type: 'Reject', reason: 'notAuthorized' });
    expect(replies[2]).toMatchObject({ type: 'GreetingResponse', conf: { generation: 1, members: [1, 2, 3] } });
    expect(replies[3]).toMatchObject({ type: 'Reject', reason: 'notElected' });
    const t = sk.deps.timelines.get(TENANT, TIMELINE);
    expect(t.control.term).toBe(0n);
    expect(t.control.conf).toEqual({ generation: 1, members: [1, 2, 3] });
    expect(sk.deps.metrics.consensusRefused.get({ tenant_id: TENANT, timeline_id: TIMELINE, reason: 'notAuthorized' })).toBe(2n);
    // The same from an operator's token is obeyed.
    const admin = await keys.token({ scope: 'safekeeperdata' });
    const ok = await exchange(admin, hostile.slice(0, 2));
    expect(ok.map((m) => m.type)).toEqual(['TermBumpResponse', 'MembershipSwitchResponse']);
    expect(t.control.term).toBe(1n << 40n);
    expect(t.control.conf).toEqual(forged);
  });
});
