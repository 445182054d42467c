/**
 * Issue 16 against three real safekeeper processes with auth on: what a
 * compute's tenant token can send over the proposer stream (the consensus
 * stream the real proposer uses), while that proposer is running.
 *
 *  (a) 64 bytes of 0xAB appended at the current flush LSN with the current
 *      term: on a fresh connection it is refused (notElected, the term is
 *      bound to the elected connection); after replaying the current term's
 *      ProposerElected on that connection (which the acceptor takes as a
 *      duplicate) it is refused as not redo (badRedo). Nothing is stored.
 *  (b) a resend of valid mtrs that differ from the stored WAL they overlap:
 *      refused (conflict), nothing stored.
 *  (c) a forged Greeting configuration, a MembershipSwitchRequest and a
 *      TermBumpRequest: the configuration is not adopted, the other two are
 *      notAuthorized; a term of 2^64 − 1 closes the connection (corrupt
 *      frame) and a vote for 2^62 − 1 is badTerm. Nothing changes.
 *  Then the real proposer writes on, and every safekeeper's WAL is exactly
 *  what it sent, CRC-valid mtrs all through.
 *  (d) A member that missed a configuration switch is not brought up by a
 *      compute's Greeting (that is what (c) refuses), but by its peers: the
 *      Greeting only makes it ask them (membership/conf-sync.ts).
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProposerDriver } from '@strata/client';
import { CONSENSUS_STREAM_PROTOCOL, decodeFrames, encodeFrames, encodeMessage, FrameReader, type Message } from '@strata/core/consensus';
import { wholeMtrsError } from '@strata/core/redo';
import { signToken } from '@strata/service-kit';
import { makeTempDir, removeTempDir } from '../support/mariadb.js';
import { safekeeper, type SafekeeperProcess } from '../support/safekeepers.js';
import { mtrs } from '../support/mtrs.js';
import { until } from '../support/until.js';
import { type ConsensusState, fetchConsensusState } from '../support/consensus-state.js';

const TENANT = '0123456789abcdef0123456789abcdef';
const TIMELINE = 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeee16';
const START_LSN = 300_000n;
const CONF = { generation: 1, members: [1, 2, 3] };

let dir: string;
const sks: SafekeeperProcess[] = [];
let admin: string;
let tenant: string;
/** The real proposer (the compute's), running through all the attacks. */
let proposer: ProposerDriver;
/** Everything the real proposer wrote, from START_LSN. */
const written: Uint8Array[] = [];
let endLsn = START_LSN;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const timelineUrl = (s: SafekeeperProcess) => `${s.url}/v1/tenants/${TENANT}/timelines/${TIMELINE}`;
const h = { tenantId: TENANT, timelineId: TIMELINE, generation: 1 };

function consensusState(s: SafekeeperProcess): Promise<ConsensusState> {
  return fetchConsensusState(timelineUrl(s), admin);
}

/** A stream connection as a hostile compute opens it: the tenant token, raw frames. */
class RawStream {
  private readonly reader = new FrameReader();
  private readonly got: Message[] = [];
  private waiting: (() => void) | null = null;
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk, (m) => this.got.push(m));
      this.waiting?.();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
  }

  static open(s: SafekeeperProcess, token: string): Promise<RawStream> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${timelineUrl(s)}/consensus/stream`, { headers: { connection: 'Upgrade', upgrade: CONSENSUS_STREAM_PROTOCOL, ...bearer(token) } });
      req.on('upgrade', (_res: IncomingMessage, socket: Socket) => resolve(new RawStream(socket)));
      req.on('response', (res: IncomingMessage) => reject(new Error(`stream of ${s.id}: HTTP ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
  }

  /** Sends one frame and waits for its one reply (null if the safekeeper closed the connection instead). */
  async send(m: Message): Promise<Message | null> {
    const want = this.got.length + 1;
    this.socket.write(encodeMessage(m));
    const deadline = Date.now() + 10_000;
    while (this.got.length < want && !this.closed) {
      if (Date.now() > deadline) throw new Error(`no reply to ${m.type}`);
      await new Promise<void>((r) => {
        this.waiting = r;
        setTimeout(r, 200);
      });
    }
    return this.got[want - 1] ?? null;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The real proposer (the compute's): a tenant token, like the hostile connections. */
function newProposer(): ProposerDriver {
  return new ProposerDriver({
    tenantId: TENANT,
    timelineId: TIMELINE,
    proposerId: 42,
    safekeepers: sks.map((s) => ({ nodeId: s.id, baseUrl: s.url })),
    token: tenant,
    backoffMsMin: 20,
    backoffMsMax: 300,
  });
}

/** The real proposer appends `chunks` mtr batches and waits for their commit. */
async function write(chunks: number, seed: number): Promise<void> {
  for (let i = 0; i < chunks; i++) {
    const data = mtrs(8 * 1024, seed * 100 + i);
    proposer.append(endLsn, data);
    written.push(data);
    endLsn += BigInt(data.length);
  }
  await proposer.waitCommitted(endLsn, 30_000);
}

beforeAll(async () => {
  dir = await makeTempDir('strata-sk-hostile-');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await writeFile(join(dir, 'auth.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  admin = await signToken(keyPem, { scope: 'admin' }, '2h');
  tenant = await signToken(keyPem, { scope: 'tenant', tenantId: TENANT }, '2h');
  await writeFile(join(dir, 'safekeeper.jwt'), await signToken(keyPem, { scope: 'safekeeperdata' }, '2h'), { mode: 0o600 });
  const extra = ['--auth-public-key', join(dir, 'auth.pub'), '--token-file', join(dir, 'safekeeper.jwt')];
  for (const id of [1, 2, 3]) sks.push(await safekeeper(id, dir, extra));
  extra.push('--peers', sks.map((s) => `${s.id}=${s.url}`).join(','));
  for (const s of sks) await s.start();
  for (const s of sks) {
    const res = await fetch(`${s.url}/v1/tenants/${TENANT}/timelines`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(tenant) },
      body: JSON.stringify({ timelineId: TIMELINE, startLsn: String(START_LSN), conf: CONF }),
    });
    expect(res.status, await res.text()).toBe(201);
  }
  proposer = newProposer();
  await proposer.waitElected(20_000);
  await write(4, 1);
  // Every member holds all of it, so each attack below starts from the same place on each.
  expect(await proposer.waitAllFlushed([1, 2, 3], endLsn, 30_000)).toBe(true);
  for (const s of sks) await until(`safekeeper ${s.id} to know the commit`, async () => (await consensusState(s)).commitLsn === endLsn, 30_000);
}, 120_000);

afterAll(async () => {
  proposer?.stop();
  for (const s of sks) await s.stop().catch(() => undefined);
  await removeTempDir(dir);
});

describe('a hostile compute on the proposer stream (three real safekeepers, auth on)', () => {
  it('[HOSTILE] (a) 64 bytes of 0xAB at the flush LSN with the current term, also after replaying the election: refused by every safekeeper (notElected: the proposer\'s open connection holds the term), nothing stored', async () => {
    for (const s of sks) {
      const before = await consensusState(s);
      expect(before.flushLsn).toBe(endLsn);
      const garbage: Message = { type: 'AppendRequest', ...h, term: before.term, beginLsn: before.flushLsn, endLsn: before.flushLsn + 64n, commitLsn: before.flushLsn + 64n, data: new Uint8Array(64).fill(0xab) };
      const raw = await RawStream.open(s, tenant);
      try {
        expect(await raw.send(garbage), `safekeeper ${s.id}, a fresh connection`).toMatchObject({ type: 'Reject', reason: 'notElected' });
        // Replaying the current term's ProposerElected does not bind this connection while the proposer's is open...
        const replay: Message = { type: 'ProposerElected', ...h, term: before.term, startStreamingAt: before.termHistory[0]!.lsn, termHistory: before.termHistory };
        expect(await raw.send(replay), `safekeeper ${s.id}, replayed election`).toMatchObject({ type: 'Reject', reason: 'notElected' });
        // ...so its appends, valid redo or not, are still refused.
        expect(await raw.send(garbage), `safekeeper ${s.id}, after the replay`).toMatchObject({ type: 'Reject', reason: 'notElected' });
        const valid = mtrs(4096, 77);
        const forgedValid: Message = { type: 'AppendRequest', ...h, term: before.term, beginLsn: before.flushLsn, endLsn: before.flushLsn + BigInt(valid.length), commitLsn: before.flushLsn + BigInt(valid.length), data: valid };
        expect(await raw.send(forgedValid), `safekeeper ${s.id}, CRC-valid redo after the replay`).toMatchObject({ type: 'Reject', reason: 'notElected' });
      } finally {
        raw.close();
      }
      expect(await consensusState(s)).toEqual(before);
    }
  });

  it('[HOSTILE] (b) with the proposer gone, a replayed election binds a connection, and still: garbage is badRedo, a resend of valid mtrs that differ from the stored WAL is a conflict; nothing stored', async () => {
    // The proposer stops (its connections close): the term is free for its next connection, or for this one.
    proposer.stop();
    const last = written[written.length - 1]!;
    for (const s of sks) {
      const before = await consensusState(s);
      const replay: Message = { type: 'ProposerElected', ...h, term: before.term, startStreamingAt: before.termHistory[0]!.lsn, termHistory: before.termHistory };
      const raw = await RawStream.open(s, tenant);
      try {
        // Until the safekeeper has seen the old connection close.
        const deadline = Date.now() + 10_000;
        for (;;) {
          const r = await raw.send(replay);
          if (r?.type === 'AppendResponse') break;
          expect(r, `safekeeper ${s.id}, replayed election`).toMatchObject({ type: 'Reject', reason: 'notElected' });
          expect(Date.now() < deadline, `safekeeper ${s.id} still holds the stopped proposer's term`).toBe(true);
          await new Promise((r2) => setTimeout(r2, 100));
        }
        const garbage: Message = { type: 'AppendRequest', ...h, term: before.term, beginLsn: before.flushLsn, endLsn: before.flushLsn + 64n, commitLsn: before.flushLsn + 64n, data: new Uint8Array(64).fill(0xab) };
        expect(await raw.send(garbage), `safekeeper ${s.id}, bound connection`).toMatchObject({ type: 'Reject', reason: 'badRedo', lsn: before.flushLsn });
        // CRC-valid redo over the last append and beyond it: only the overlap differs from what is stored.
        const forged = mtrs(last.length + 1024, 999);
        const from = before.flushLsn - BigInt(last.length);
        const reply = await raw.send({ type: 'AppendRequest', ...h, term: before.term, beginLsn: from, endLsn: from + BigInt(forged.length), commitLsn: from + BigInt(forged.length), data: forged });
        expect(reply, `safekeeper ${s.id}`).toMatchObject({ type: 'Reject', reason: 'conflict', lsn: before.flushLsn });
      } finally {
        raw.close();
      }
      expect(await consensusState(s)).toEqual(before);
    }
    // The compute comes back: a new proposer is elected and writes on (next test).
    proposer = newProposer();
    await proposer.waitElected(20_000);
    // Each member follows it (the quorum that elected it may not hold all three), so the next tests start alike everywhere.
    for (const s of sks) {
      await until(`safekeeper ${s.id} to follow the new proposer`, async () => {
        const c = await consensusState(s);
        return c.termHistory[c.termHistory.length - 1]?.term === c.term;
      }, 30_000);
    }
  });

  it('[HOSTILE] (c) a forged Greeting configuration, a MembershipSwitch and TermBumps (huge terms) over the stream: refused, nothing changed', async () => {
    const forged = { generation: 7, members: [1] };
    for (const s of sks) {
      const before = await consensusState(s);
      const raw = await RawStream.open(s, tenant);
      try {
        expect(await raw.send({ type: 'Greeting', ...h, generation: 7, proposerId: 66, conf: forged })).toMatchObject({ type: 'GreetingResponse', generation: 1, conf: CONF });
        expect(await raw.send({ type: 'MembershipSwitchRequest', ...h, generation: 7, conf: forged })).toMatchObject({ type: 'Reject', reason: 'notAuthorized' });
        expect(await raw.send({ type: 'MembershipSwitchRequest', ...h, conf: { generation: 2, members: [] } })).toMatchObject({ type: 'Reject', reason: 'notAuthorized' });
        expect(await raw.send({ type: 'TermBumpRequest', ...h, term: before.term + 1000n })).toMatchObject({ type: 'Reject', reason: 'notAuthorized' });
        expect(await raw.send({ type: 'VoteRequest', ...h, term: (1n << 62n) - 1n })).toMatchObject({ type: 'Reject', reason: 'badTerm' });
        // Past 2^62 a term is not a term: the frame is corrupt and the connection is cut.
        expect(await raw.send({ type: 'TermBumpRequest', ...h, term: (1n << 64n) - 1n })).toBeNull();
        expect(raw.closed).toBe(true);
      } finally {
        raw.close();
      }
      expect(await consensusState(s)).toEqual(before);
    }
    // Every process is alive and answers.
    for (const s of sks) {
      expect(s.running, `safekeeper ${s.id}:\n${s.output().slice(-3000)}`).toBe(true);
      expect((await fetch(`${s.url}/v1/status`, { headers: bearer(admin) })).status).toBe(200);
    }
  });

  it('[HOSTILE] afterwards the real proposer writes on, and every safekeeper holds exactly its WAL, CRC-valid mtrs all through', async () => {
    expect(proposer.status).toBe('elected');
    await write(4, 2);
    for (const s of sks) {
      await until(`safekeeper ${s.id} to know the commit ${endLsn}`, async () => (await consensusState(s)).commitLsn >= endLsn, 30_000);
      const res = await fetch(`${timelineUrl(s)}/wal?from=${START_LSN}&to=${endLsn}`, { headers: bearer(tenant) });
      expect(res.status).toBe(200);
      const wal = new Uint8Array(await res.arrayBuffer());
      expect(Buffer.from(wal).equals(Buffer.concat(written)), `safekeeper ${s.id} holds what was written`).toBe(true);
      expect(wholeMtrsError(wal)).toBeUndefined();
    }
    for (const s of sks) {
      const metrics = await (await fetch(`${s.url}/metrics`, { headers: bearer(admin) })).text();
      expect(metrics, `safekeeper ${s.id} counted the refusals`).toMatch(/safekeeper_consensus_refused_total\{[^}]*reason="conflict"[^}]*\} 1/);
    }
  });

  it('[HOSTILE] (d) a member that missed a configuration switch learns it from its peers when a compute greets it, and the quorum is whole again', async () => {
    // The coordinator's switch reaches 1 and 2 only (3 lost the message); it is the membership route, with an operator token.
    const next = { generation: 2, members: [1, 2, 3] };
    for (const s of sks.slice(0, 2)) {
      const res = await fetch(`${timelineUrl(s)}/consensus`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', ...bearer(admin) },
        body: encodeFrames([{ type: 'MembershipSwitchRequest', ...h, generation: 2, conf: next }]),
      });
      expect(res.status, `safekeeper ${s.id}`).toBe(200);
      expect(decodeFrames(new Uint8Array(await res.arrayBuffer()))[0]).toMatchObject({ type: 'MembershipSwitchResponse', conf: next });
    }
    expect((await consensusState(sks[2]!)).conf).toEqual(CONF);
    // The compute's proposer is fenced by the new generation; the next one (same tenant token) works in generation 2.
    proposer.stop();
    proposer = new ProposerDriver({
      tenantId: TENANT,
      timelineId: TIMELINE,
      proposerId: 43,
      safekeepers: sks.map((s) => ({ nodeId: s.id, baseUrl: s.url })),
      token: tenant,
      heartbeatMs: 100,
      backoffMsMin: 20,
      backoffMsMax: 300,
    });
    await proposer.waitElected(20_000);
    expect(proposer.generation).toBe(2);
    await write(2, 3);
    await until('safekeeper 3 to learn generation 2 from its peers', async () => (await consensusState(sks[2]!)).conf !== null && JSON.stringify((await consensusState(sks[2]!)).conf) === JSON.stringify(next), 20_000);
    expect(await proposer.waitAllFlushed([1, 2, 3], endLsn, 20_000)).toBe(true);
    const res = await fetch(`${timelineUrl(sks[2]!)}/wal?from=${START_LSN}&to=${endLsn}`, { headers: bearer(tenant) });
    expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.concat(written))).toBe(true);
  });
});
