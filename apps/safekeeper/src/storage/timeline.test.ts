import { appendFile, cp, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LsnGap, LsnOutOfRange, TimelineNotFound, redo, writeU32, writeU64 } from '@strata/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TENANT, TIMELINE, tempDir } from '../app.test-util.js';
import { TimelineExists } from '../errors.js';
import { SafekeeperMetrics } from '../metrics.js';
import { readControlFile, writeControlFile } from './control-file.js';
import { redoStream } from './redo.test-util.js';
import type { Timeline } from './timeline.js';
import { TimelineRegistry } from './timelines.js';

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * seed + 7) & 0xff);
const conf = { generation: 1, members: [1, 2, 3] };

/** The two-slot flush marker of older versions: (lsn, sequence) per slot. */
function legacyMarker(...slots: [bigint, number][]): Uint8Array {
  const buf = new Uint8Array(32);
  slots.forEach(([lsn, seq], i) => {
    writeU64(buf, i * 16, lsn);
    writeU32(buf, i * 16 + 8, seq);
    writeU32(buf, i * 16 + 12, redo.crc32c(buf, i * 16, i * 16 + 12));
  });
  return buf;
}

describe('Timeline and TimelineRegistry', () => {
  let dataDir: string;
  let cleanup: () => Promise<void>;
  let registry: TimelineRegistry;
  const open = (dir = dataDir) => TimelineRegistry.open({ dataDir: dir, nodeId: 1, metrics: new SafekeeperMetrics(), segmentBytes: 256 });
  const crashed: TimelineRegistry[] = [];
  /**
   * kill -9: the files as the page cache holds them, with nothing closed or
   * flushed, copied aside and opened by a new registry.
   */
  const crashCopy = async (timelineId = TIMELINE): Promise<Timeline> => {
    const copy = join(dataDir, `crash-${crashed.length}`);
    await cp(join(dataDir, 'tenants'), join(copy, 'tenants'), { recursive: true });
    const r = await open(copy);
    crashed.push(r);
    return r.get(TENANT, timelineId);
  };

  beforeEach(async () => {
    ({ dir: dataDir, cleanup } = await tempDir());
    registry = await open();
  });
  afterEach(async () => {
    for (const r of crashed.splice(0)) await r.close();
    await registry.close();
    await cleanup();
  });

  it('lays out DATA/tenants/<t>/timelines/<tl>/{control.json, wal/}', async () => {
    await registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 1000n, conf });
    const dir = join(dataDir, 'tenants', TENANT, 'timelines', TIMELINE);
    expect((await readdir(dir)).sort()).toEqual(['control.json', 'wal']);
    expect(await readdir(join(dataDir, 'tenants', TENANT, 'timelines'))).toEqual([TIMELINE]);
  });

  it('one fdatasync per append, no other file written; after kill -9 a scan finds the end again, unflushed valid WAL included', async () => {
    const { timeline } = await registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 1000n, conf });
    const { bytes, boundaries: b } = redoStream(60);
    const writes0 = timeline.controlWrites;
    // Acknowledged appends, cut anywhere (the proposer cuts by size): inside mtrs too.
    const cuts = [0, 100, b[10]!, b[20]! + 7, b[40]! + 3];
    for (let i = 1; i < cuts.length; i++) {
      expect(await timeline.appendWal(1000n + BigInt(cuts[i - 1]!), bytes.subarray(cuts[i - 1], cuts[i]))).toBe(1000n + BigInt(cuts[i]!));
    }
    expect(timeline.walFlushes).toBe(cuts.length - 1);
    expect(timeline.controlWrites).toBe(writes0);
    expect((await readControlFile(timeline.dir)).walFlushLsn).toBe(1000n);
    // Written, never fsynced nor acknowledged: whole mtrs, then one cut short.
    const end = b[50]! + 9;
    await timeline.writeWal(1000n + BigInt(cuts[cuts.length - 1]!), bytes.subarray(cuts[cuts.length - 1], end));
    const t = await crashCopy();
    expect(t.flushLsn).toBe(1000n + BigInt(end));
    expect(await t.readWal(1000n, t.flushLsn)).toEqual(bytes.subarray(0, end));
    // The proposer continues from there.
    expect(await t.appendWal(t.flushLsn, bytes.subarray(end))).toBe(1000n + BigInt(bytes.length));
    expect(await t.readWal(1000n, t.flushLsn)).toEqual(bytes);
  });

  it('kill -9 with a torn tail: it is cut at the last whole mtr (a wrong CRC, zeros, bytes that are no mtr)', async () => {
    const { bytes, boundaries: b } = redoStream(40, 7);
    const torn: [string, (tail: Uint8Array) => Uint8Array, number][] = [
      ['a wrong CRC', (tail) => (tail[b[25]! - b[20]! + 3]! ^= 0x10, tail), b[25]!],
      ['zeros', () => new Uint8Array(300), b[20]!],
      ['the last byte of the last CRC wrong', (tail) => tail.subarray(0, b[30]! - b[20]!).map((x, i, a) => (i === a.length - 1 ? x ^ 1 : x)), b[29]!],
    ];
    for (const [i, [what, tear, expected]] of torn.entries()) {
      const timelineId = `0000000000000000000000000000000${i + 2}`;
      const { timeline } = await registry.create({ tenantId: TENANT, timelineId, startLsn: 1000n, conf });
      await timeline.appendWal(1000n, bytes.subarray(0, b[20]));
      await timeline.writeWal(1000n + BigInt(b[20]!), tear(bytes.slice(b[20], b[35])));
      const t = await crashCopy(timelineId);
      expect(t.flushLsn, what).toBe(1000n + BigInt(expected));
      expect(t.wal.endLsn, what).toBe(t.flushLsn);
      expect(await t.readWal(1000n, t.flushLsn), what).toEqual(bytes.subarray(0, expected));
    }
  });

  it('group commit: appends that arrive during an fdatasync share the next one', async () => {
    const { timeline } = await registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 1000n, conf });
    const { bytes, boundaries: b } = redoStream(200, 3);
    const appends = b.slice(1).map((to, i) => timeline.appendWal(1000n + BigInt(b[i]!), bytes.subarray(b[i], to)));
    const ends = await Promise.all(appends);
    expect(ends[ends.length - 1]).toBe(1000n + BigInt(bytes.length));
    // 200 appends: the first write's flush covers every write queued before it started.
    expect(timeline.walFlushes).toBeLessThanOrEqual(2);
    expect(await timeline.readWal(1000n, timeline.flushLsn)).toEqual(bytes);
  });

  it('WAL that is not redo: each flush records its exact end in the control file, so kill -9 keeps all that was acknowledged', async () => {
    const { timeline } = await registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 1000n, conf });
    const writes0 = timeline.controlWrites;
    // A zero cannot start an mtr. (Bytes that happen to frame as the start of one long mtr count as redo, on the append path and in recovery alike.)
    const noise = bytes(600).map((x, i) => (i === 0 ? 0 : x));
    expect(await timeline.appendWal(1000n, noise)).toBe(1600n);
    expect(timeline.controlWrites).toBe(writes0 + 1);
    expect((await readControlFile(timeline.dir)).walFlushLsn).toBe(1600n);
    await expect(timeline.appendWal(1601n, bytes(1))).rejects.toBeInstanceOf(LsnGap);
    await timeline.updateConsensus({ commitLsn: 1500n, term: 2n, termHistory: [{ term: 2n, lsn: 1000n }] });
    await timeline.writeWal(1600n, bytes(50)); // never flushed: cut
    const t = await crashCopy();
    expect(t.flushLsn).toBe(1600n);
    expect(t.wal.endLsn).toBe(1600n);
    expect(t.commitLsn).toBe(1500n);
    expect(t.control.term).toBe(2n);
    expect(await t.readWal(1000n, 1600n)).toEqual(noise);
  });

  it('a crash after truncate lowered the durable end, before the files were cut, does not bring the cut WAL back', async () => {
    const { timeline } = await registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 1000n, conf });
    const { bytes, boundaries: b } = redoStream(30, 5);
    await timeline.appendWal(1000n, bytes);
    await registry.close();
    // What truncateWal(b[10] + 3) writes before it cuts the files: the lowered end and no scan start.
    const control = await readControlFile(timeline.dir);
    await writeControlFile(timeline.dir, { ...control, walFlushLsn: 1000n + BigInt(b[10]! + 3), walScanLsn: undefined });
    registry = await open();
    const t = registry.get(TENANT, TIMELINE);
    expect(t.flushLsn).toBe(1000n + BigInt(b[10]! + 3));
    expect(t.wal.endLsn).toBe(t.flushLsn);
    // A completed truncation inside an mtr, appends after it, then kill -9: the scan starts below the cut.
    const other = '00000000000000000000000000000002';
    const { timeline: u } = await registry.create({ tenantId: TENANT, timelineId: other, startLsn: 1000n, conf });
    await u.appendWal(1000n, bytes);
    await u.truncateWal(1000n + BigInt(b[5]! + 2));
    expect((await readControlFile(u.dir)).walScanLsn).toBeLessThanOrEqual(1000n + BigInt(b[5]!));
    const writes = u.controlWrites;
    await u.appendWal(u.flushLsn, bytes.subarray(b[5]! + 2, b[8]));
    expect(u.controlWrites).toBe(writes);
    const crashed = await crashCopy(other);
    expect(crashed.flushLsn).toBe(1000n + BigInt(b[8]!));
    expect(await crashed.readWal(1000n, crashed.flushLsn)).toEqual(bytes.subarray(0, b[8]));
  });

  it('upgrade: a directory with a flush marker of older versions loads at the marker\'s end, then drops the marker', async () => {
    const { timeline } = await registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 1000n, conf });
    await timeline.appendWal(1000n, bytes(300));
    await registry.close();
    // As an older version left it: the control file at the timeline start, the exact end in the marker, a torn tail.
    const control = await readControlFile(timeline.dir);
    await writeControlFile(timeline.dir, { ...control, walFlushLsn: 1000n, walScanLsn: undefined });
    await writeFile(join(timeline.dir, 'wal-flushed'), legacyMarker([1300n, 2], [1200n, 1]));
    await appendFile(join(timeline.dir, 'wal', '0000000000000500.wal'), bytes(50, 3));
    registry = await open();
    const t = registry.get(TENANT, TIMELINE);
    expect(t.flushLsn).toBe(1300n);
    expect(t.wal.endLsn).toBe(1300n);
    expect(await t.readWal(1000n, 1300n)).toEqual(bytes(300));
    expect((await readdir(t.dir)).sort()).toEqual(['control.json', 'wal']);
    expect((await readControlFile(t.dir)).walFlushLsn).toBe(1300n);
  });

  it('upgrade: a torn slot of the marker falls back to the other slot', async () => {
    const { timeline } = await registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 1000n, conf });
    await timeline.appendWal(1000n, bytes(200));
    await registry.close();
    const control = await readControlFile(timeline.dir);
    await writeControlFile(timeline.dir, { ...control, walFlushLsn: 1000n, walScanLsn: undefined });
    const marker = legacyMarker([1200n, 2], [1100n, 1]);
    marker[0]! ^= 0xff; // slot 0 (sequence 2) torn
    await writeFile(join(timeline.dir, 'wal-flushed'), marker);
    registry = await open();
    expect(registry.get(TENANT, TIMELINE).flushLsn).toBe(1100n);
  });

  it('truncate lowers the durable end first and never cuts committed WAL', async () => {
    const { timeline } = await registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 1000n, conf });
    await timeline.appendWal(1000n, bytes(300));
    await timeline.updateConsensus({ commitLsn: 1100n });
    await expect(timeline.truncateWal(1099n)).rejects.toBeInstanceOf(LsnOutOfRange);
    await timeline.truncateWal(1200n);
    expect((await readControlFile(timeline.dir)).walFlushLsn).toBe(1200n);
    expect(timeline.flushLsn).toBe(1200n);
    await expect(timeline.updateConsensus({ commitLsn: 1201n })).rejects.toBeInstanceOf(LsnOutOfRange);
  });

  it('commit waiters wake on a new commit', async () => {
    const { timeline } = await registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 1000n, conf });
    await timeline.appendWal(1000n, bytes(10));
    const waiting = timeline.commits.wait(1000n, 5_000);
    await timeline.updateConsensus({ commitLsn: 1010n });
    expect(await waiting).toBe(1010n);
    expect(await timeline.commits.wait(1010n, 10)).toBe(1010n); // times out with the current value
  });

  it('create is idempotent for the same parameters and refuses different ones', async () => {
    expect((await registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 1000n, conf })).created).toBe(true);
    expect((await registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 1000n, conf })).created).toBe(false);
    await expect(registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 999n, conf })).rejects.toBeInstanceOf(TimelineExists);
    await expect(
      registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 1000n, conf: { generation: 2, members: [1] } }),
    ).rejects.toBeInstanceOf(TimelineExists);
  });

  it('delete removes the directory; leftovers of interrupted creates and deletes vanish at open', async () => {
    await registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 1000n, conf });
    await registry.delete(TENANT, TIMELINE);
    expect(() => registry.get(TENANT, TIMELINE)).toThrow(TimelineNotFound);
    await expect(registry.delete(TENANT, TIMELINE)).rejects.toBeInstanceOf(TimelineNotFound);
    const timelinesDir = join(dataDir, 'tenants', TENANT, 'timelines');
    expect(await readdir(timelinesDir)).toEqual([]);
    await appendFile(join(timelinesDir, '.creating-x'), 'half');
    await registry.close();
    registry = await open();
    expect(await readdir(timelinesDir)).toEqual([]);
    expect(registry.size).toBe(0);
  });
});
