/**
 * Issue 16 against real safekeeper processes with auth on and `--peers`, as
 * `./strata up` runs them: what a compute's tenant token (and an operator's
 * token carrying bad values) can do to a timeline over the HTTP routes.
 *
 *  - The HTTP consensus route takes the membership coordinator's messages
 *    from admin or safekeeperdata tokens only: a tenant token's empty member
 *    list and term 2^64 − 1 are 403 and change nothing; the same values with
 *    an admin token are a typed 400, and no process exits.
 *  - `pull` fetches only from registered peers: a foreign URL is refused and
 *    the foreign server gets no request (so no token either).
 *  - A timeline cannot be created at start LSN 2^64 − 1.
 *  - Afterwards the timeline still works: a membership change with the admin
 *    token pulls into a new member (peers and the safekeepers' own token),
 *    and a proposer with the tenant token writes WAL that reads back.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeMembership, ProposerDriver } from '@strata/client';
import { encodeFrames, type Message } from '@strata/core/consensus';
import { signToken } from '@strata/service-kit';
import { makeTempDir, removeTempDir } from '../support/mariadb.js';
import { safekeeper, type SafekeeperProcess } from '../support/safekeepers.js';
import { mtrs } from '../support/mtrs.js';
import { until } from '../support/until.js';

const TENANT = '0123456789abcdef0123456789abcdef';
const TIMELINE = 'dddddddddddddddddddddddddddddd16';
const START_LSN = 200_000n;
const U64_MAX = (1n << 64n) - 1n;

let dir: string;
const sks: SafekeeperProcess[] = [];
let admin: string;
let tenant: string;
/** Everything the proposers wrote, from START_LSN. */
const written: Uint8Array[] = [];
let endLsn = START_LSN;

const sk = (id: number): SafekeeperProcess => sks.find((s) => s.id === id)!;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const timelineUrl = (s: SafekeeperProcess) => `${s.url}/v1/tenants/${TENANT}/timelines/${TIMELINE}`;

function post(url: string, token: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(token) }, body: JSON.stringify(body) });
}

function consensus(s: SafekeeperProcess, token: string, body: Uint8Array): Promise<Response> {
  return fetch(`${timelineUrl(s)}/consensus`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...bearer(token) }, body });
}

/**
 * The attacks' frames, made by patching valid encodings, so they stay
 * constructible whatever the encoder comes to refuse: a TermBumpRequest whose
 * term (its last 8 bytes) is `term`, and a MembershipSwitchRequest whose
 * member list is empty.
 */
function termBumpFrame(term: bigint): Uint8Array {
  const f = encodeFrames([{ type: 'TermBumpRequest', tenantId: TENANT, timelineId: TIMELINE, generation: 1, term: 1n } satisfies Message]);
  new DataView(f.buffer, f.byteOffset, f.byteLength).setBigUint64(f.length - 8, term);
  return f;
}
function emptyMembershipFrame(): Uint8Array {
  // conf = u32 generation, u16 count, u32 id, u8 hasNew: drop the one id and set the count to 0.
  const f = encodeFrames([{ type: 'MembershipSwitchRequest', tenantId: TENANT, timelineId: TIMELINE, generation: 2, conf: { generation: 2, members: [1] } } satisfies Message]);
  const out = new Uint8Array(f.length - 4);
  out.set(f.subarray(0, f.length - 7));
  out.set([0, 0, 0], f.length - 7);
  new DataView(out.buffer).setUint32(0, out.length - 4);
  return out;
}

/** What must not move under a refused request. */
async function consensusState(s: SafekeeperProcess): Promise<Record<string, unknown>> {
  const res = await fetch(timelineUrl(s), { headers: bearer(admin) });
  expect(res.status, `${s.id} answers its timeline status`).toBe(200);
  const st = (await res.json()) as Record<string, unknown>;
  return { term: st['term'], termHistory: st['termHistory'], conf: st['conf'], flushLsn: st['flushLsn'], commitLsn: st['commitLsn'] };
}

/** Running, still answering, a moment after the last request (a bug exits the process right after its 500). */
async function expectAlive(ids: readonly number[]): Promise<void> {
  await new Promise((r) => setTimeout(r, 300));
  for (const id of ids) {
    expect(sk(id).running, `safekeeper ${id} is running:\n${sk(id).output().slice(-3000)}`).toBe(true);
    expect((await fetch(`${sk(id).url}/v1/status`, { headers: bearer(admin) })).status).toBe(200);
  }
}

/** A proposer with the compute's tenant token appends `chunks` mtr batches and waits for their commit. */
async function write(members: readonly number[], chunks: number, seed: number): Promise<void> {
  const d = new ProposerDriver({
    tenantId: TENANT,
    timelineId: TIMELINE,
    proposerId: 100 + seed,
    safekeepers: sks.filter((s) => members.includes(s.id)).map((s) => ({ nodeId: s.id, baseUrl: s.url })),
    token: tenant,
    backoffMsMin: 20,
    backoffMsMax: 300,
  });
  try {
    await d.waitElected(20_000);
    expect(d.endLsn).toBe(endLsn);
    for (let i = 0; i < chunks; i++) {
      const data = mtrs(8 * 1024, seed * 100 + i);
      d.append(endLsn, data);
      written.push(data);
      endLsn += BigInt(data.length);
    }
    await d.waitCommitted(endLsn, 30_000);
    // A quorum committed; the proposer runs on until every member holds the WAL and knows the commit, so
    // nothing (the proposer, peer recovery) moves a member's state under the checks that follow.
    for (const id of members) {
      await until(`safekeeper ${id} to hold and know the commit ${endLsn}`, async () => {
        const st = await consensusState(sk(id));
        return st['flushLsn'] === String(endLsn) && st['commitLsn'] === String(endLsn);
      }, 30_000);
    }
  } finally {
    d.stop();
  }
}

/** Committed WAL of one safekeeper from START_LSN, read with the tenant token, equals everything written. */
async function expectWal(id: number): Promise<void> {
  const res = await fetch(`${timelineUrl(sk(id))}/wal?from=${START_LSN}&to=${endLsn}`, { headers: bearer(tenant) });
  expect(res.status).toBe(200);
  expect(res.headers.get('x-strata-end-lsn')).toBe(String(endLsn));
  expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.concat(written)), `safekeeper ${id} holds what was written`).toBe(true);
}

beforeAll(async () => {
  dir = await makeTempDir('strata-sk-scopes-');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await writeFile(join(dir, 'auth.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  admin = await signToken(keyPem, { scope: 'admin' }, '2h');
  tenant = await signToken(keyPem, { scope: 'tenant', tenantId: TENANT }, '2h');
  // Each safekeeper shows its peers a safekeeperdata token, as in ./strata up.
  await writeFile(join(dir, 'safekeeper.jwt'), await signToken(keyPem, { scope: 'safekeeperdata' }, '2h'), { mode: 0o600 });
  // The ports are known once the processes are made; the args are read at each start.
  const extra = ['--auth-public-key', join(dir, 'auth.pub'), '--token-file', join(dir, 'safekeeper.jwt')];
  for (const id of [1, 2, 3, 4]) sks.push(await safekeeper(id, dir, extra));
  extra.push('--peers', sks.map((s) => `${s.id}=${s.url}`).join(','));
  for (const s of sks) await s.start();
  // The timeline lives on 1, 2, 3 (4 is a spare for the membership change), created as a compute does, with its token.
  for (const id of [1, 2, 3]) {
    const res = await post(`${sk(id).url}/v1/tenants/${TENANT}/timelines`, tenant, { timelineId: TIMELINE, startLsn: String(START_LSN), conf: { generation: 1, members: [1, 2, 3] } });
    expect(res.status, await res.text()).toBe(201);
  }
  await write([1, 2, 3], 4, 1);
}, 120_000);

afterAll(async () => {
  for (const s of sks) await s.stop().catch(() => undefined);
  await removeTempDir(dir);
});

describe('what a token may do on the safekeepers (auth on, --peers)', () => {
  it('[SCOPES] a tenant token\'s empty member list and term 2^64 − 1 over HTTP consensus: 403 FORBIDDEN, nothing changed, every process alive', async () => {
    for (const id of [1, 2, 3]) {
      const before = await consensusState(sk(id));
      for (const body of [emptyMembershipFrame(), termBumpFrame(U64_MAX), termBumpFrame(before['term'] === undefined ? 1n : BigInt(String(before['term'])) + 1n)]) {
        const res = await consensus(sk(id), tenant, body);
        expect(res.status, `safekeeper ${id}`).toBe(403);
        expect(await res.json()).toMatchObject({ code: 'FORBIDDEN' });
      }
      expect(await consensusState(sk(id))).toEqual(before);
    }
    // The coordinator itself, given the compute's token, fails at once and changes nothing.
    const states = await Promise.all([1, 2, 3].map((id) => consensusState(sk(id))));
    const t0 = performance.now();
    await expect(
      changeMembership({ tenantId: TENANT, timelineId: TIMELINE, safekeepers: sks.map((s) => ({ nodeId: s.id, baseUrl: s.url })), members: [1, 2, 4], token: tenant, timeoutMs: 20_000 }),
    ).rejects.toMatchObject({ code: 'MEMBERSHIP_CHANGE_FAILED', reason: 'unauthorized' });
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(await Promise.all([1, 2, 3].map((id) => consensusState(sk(id))))).toEqual(states);
    expect((await fetch(timelineUrl(sk(4)), { headers: bearer(admin) })).status).toBe(404);
    await expectAlive([1, 2, 3, 4]);
  });

  it('[SCOPES] the same values with an admin token: a typed 400, nothing changed, every process alive', async () => {
    for (const id of [1, 2, 3]) {
      const before = await consensusState(sk(id));
      for (const body of [emptyMembershipFrame(), termBumpFrame(U64_MAX), termBumpFrame(1n << 62n)]) {
        const res = await consensus(sk(id), admin, body);
        expect(res.status, `safekeeper ${id}`).toBe(400);
        const reply = (await res.json()) as { code: string; message: string };
        // This route's checks (BAD_REQUEST) or, for out-of-range numbers, core's codec (CORRUPT_FRAME): typed either way.
        expect(reply.code).toMatch(/^(BAD_REQUEST|CORRUPT_FRAME)$/);
        expect(reply.message).toMatch(/member|2\^62/);
      }
      expect(await consensusState(sk(id))).toEqual(before);
    }
    await expectAlive([1, 2, 3, 4]);
  });

  it('[PULL] a pull from a foreign URL is refused, naming the allowed sources, and the foreign server receives no request', async () => {
    const seen: Array<{ url: string | undefined; headers: IncomingHttpHeaders }> = [];
    const foreign = createServer((req, res) => {
      seen.push({ url: req.url, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((r) => foreign.listen(0, '127.0.0.1', r));
    const foreignUrl = `http://127.0.0.1:${(foreign.address() as AddressInfo).port}`;
    try {
      const res = await post(`${timelineUrl(sk(4))}/pull`, admin, { from: foreignUrl });
      expect(res.status).toBe(400);
      const reply = (await res.json()) as { code: string; message: string };
      expect(reply.code).toBe('PULL_SOURCE_NOT_ALLOWED');
      for (const s of sks.filter((x) => x.id !== 4)) expect(reply.message).toContain(`${s.id}=${s.url}`);
      // A tenant token may not pull at all, from anywhere.
      expect((await post(`${timelineUrl(sk(4))}/pull`, tenant, { from: foreignUrl })).status).toBe(403);
      expect((await post(`${timelineUrl(sk(4))}/pull`, tenant, { from: sk(1).url })).status).toBe(403);
      await new Promise((r) => setTimeout(r, 300));
      expect(seen).toEqual([]);
      expect((await fetch(timelineUrl(sk(4)), { headers: bearer(admin) })).status).toBe(404);
    } finally {
      await new Promise<void>((r) => foreign.close(() => r()));
    }
    await expectAlive([4]);
  });

  it('[CREATE] a timeline at start LSN 2^64 − 1 (or with an empty or unknown member list) is 400 and nothing is created', async () => {
    const other = 'dddddddddddddddddddddddddddddd17';
    const base = `${sk(1).url}/v1/tenants/${TENANT}/timelines`;
    for (const [token, body, code] of [
      [tenant, { timelineId: other, startLsn: String(U64_MAX), conf: { generation: 1, members: [1, 2, 3] } }, 'BAD_REQUEST'],
      [admin, { timelineId: other, startLsn: String(U64_MAX), conf: { generation: 1, members: [1, 2, 3] } }, 'BAD_REQUEST'],
      [admin, { timelineId: other, startLsn: String(1n << 62n), conf: { generation: 1, members: [1, 2, 3] } }, 'BAD_REQUEST'],
      [tenant, { timelineId: other, startLsn: '1000', conf: { generation: 1, members: [] } }, 'BAD_REQUEST'],
      [tenant, { timelineId: other, startLsn: '1000', conf: { generation: 1, members: [1, 2, 9] } }, 'UNKNOWN_MEMBER'],
    ] as const) {
      const res = await post(base, token, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json()).toMatchObject({ code });
    }
    expect((await fetch(`${base}/${other}`, { headers: bearer(admin) })).status).toBe(404);
    await expectAlive([1]);
  });

  it('[AFTER] the timeline keeps working: an admin membership change pulls into 4 from a peer, and a tenant proposer writes what reads back', async () => {
    const r = await changeMembership({
      tenantId: TENANT,
      timelineId: TIMELINE,
      safekeepers: sks.map((s) => ({ nodeId: s.id, baseUrl: s.url })),
      members: [1, 2, 4],
      token: admin,
      timeoutMs: 60_000,
    });
    expect(r).toMatchObject({ changed: true, members: [1, 2, 4] });
    await write([1, 2, 4], 4, 2);
    for (const id of [1, 2, 4]) await expectWal(id);
    await expectAlive([1, 2, 3, 4]);
  });
});
