import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProposerDriver, walReplyBytes } from '@strata/client';
import { decodeFrames, encodeFrames, type MembershipSwitchRequest, type TermBumpRequest } from '@strata/core/consensus';
import { redo } from '@strata/core';
import { zstdCompress, zstdDecompress } from '@strata/zstd';
import { TENANT, TIMELINE, createBody, json, testApp, type TestApp } from '../app.test-util.js';
import { AcceptorHosts } from '../data-path/hosts.js';
import { attachConsensusStream, type ConsensusStreams } from '../data-path/stream-server.js';

const base = `/v1/tenants/${TENANT}/timelines`;
const consensusUrl = `${base}/${TIMELINE}/consensus`;
const data = Uint8Array.from({ length: 3000 }, (_, i) => (i % 50 < 40 ? 7 : (i * 13) & 0xff));
// The route takes the membership coordinator's messages only (proposers stream).
const bump: TermBumpRequest = { type: 'TermBumpRequest', tenantId: TENANT, timelineId: TIMELINE, generation: 1, term: 2n };
const sameConf: MembershipSwitchRequest = { type: 'MembershipSwitchRequest', tenantId: TENANT, timelineId: TIMELINE, generation: 1, conf: { generation: 1, members: [1, 2, 3] } };

describe('zstd on the wire', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await testApp({ segmentBytes: 1024 });
    await t.app.request(base, json(createBody({ startLsn: '1000' })));
    const tl = t.deps.timelines.get(TENANT, TIMELINE);
    await tl.appendWal(1000n, data);
    await tl.updateConsensus({ commitLsn: 4000n });
  });
  afterEach(() => t.close());

  it('GET .../wal answers zstd only to a reader that accepts it', async () => {
    const plain = await t.app.request(`${base}/${TIMELINE}/wal?from=1000`);
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(new Uint8Array(await plain.arrayBuffer())).toEqual(data);

    const z = await t.app.request(`${base}/${TIMELINE}/wal?from=1000`, { headers: { 'accept-encoding': 'gzip, zstd' } });
    expect(z.headers.get('content-encoding')).toBe('zstd');
    expect(z.headers.get('vary')).toBe('accept-encoding');
    expect(z.headers.get('x-strata-end-lsn')).toBe('4000');
    const raw = new Uint8Array(await z.clone().arrayBuffer());
    expect(raw.length).toBeLessThan(data.length / 2);
    expect(zstdDecompress(raw, data.length)).toEqual(data);
    expect(await walReplyBytes(z, data.length)).toEqual(data);

    const refused = await t.app.request(`${base}/${TIMELINE}/wal?from=1000`, { headers: { 'accept-encoding': 'zstd;q=0' } });
    expect(refused.headers.get('content-encoding')).toBeNull();
  });

  it('the consensus route takes zstd bodies and compresses replies when asked', async () => {
    const res = await t.app.request(consensusUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'content-encoding': 'zstd', 'accept-encoding': 'zstd' },
      body: zstdCompress(encodeFrames([bump])),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-encoding')).toBe('zstd');
    const [reply] = decodeFrames(zstdDecompress(new Uint8Array(await res.arrayBuffer()), 1 << 20));
    expect(reply).toMatchObject({ type: 'TermBumpResponse', nodeId: 1, term: 2n });

    const plain = await t.app.request(consensusUrl, { method: 'POST', body: encodeFrames([sameConf]) });
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(decodeFrames(new Uint8Array(await plain.arrayBuffer()))[0]).toMatchObject({ type: 'MembershipSwitchResponse', conf: { generation: 1 } });
  });

  it('bad zstd is a typed 400 and changes nothing stored', async () => {
    const before = await (await t.app.request(`${base}/${TIMELINE}`)).json();
    const frames = zstdCompress(encodeFrames([sameConf, { ...bump, term: 5n }]));
    for (const body of [new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), frames.subarray(0, frames.length - 3), new Uint8Array(0)]) {
      const res = await t.app.request(consensusUrl, { method: 'POST', headers: { 'content-encoding': 'zstd' }, body });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'BAD_ZSTD' });
    }
    const gzip = await t.app.request(consensusUrl, { method: 'POST', headers: { 'content-encoding': 'gzip' }, body: frames });
    expect(gzip.status).toBe(400);
    expect(await gzip.json()).toMatchObject({ code: 'BAD_REQUEST' });
    expect(await (await t.app.request(`${base}/${TIMELINE}`)).json()).toEqual(before);
  });
});

/** Whole, CRC-valid 11-byte mtrs (one small page write each) that repeat every 64: zstd shrinks them well. */
function compressibleMtrs(bytes: number): Uint8Array {
  const one = 11;
  const n = Math.floor(bytes / one);
  const out = new Uint8Array(n * one);
  for (let i = 0; i < n; i++) {
    const at = i * one;
    const k = i % 64;
    out.set([0x35, 1, 1 + (k % 5), 100 + (k % 20), k, 0, 1], at);
    new DataView(out.buffer).setUint32(at + 7, redo.crc32c(out, at, at + 6));
  }
  return out;
}

describe('a proposer with compression: zstd', () => {
  const apps: TestApp[] = [];
  const servers: ServerType[] = [];
  const streams: ConsensusStreams[] = [];
  afterEach(async () => {
    for (const s of streams.splice(0)) await s.close();
    for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
    for (const a of apps.splice(0)) await a.close();
  });

  it('appends through three safekeepers and commits the same bytes', async () => {
    const endpoints = [];
    for (const nodeId of [1, 2, 3]) {
      const a = await testApp({ nodeId, segmentBytes: 1 << 16 });
      apps.push(a);
      const s = await new Promise<ServerType>((resolve) => {
        const srv = serve({ fetch: a.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(srv));
      });
      servers.push(s);
      // The proposer's WAL travels on the consensus stream (an upgrade on the same listener).
      streams.push(attachConsensusStream(s, { timelines: a.deps.timelines, hosts: new AcceptorHosts(nodeId), verifier: null, log: a.deps.log }));
      endpoints.push({ nodeId, baseUrl: `http://127.0.0.1:${(s.address() as AddressInfo).port}` });
      expect((await a.app.request(base, json(createBody({ startLsn: '1000' })))).status).toBe(201);
    }
    const p = new ProposerDriver({ tenantId: TENANT, timelineId: TIMELINE, proposerId: 7, safekeepers: endpoints, compression: 'zstd' });
    try {
      await p.waitElected(10_000);
      // Safekeepers store whole, CRC-valid mtrs only: two runs of them, cut at an mtr end.
      const wal = compressibleMtrs(200_000);
      const cut = 11 * 10_000;
      const end = 1000n + BigInt(wal.length);
      p.append(1000n, wal.subarray(0, cut));
      p.append(1000n + BigInt(cut), wal.subarray(cut));
      await p.waitCommitted(end, 10_000);
      const sent = p.peerStats().reduce((n, s) => n + s.bytesSent, 0);
      expect(sent).toBeLessThan(3 * wal.length);
      for (const a of apps) {
        const tl = a.deps.timelines.get(TENANT, TIMELINE);
        // A commit needs two of the three: the third gets the same appends, maybe a little later.
        for (let i = 0; i < 100 && tl.flushLsn < end; i++) await new Promise((r) => setTimeout(r, 50));
        expect(tl.flushLsn).toBe(end);
        expect(Buffer.from(await tl.readWal(1000n, end)).equals(Buffer.from(wal))).toBe(true);
      }
    } finally {
      p.stop();
    }
  });
});
