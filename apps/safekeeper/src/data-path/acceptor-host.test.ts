import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TENANT, TIMELINE, tempDir } from '../app.test-util.js';
import { SafekeeperMetrics } from '../metrics.js';
import type { Timeline } from '../storage/timeline.js';
import { TimelineRegistry } from '../storage/timelines.js';
import { AcceptorHost } from './acceptor-host.js';

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * seed + 7) & 0xff);
const history = [{ term: 1n, lsn: 1000n }];

describe('AcceptorHost.recoverFromPeer', () => {
  let cleanup: () => Promise<void>;
  let registry: TimelineRegistry;
  let timeline: Timeline;

  beforeEach(async () => {
    let dataDir: string;
    ({ dir: dataDir, cleanup } = await tempDir());
    registry = await TimelineRegistry.open({ dataDir, nodeId: 1, metrics: new SafekeeperMetrics(), segmentBytes: 1 << 16 });
    ({ timeline } = await registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 1000n, conf: { generation: 1, members: [1, 2, 3] } }));
    await timeline.updateConsensus({ term: 2n, termHistory: history });
    await timeline.appendWal(1000n, bytes(100));
  });
  afterEach(async () => {
    await registry.close();
    await cleanup();
  });

  it('appends the peer\'s WAL beyond the flush LSN and moves nothing but the flush LSN', async () => {
    const host = new AcceptorHost(1, timeline);
    const asked: [bigint, bigint][] = [];
    const n = await host.recoverFromPeer(history, 1600n, async (from, to) => {
      asked.push([from, to]);
      return bytes(Number(to - from), 3);
    });
    expect(n).toBe(500);
    expect(asked).toEqual([[1100n, 1600n]]);
    expect(host.acceptor.flushLsn).toBe(1600n);
    expect(timeline.flushLsn).toBe(1600n);
    expect(host.acceptor.term).toBe(2n);
    expect(host.acceptor.termHistory).toEqual(history);
    expect(host.acceptor.commitLsn).toBe(timeline.control.commitLsn);
    expect(await timeline.readWal(1100n, 1600n)).toEqual(bytes(500, 3));
    // Caught up: nothing more to take.
    expect(await host.recoverFromPeer(history, 1600n, () => Promise.reject(new Error('not called')))).toBe(0);
  });

  it('takes nothing from a peer whose history differs, and accepts a short answer', async () => {
    const host = new AcceptorHost(1, timeline);
    expect(await host.recoverFromPeer([{ term: 1n, lsn: 1000n }, { term: 2n, lsn: 1050n }], 1600n, () => Promise.reject(new Error('not called')))).toBe(0);
    expect(await host.recoverFromPeer(history, 1600n, async () => bytes(10))).toBe(10);
    expect(host.acceptor.flushLsn).toBe(1110n);
    expect(timeline.flushLsn).toBe(1110n);
  });
});
