import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redo } from '@strata/core';
import { TENANT, TIMELINE, tempDir } from '../app.test-util.js';
import { SafekeeperMetrics } from '../metrics.js';
import type { Timeline } from '../storage/timeline.js';
import { TimelineRegistry } from '../storage/timelines.js';
import { redoStream } from '../storage/redo.test-util.js';
import { AcceptorHost, type Refusal, StreamSession } from './acceptor-host.js';

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

describe('AcceptorHost group commit', () => {
  let cleanup: () => Promise<void>;
  let registry: TimelineRegistry;
  let timeline: Timeline;

  beforeEach(async () => {
    let dataDir: string;
    ({ dir: dataDir, cleanup } = await tempDir());
    registry = await TimelineRegistry.open({ dataDir, nodeId: 1, metrics: new SafekeeperMetrics(), segmentBytes: 1 << 16 });
    ({ timeline } = await registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 1000n, conf: { generation: 1, members: [1, 2, 3] } }));
    await timeline.updateConsensus({ term: 2n, termHistory: [{ term: 2n, lsn: 1000n }] });
  });
  afterEach(async () => {
    await registry.close();
    await cleanup();
  });

  it('N appends in flight at once take far fewer than N fdatasyncs, and none is answered before it is durable', async () => {
    const host = new AcceptorHost(1, timeline);
    const { bytes, boundaries: b } = redoStream(100, 9);
    const n = b.length - 1;
    const flushes0 = timeline.walFlushes;
    const answers = b.slice(1).map((to, i) => {
      const beginLsn = 1000n + BigInt(b[i]!);
      const endLsn = 1000n + BigInt(to);
      return host
        .handle([{ type: 'AppendRequest', tenantId: TENANT, timelineId: TIMELINE, generation: 1, term: 2n, beginLsn, endLsn, commitLsn: beginLsn, data: bytes.subarray(b[i], to) }])
        .then((replies) => {
          // Answered only once durable.
          expect(timeline.flushLsn).toBeGreaterThanOrEqual(endLsn);
          return replies;
        });
    });
    const replies = await Promise.all(answers);
    const flushes = timeline.walFlushes - flushes0;
    expect(replies.map((r) => r[0]!.type)).toEqual(Array(n).fill('AppendResponse'));
    expect(replies[n - 1]![0]).toMatchObject({ flushLsn: 1000n + BigInt(bytes.length) });
    expect(flushes).toBeGreaterThan(0);
    expect(flushes).toBeLessThanOrEqual(5);
    expect(host.acceptor.flushLsn).toBe(timeline.flushLsn);
    expect(timeline.commitLsn).toBe(1000n + BigInt(b[n - 1]!));
    expect(await timeline.readWal(1000n, timeline.flushLsn)).toEqual(bytes);
  });

  it('an empty append right behind a batch still being written waits for that write (no sync beyond the written WAL)', async () => {
    const host = new AcceptorHost(1, timeline);
    const { bytes } = redoStream(100, 9);
    const req = (beginLsn: bigint, data: Uint8Array) => ({ type: 'AppendRequest' as const, tenantId: TENANT, timelineId: TIMELINE, generation: 1, term: 2n, beginLsn, endLsn: beginLsn + BigInt(data.length), commitLsn: beginLsn, data });
    // A big write, then at once an empty append (a heartbeat, or a commit announced) with no WAL of its own.
    const big = host.handle([req(1000n, bytes)]);
    const empty = host.handle([req(1000n + BigInt(bytes.length), new Uint8Array())]);
    const [a, b] = await Promise.all([big, empty]);
    expect(a[0]).toMatchObject({ type: 'AppendResponse', flushLsn: 1000n + BigInt(bytes.length) });
    expect(b[0]).toMatchObject({ type: 'AppendResponse', flushLsn: 1000n + BigInt(bytes.length) });
    expect(timeline.flushLsn).toBe(1000n + BigInt(bytes.length));
  });

  it('a membership switch right behind a batch still being written waits for that write before its control write (no sync beyond the written WAL)', async () => {
    const host = new AcceptorHost(1, timeline);
    const { bytes } = redoStream(100, 9);
    const append = { type: 'AppendRequest' as const, tenantId: TENANT, timelineId: TIMELINE, generation: 1, term: 2n, beginLsn: 1000n, endLsn: 1000n + BigInt(bytes.length), commitLsn: 1000n, data: bytes };
    const joint = { generation: 2, members: [1, 2, 3], newMembers: [1, 2] };
    const big = host.handle([append]);
    // Its persistControl effect makes everything stepped so far durable, the earlier batch's WAL included.
    const sw = host.handle([{ type: 'MembershipSwitchRequest', tenantId: TENANT, timelineId: TIMELINE, generation: 2, conf: joint }]);
    const [, b] = await Promise.all([big, sw]);
    expect(b[0]).toMatchObject({ type: 'MembershipSwitchResponse', flushLsn: 1000n + BigInt(bytes.length), conf: joint });
    expect(timeline.control.conf).toEqual(joint);
    expect(timeline.flushLsn).toBe(1000n + BigInt(bytes.length));
  });

  it('refuses a membership switch that names a node unknown here (badConfiguration), changing nothing; known nodes pass', async () => {
    const host = new AcceptorHost(1, timeline, new Set([1, 2, 3, 4]));
    const refusals: Refusal[] = [];
    const before = timeline.control.conf;
    const sw = (conf: { generation: number; members: number[]; newMembers?: number[] }) =>
      host.handle([{ type: 'MembershipSwitchRequest', tenantId: TENANT, timelineId: TIMELINE, generation: conf.generation, conf }], { onRefused: (r) => refusals.push(r) });
    const [r] = await sw({ generation: 2, members: [1, 2, 3], newMembers: [1, 2, 9] });
    expect(r).toMatchObject({ type: 'Reject', reason: 'badConfiguration' });
    expect(refusals[0]!.detail).toMatch(/node 9, unknown here \(known: 1, 2, 3, 4\)/);
    expect(timeline.control.conf).toEqual(before);
    const [ok] = await sw({ generation: 2, members: [1, 2, 3], newMembers: [2, 3, 4] });
    expect(ok).toMatchObject({ type: 'MembershipSwitchResponse' });
    expect(timeline.control.conf).toEqual({ generation: 2, members: [1, 2, 3], newMembers: [2, 3, 4] });
  });
});

describe('AcceptorHost: only valid redo from the elected connection is stored', () => {
  let cleanup: () => Promise<void>;
  let registry: TimelineRegistry;
  let timeline: Timeline;
  const { bytes: wal, boundaries } = redoStream(40, 5);
  const cutAt = boundaries[20]!;
  const append = (beginLsn: bigint, data: Uint8Array, term = 2n) => ({
    type: 'AppendRequest' as const, tenantId: TENANT, timelineId: TIMELINE, generation: 1, term, beginLsn, endLsn: beginLsn + BigInt(data.length), commitLsn: beginLsn + BigInt(data.length), data,
  });
  const elected = { type: 'ProposerElected' as const, tenantId: TENANT, timelineId: TIMELINE, generation: 1, term: 2n, startStreamingAt: 1000n, termHistory: [{ term: 2n, lsn: 1000n }] };

  beforeEach(async () => {
    let dataDir: string;
    ({ dir: dataDir, cleanup } = await tempDir());
    registry = await TimelineRegistry.open({ dataDir, nodeId: 1, metrics: new SafekeeperMetrics(), segmentBytes: 1 << 16 });
    ({ timeline } = await registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 1000n, conf: { generation: 1, members: [1, 2, 3] } }));
    await timeline.updateConsensus({ term: 2n, termHistory: [{ term: 2n, lsn: 1000n }] });
  });
  afterEach(async () => {
    await registry.close();
    await cleanup();
  });

  it('refuses bytes that are not whole CRC-valid mtrs (badRedo), stores nothing, reports it; a heartbeat passes', async () => {
    const host = new AcceptorHost(1, timeline);
    const refusals: Refusal[] = [];
    const onRefused = (r: Refusal) => refusals.push(r);
    const badCrc = wal.slice(0, cutAt);
    badCrc[boundaries[3]! + 2] = badCrc[boundaries[3]! + 2]! ^ 0x40;
    // CRC-valid after the change (computed again, as a hostile sender would), but 0xF8 cannot start the space id's varint: the page server could not parse it.
    const badRecord = wal.slice(0, cutAt);
    const m3 = boundaries[3]!;
    const m3End = boundaries[4]! - 5;
    badRecord[m3 + 1] = 0xf8;
    new DataView(badRecord.buffer).setUint32(m3End + 1, redo.crc32c(badRecord, m3, m3End));
    for (const data of [new Uint8Array(64).fill(0xab), wal.subarray(0, cutAt + 3), badCrc, badRecord]) {
      const [r] = await host.handle([append(1000n, data)], { onRefused });
      expect(r).toMatchObject({ type: 'Reject', reason: 'badRedo', lsn: 1000n });
    }
    expect(refusals.map((r) => r.reason)).toEqual(['badRedo', 'badRedo', 'badRedo', 'badRedo']);
    expect(refusals[3]!.detail).toMatch(/page identifier/);
    expect(timeline.flushLsn).toBe(1000n);
    expect(timeline.commitLsn).toBe(1000n);
    expect((await host.handle([append(1000n, new Uint8Array())]))[0]).toMatchObject({ type: 'AppendResponse', flushLsn: 1000n });
    expect((await host.handle([append(1000n, wal.subarray(0, cutAt))]))[0]).toMatchObject({ type: 'AppendResponse', flushLsn: 1000n + BigInt(cutAt) });
  });

  it('a resend must be byte-identical to the stored WAL (conflict otherwise), also within one batch', async () => {
    const host = new AcceptorHost(1, timeline);
    const refusals: Refusal[] = [];
    const end = 1000n + BigInt(cutAt);
    await host.handle([append(1000n, wal.subarray(0, cutAt))]);
    // Same mtrs, one byte changed (and its CRC fixed up would not help: the bytes differ).
    const other = redoStream(40, 6).bytes;
    const forged = other.subarray(0, redoStream(40, 6).boundaries[20]!);
    const [r] = await host.handle([append(1000n, forged)], { onRefused: (x) => refusals.push(x) });
    expect(r).toMatchObject({ type: 'Reject', reason: 'conflict' });
    expect(refusals).toEqual([expect.objectContaining({ reason: 'conflict' })]);
    expect(timeline.flushLsn).toBe(end);
    expect(await timeline.readWal(1000n, end)).toEqual(wal.subarray(0, cutAt));
    // A byte-identical resend that runs past the end is taken, the tail written; in one batch with the write it overlaps too.
    const replies = await host.handle([append(end, wal.subarray(cutAt, boundaries[30]!)), append(1000n, wal.subarray(0, boundaries[35]!))]);
    expect(replies.map((x) => x.type)).toEqual(['AppendResponse', 'AppendResponse']);
    expect(timeline.flushLsn).toBe(1000n + BigInt(boundaries[35]!));
    expect(await timeline.readWal(1000n, timeline.flushLsn)).toEqual(wal.subarray(0, boundaries[35]!));
  });

  it('on a stream, appends are taken only from the connection elected for their term (notElected otherwise)', async () => {
    const host = new AcceptorHost(1, timeline);
    const mine = new StreamSession('proposer');
    const other = new StreamSession('proposer');
    expect((await host.handle([append(1000n, wal.subarray(0, cutAt))], { session: other }))[0]).toMatchObject({ type: 'Reject', reason: 'notElected' });
    const replies = await host.handle([elected, append(1000n, wal.subarray(0, cutAt))], { session: mine });
    expect(replies.map((x) => x.type)).toEqual(['AppendResponse', 'AppendResponse']);
    expect(mine.electedTerm).toBe(2n);
    // The other connection still cannot write, not even a heartbeat.
    expect((await host.handle([append(1000n + BigInt(cutAt), new Uint8Array())], { session: other }))[0]).toMatchObject({ type: 'Reject', reason: 'notElected' });
    expect(timeline.flushLsn).toBe(1000n + BigInt(cutAt));
  });

  it('a second connection repeating the election of a term an open connection holds is not elected; once that one closes, it is', async () => {
    const host = new AcceptorHost(1, timeline);
    const proposer = new StreamSession('proposer');
    const intruder = new StreamSession('proposer');
    const refusals: Refusal[] = [];
    await host.handle([elected, append(1000n, wal.subarray(0, boundaries[10]!))], { session: proposer });
    // Same token, same term, same history: the repeat would bind it, and its valid mtrs would be stored at the flush LSN.
    const replies = await host.handle([elected, append(1000n + BigInt(boundaries[10]!), wal.subarray(boundaries[10]!, cutAt))], { session: intruder, onRefused: (r) => refusals.push(r) });
    expect(replies).toMatchObject([
      { type: 'Reject', reason: 'notElected' },
      { type: 'Reject', reason: 'notElected' },
    ]);
    expect(refusals[0]!.detail).toMatch(/held by another open connection/);
    expect(intruder.electedTerm).toBeNull();
    expect(timeline.flushLsn).toBe(1000n + BigInt(boundaries[10]!));
    // The proposer's connection closes (it reconnects): its next connection is elected for the same term and goes on.
    proposer.live = false;
    const next = new StreamSession('proposer');
    const again = await host.handle([elected, append(1000n + BigInt(boundaries[10]!), wal.subarray(boundaries[10]!, cutAt))], { session: next });
    expect(again.map((x) => x.type)).toEqual(['AppendResponse', 'AppendResponse']);
    expect(timeline.flushLsn).toBe(1000n + BigInt(cutAt));
  });

  it('peer recovery writes whole mtrs only: a chunk cut inside an mtr leaves that mtr for the next call', async () => {
    const host = new AcceptorHost(1, timeline);
    const n = await host.recoverFromPeer([{ term: 2n, lsn: 1000n }], 1000n + BigInt(wal.length), async (from) => wal.subarray(Number(from - 1000n), cutAt + 7));
    expect(n).toBe(cutAt);
    expect(timeline.flushLsn).toBe(1000n + BigInt(cutAt));
  });
});
