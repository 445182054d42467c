/**
 * Peer recovery and the peer WAL stream between two real safekeeper apps on
 * loopback: the lagging one copies from the other over one stream.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listen, memoryLogger, type Listening } from '@strata/service-kit';
import { TENANT, TIMELINE, createBody, json, testApp, type TestApp } from './app.test-util.js';
import { AcceptorHosts } from './data-path/hosts.js';
import { PeerRecovery } from './peer-recovery.js';
import { PeerWalStream } from './peer-wal-stream.js';
import type { Timeline } from './storage/timeline.js';

const base = `/v1/tenants/${TENANT}/timelines`;
const data = Uint8Array.from({ length: 5000 }, (_, i) => (i * 11 + 3) & 0xff);
const history = [{ term: 1n, lsn: 1000n }];

describe('peer recovery over the peer WAL stream', () => {
  let source: TestApp;
  let lagging: TestApp;
  let server: Listening;
  let src: Timeline;
  let dst: Timeline;

  beforeEach(async () => {
    // Frames of at most 700 bytes: a copy crosses many of them. WAL read from its files (no tail cache),
    // so each frame waits on the disk: a log change lands while the stream is still sending.
    source = await testApp({ nodeId: 1, limits: { walReadBytes: 700 }, walTailCacheBytes: 0 });
    lagging = await testApp({ nodeId: 2 });
    for (const t of [source, lagging]) await t.app.request(base, json(createBody({ startLsn: '1000' })));
    src = source.deps.timelines.get(TENANT, TIMELINE);
    dst = lagging.deps.timelines.get(TENANT, TIMELINE);
    for (const t of [src, dst]) await t.updateConsensus({ term: 1n, termHistory: history });
    await src.appendWal(1000n, data);
    await src.updateConsensus({ commitLsn: 5000n });
    await dst.appendWal(1000n, data.subarray(0, 1200));
    server = await listen(source.app.fetch, { host: '127.0.0.1', port: 0 });
  });
  afterEach(async () => {
    await server.close();
    await source.close();
    await lagging.close();
  });

  const peer = () => ({ base: server.url, tenantId: TENANT, timelineId: TIMELINE, authorization: undefined });

  it('copies everything the peer flushed beyond its own flush LSN, uncommitted included, in one stream', async () => {
    const recovery = new PeerRecovery({
      nodeId: 2,
      peers: new Map([[1, server.url]]),
      timelines: lagging.deps.timelines,
      hosts: new AcceptorHosts(2),
      metrics: lagging.deps.metrics,
      log: memoryLogger(),
    });
    const before = source.deps.metrics.httpRequests.get({ method: 'GET', route: '/v1/tenants/:tenant/timelines/:timeline/snapshot/wal/stream', status: '200' });
    await recovery.runOnce();
    expect(dst.flushLsn).toBe(6000n);
    expect(await dst.readWal(1000n, 6000n)).toEqual(data);
    expect(source.deps.metrics.httpRequests.get({ method: 'GET', route: '/v1/tenants/:tenant/timelines/:timeline/snapshot/wal/stream', status: '200' })).toBe(before + 1n);
    expect(lagging.deps.metrics.peerRecoveryBytes.get({ tenant_id: TENANT, timeline_id: TIMELINE })).toBe(3800n);
  });

  it('the stream reader gives exactly the bytes asked for, keeping the tail of a frame that crosses the bound', async () => {
    const s = await PeerWalStream.open(peer(), 1000n, 6000n);
    try {
      expect(s.endLsn).toBe(6000n);
      expect(s.hello.termHistory).toEqual(history);
      expect(await s.read(1150n)).toEqual(data.subarray(0, 150));
      expect(s.position).toBe(1150n);
      expect(await s.read(1160n)).toEqual(data.subarray(150, 160));
      expect(await s.read(3333n)).toEqual(data.subarray(160, 2333));
      expect(await s.read(9999n)).toEqual(data.subarray(2333));
      expect(s.position).toBe(6000n);
    } finally {
      s.close();
    }
  });

  it('a peer that refuses (WAL it no longer holds) or a log that changes under the stream is PeerFailed, with the peer\'s code', async () => {
    await expect(PeerWalStream.open(peer(), 7000n, 8000n)).rejects.toMatchObject({ code: 'PEER_FAILED', message: expect.stringMatching(/LSN_OUT_OF_RANGE/) });
    const s = await PeerWalStream.open(peer(), 1000n, 6000n);
    try {
      await s.read(1100n);
      await src.updateConsensus({ term: 2n, termHistory: [...history, { term: 2n, lsn: 1500n }] });
      await expect(s.read(6000n)).rejects.toMatchObject({ code: 'PEER_FAILED', message: expect.stringMatching(/PULL_CONFLICT/) });
    } finally {
      s.close();
    }
  });
});
