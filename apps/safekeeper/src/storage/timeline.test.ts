import { appendFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LsnGap, LsnOutOfRange, TimelineNotFound } from '@strata/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TENANT, TIMELINE, tempDir } from '../app.test-util.js';
import { TimelineExists } from '../errors.js';
import { SafekeeperMetrics } from '../metrics.js';
import { readControlFile } from './control-file.js';
import { TimelineRegistry } from './timelines.js';

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * seed + 7) & 0xff);
const conf = { generation: 1, members: [1, 2, 3] };

describe('Timeline and TimelineRegistry', () => {
  let dataDir: string;
  let cleanup: () => Promise<void>;
  let registry: TimelineRegistry;
  const open = () => TimelineRegistry.open({ dataDir, nodeId: 1, metrics: new SafekeeperMetrics(), segmentBytes: 256 });

  beforeEach(async () => {
    ({ dir: dataDir, cleanup } = await tempDir());
    registry = await open();
  });
  afterEach(async () => {
    await registry.close();
    await cleanup();
  });

  it('lays out DATA/tenants/<t>/timelines/<tl>/{control.json, wal/}', async () => {
    await registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 1000n, conf });
    const dir = join(dataDir, 'tenants', TENANT, 'timelines', TIMELINE);
    expect((await readdir(dir)).sort()).toEqual(['control.json', 'wal', 'wal-flushed']);
    expect(await readdir(join(dataDir, 'tenants', TENANT, 'timelines'))).toEqual([TIMELINE]);
  });

  it('append records the durable end in the flush marker, not the control file; a restart recovers it and cuts the rest', async () => {
    const { timeline } = await registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 1000n, conf });
    expect(await timeline.appendWal(1000n, bytes(600))).toBe(1600n);
    // One WAL fsync and one marker datasync per append: the control file keeps its older lower bound.
    expect((await readControlFile(timeline.dir)).walFlushLsn).toBe(1000n);
    await expect(timeline.appendWal(1601n, bytes(1))).rejects.toBeInstanceOf(LsnGap);
    await timeline.updateConsensus({ commitLsn: 1500n, term: 2n, termHistory: [{ term: 2n, lsn: 1000n }] });
    await registry.close();
    // A crash after writing more WAL but before the control file moved on.
    await appendFile(join(timeline.dir, 'wal', '0000000000000600.wal'), bytes(50));
    registry = await open();
    const t = registry.get(TENANT, TIMELINE);
    expect(t.flushLsn).toBe(1600n);
    expect(t.control.walFlushLsn).toBe(1600n);
    expect(t.commitLsn).toBe(1500n);
    expect(t.control.term).toBe(2n);
    expect(await t.readWal(1000n, 1600n)).toEqual(bytes(600));
  });

  it('a torn write of one flush-marker slot falls back to the other slot', async () => {
    const { timeline } = await registry.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: 1000n, conf });
    await timeline.appendWal(1000n, bytes(100));
    await timeline.appendWal(1100n, bytes(100));
    await registry.close();
    // The second append's slot (slot 0, sequence 2) is torn: the first append's end must survive.
    const { open: openFile } = await import('node:fs/promises');
    const fd = await openFile(join(timeline.dir, 'wal-flushed'), 'r+');
    await fd.write(new Uint8Array([0xde, 0xad]), 0, 2, 0);
    await fd.close();
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
