import { readdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TENANT, TIMELINE, createBody, ed25519Keys, json, testApp, type TestApp } from '../app.test-util.js';

const base = `/v1/tenants/${TENANT}/timelines`;
const START = 1000n;

/** Source WAL: 5000 bytes, a different value at every offset so misplaced bytes show. */
const WAL = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff);

describe('pulling a timeline from a peer', () => {
  let source: TestApp;
  let dest: TestApp;
  let server: ServerType;
  let sourceUrl: string;
  /** The Authorization header of every request the source got. */
  let sourceSaw: Array<string | null>;

  beforeEach(async () => {
    source = await testApp();
    dest = await testApp();
    expect((await source.app.request(base, json(createBody()))).status).toBe(201);
    const t = source.deps.timelines.get(TENANT, TIMELINE);
    await t.appendWal(START, WAL);
    // An acceptor in a joint configuration that adopted term 3's history and
    // knows a commit below its flush LSN: the pull must copy the uncommitted tail too.
    await t.updateConsensus({
      term: 4n,
      termHistory: [
        { term: 2n, lsn: START },
        { term: 3n, lsn: START + 3000n },
      ],
      conf: { generation: 2, members: [1, 2, 3], newMembers: [1, 2, 4] },
      commitLsn: START + 4000n,
    });
    sourceSaw = [];
    const fetchRecorded = (req: Request) => {
      sourceSaw.push(req.headers.get('authorization'));
      return source.app.fetch(req);
    };
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: fetchRecorded, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
    });
    sourceUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await source.close();
    await dest.close();
  });

  /** A server that is no safekeeper and records what reaches it. */
  async function foreignServer(): Promise<{ url: string; requests: Array<{ url: string | undefined; authorization: string | undefined }>; close: () => Promise<void> }> {
    const requests: Array<{ url: string | undefined; authorization: string | undefined }> = [];
    const srv: Server = createServer((req, res) => {
      requests.push({ url: req.url, authorization: req.headers.authorization });
      res.end('{}');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, requests, close: () => new Promise<void>((r) => srv.close(() => r())) };
  }

  it('with --peers, only a registered peer is a source: anything else is PULL_SOURCE_NOT_ALLOWED and gets no request', async () => {
    const foreign = await foreignServer();
    try {
      await dest.close();
      dest = await testApp({ nodeId: 4, peers: new Map([[1, sourceUrl]]), peerAuthorization: 'Bearer the-peer-token' });
      for (const from of [foreign.url, `http://localhost:${new URL(sourceUrl).port}`, `${sourceUrl}/elsewhere`]) {
        const res = await dest.app.request(`${base}/${TIMELINE}/pull`, json({ from }, { authorization: 'Bearer the-callers-token' }));
        expect(res.status, from).toBe(400);
        const body = (await res.json()) as { code: string; message: string };
        expect(body.code).toBe('PULL_SOURCE_NOT_ALLOWED');
        expect(body.message).toContain(`1=${sourceUrl}`);
      }
      expect(foreign.requests).toEqual([]);
      expect(sourceSaw).toEqual([]);
      expect(dest.deps.timelines.size).toBe(0);
      // The registered peer, however spelled, is pulled from, with this safekeeper's own token rather than the caller's.
      const res = await dest.app.request(`${base}/${TIMELINE}/pull`, json({ from: `${sourceUrl}/` }, { authorization: 'Bearer the-callers-token' }));
      expect(res.status).toBe(201);
      expect(sourceSaw.length).toBeGreaterThan(0);
      expect(new Set(sourceSaw)).toEqual(new Set(['Bearer the-peer-token']));
    } finally {
      await foreign.close();
    }
  });

  it('with --peers and no token of its own, the caller\'s token goes to the registered peer only', async () => {
    const keys = await ed25519Keys();
    const admin = `Bearer ${await keys.token({ scope: 'admin' })}`;
    await dest.close();
    dest = await testApp({ nodeId: 4, verifier: keys.verifier, peers: new Map([[1, sourceUrl]]) });
    expect((await dest.app.request(`${base}/${TIMELINE}/pull`, json({ from: sourceUrl }, { authorization: admin }))).status).toBe(201);
    expect(new Set(sourceSaw)).toEqual(new Set([admin]));
  });

  it('without --peers: refused when auth is on; loopback only, and no caller token forwarded, when it is off', async () => {
    const keys = await ed25519Keys();
    const admin = `Bearer ${await keys.token({ scope: 'admin' })}`;
    const withAuth = await testApp({ nodeId: 5, verifier: keys.verifier });
    try {
      const refused = await withAuth.app.request(`${base}/${TIMELINE}/pull`, json({ from: sourceUrl }, { authorization: admin }));
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({ code: 'PULL_SOURCE_NOT_ALLOWED', message: expect.stringMatching(/no --peers/) });
      expect(sourceSaw).toEqual([]);
    } finally {
      await withAuth.close();
    }
    for (const from of ['http://10.11.12.13:7676', 'http://example.com', 'http://[fe80::1]:7676']) {
      const res = await dest.app.request(`${base}/${TIMELINE}/pull`, json({ from }));
      expect(res.status, from).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'PULL_SOURCE_NOT_ALLOWED', message: expect.stringMatching(/loopback/) });
    }
    const res = await dest.app.request(`${base}/${TIMELINE}/pull`, json({ from: sourceUrl }, { authorization: 'Bearer the-callers-token' }));
    expect(res.status).toBe(201);
    expect(new Set(sourceSaw)).toEqual(new Set([null]));
  });

  it('copies the consensus state and the WAL up to the flush LSN, atomically and durably', async () => {
    const res = await dest.app.request(`${base}/${TIMELINE}/pull`, json({ from: sourceUrl }));
    expect(res.status).toBe(201);
    const body = (await res.json()) as { pulled: boolean; status: Record<string, unknown> };
    expect(body.pulled).toBe(true);
    expect(body.status).toMatchObject({
      term: '4',
      termHistory: [
        { term: '2', lsn: '1000' },
        { term: '3', lsn: '4000' },
      ],
      conf: { generation: 2, members: [1, 2, 3], newMembers: [1, 2, 4] },
      timelineStartLsn: '1000',
      flushLsn: '6000',
      commitLsn: '5000',
    });
    // Survives a restart, bytes included.
    dest = await dest.restart();
    const wal = await dest.app.request(`${base}/${TIMELINE}/snapshot/wal?from=1000`);
    expect(wal.headers.get('x-strata-end-lsn')).toBe('6000');
    expect(Buffer.from(await wal.arrayBuffer()).equals(Buffer.from(WAL))).toBe(true);
    // The ordinary read path still stops at the commit LSN.
    const committed = await dest.app.request(`${base}/${TIMELINE}/wal?from=1000`);
    expect(committed.headers.get('x-strata-end-lsn')).toBe('5000');
  });

  it('is idempotent: pulling a timeline that is already here changes nothing', async () => {
    expect((await dest.app.request(`${base}/${TIMELINE}/pull`, json({ from: sourceUrl }))).status).toBe(201);
    await source.deps.timelines.get(TENANT, TIMELINE).appendWal(START + 5000n, new Uint8Array(10));
    const again = await dest.app.request(`${base}/${TIMELINE}/pull`, json({ from: sourceUrl }));
    expect(again.status).toBe(200);
    const body = (await again.json()) as { pulled: boolean; status: { flushLsn: string } };
    expect(body.pulled).toBe(false);
    expect(body.status.flushLsn).toBe('6000');
  });

  it('fails with PEER_FAILED and leaves nothing behind when the source is down or lacks the timeline', async () => {
    const down = await dest.app.request(`${base}/${TIMELINE}/pull`, json({ from: 'http://127.0.0.1:1' }));
    expect(down.status).toBe(502);
    expect(((await down.json()) as { code: string }).code).toBe('PEER_FAILED');
    const other = '00000000000000000000000000000002';
    const missing = await dest.app.request(`${base}/${other}/pull`, json({ from: sourceUrl }));
    expect(missing.status).toBe(502);
    expect(((await missing.json()) as { message: string }).message).toMatch(/HTTP 404/);
    expect((await dest.app.request(`${base}/${TIMELINE}`)).status).toBe(404);
    expect(await readdir(join(dest.dataDir, 'tenants', TENANT, 'timelines')).catch(() => [])).toEqual([]);
  });

  it('refuses bad input with BAD_REQUEST', async () => {
    for (const body of [{}, { from: 'not a url' }, { from: 'ftp://x' }, { from: sourceUrl, extra: 1 }, { from: `${sourceUrl}/?x=1` }, { from: `http://u:p@127.0.0.1:${new URL(sourceUrl).port}` }]) {
      const res = await dest.app.request(`${base}/${TIMELINE}/pull`, json(body));
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
  });

  it('snapshot/wal serves up to the flush LSN and refuses ranges outside the stored WAL', async () => {
    const ok = await source.app.request(`${base}/${TIMELINE}/snapshot/wal?from=5500&to=9999`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-strata-end-lsn')).toBe('6000');
    expect((await ok.arrayBuffer()).byteLength).toBe(500);
    expect((await source.app.request(`${base}/${TIMELINE}/snapshot/wal?from=999`)).status).toBe(400);
    expect((await source.app.request(`${base}/${TIMELINE}/snapshot/wal?from=6001`)).status).toBe(400);
  });
});
