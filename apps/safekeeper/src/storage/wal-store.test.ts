import { appendFile, readFile, readdir, stat, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { LsnGap, LsnOutOfRange } from '@strata/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../app.test-util.js';
import { WalCorrupt } from '../errors.js';
import { WalStore, segmentName } from './wal-store.js';

const SEG = 64; // tiny segments so that tests cross boundaries
const START = 100n; // not aligned: the first segment is short (100..128)

function pattern(fromLsn: bigint, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Number((fromLsn + BigInt(i)) * 31n % 251n);
  return out;
}

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) out[name] = (await readFile(join(dir, name))).toString('hex');
  return out;
}

describe('WalStore', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let wal: WalStore;
  const open = (durableEndLsn: bigint) => WalStore.open(dir, { timelineStartLsn: START, durableEndLsn, segmentBytes: SEG });

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    wal = await open(START);
  });
  afterEach(async () => {
    await wal.close();
    await cleanup();
  });

  it('names segments by zero-padded hex start LSN and cuts them at multiples of the segment size', async () => {
    await wal.append(START, pattern(START, 100)); // 100..200: segments 100, 128, 192
    const flush = await wal.flush();
    expect(flush.flushLsn).toBe(200n);
    expect(flush.fsyncs).toBeGreaterThan(0);
    expect(flush.fsyncSeconds).toBeGreaterThanOrEqual(0);
    expect(await readdir(dir)).toEqual([segmentName(100n), segmentName(128n), segmentName(192n)]);
    expect(segmentName(0xabcn)).toBe('0000000000000abc.wal');
    expect((await stat(join(dir, segmentName(128n)))).size).toBe(64);
    expect(wal.bytesOnDisk).toBe(100n);
    expect(wal.listSegments().map((s) => s.full)).toEqual([true, true, false]);
  });

  it('reads across segment boundaries, only up to the flush LSN', async () => {
    await wal.append(START, pattern(START, 150));
    await expect(wal.read(START, 110n)).rejects.toBeInstanceOf(LsnOutOfRange); // not durable yet
    await wal.flush();
    expect(await wal.read(START, 250n)).toEqual(pattern(START, 150));
    expect(await wal.read(120n, 200n)).toEqual(pattern(120n, 80)); // spans 3 segments
    expect(await wal.read(128n, 192n)).toEqual(pattern(128n, 64)); // exactly one
    expect(await wal.read(130n, 130n)).toEqual(new Uint8Array(0));
    await expect(wal.read(99n, 110n)).rejects.toBeInstanceOf(LsnOutOfRange);
    await expect(wal.read(200n, 251n)).rejects.toBeInstanceOf(LsnOutOfRange);
  });

  it('a gap or an overlap throws LsnGap and changes nothing stored', async () => {
    await wal.append(START, pattern(START, 40));
    await wal.flush();
    const before = await snapshot(dir);
    for (const begin of [141n, 200n, 139n, START]) {
      const err = await wal.append(begin, pattern(begin, 10)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LsnGap);
      expect((err as LsnGap).expectedLsn).toBe(140n);
    }
    expect(await snapshot(dir)).toEqual(before);
    expect(wal.endLsn).toBe(140n);
    await wal.append(140n, pattern(140n, 10));
    await wal.flush();
    expect(await wal.read(START, 150n)).toEqual(pattern(START, 50));
  });

  it('truncate cuts mid-segment, at a boundary, and back to the start', async () => {
    await wal.append(START, pattern(START, 150));
    await wal.flush();
    await wal.truncate(210n);
    expect(wal.endLsn).toBe(210n);
    expect(wal.flushLsn).toBe(210n);
    expect(await readdir(dir)).toEqual([segmentName(100n), segmentName(128n), segmentName(192n)]);
    await wal.truncate(192n);
    expect(await readdir(dir)).toEqual([segmentName(100n), segmentName(128n)]);
    // New WAL after a truncation continues from there.
    await wal.append(192n, pattern(1n, 5));
    await wal.flush();
    expect(await wal.read(190n, 197n)).toEqual(new Uint8Array([...pattern(190n, 2), ...pattern(1n, 5)]));
    await wal.truncate(START);
    expect(wal.endLsn).toBe(START);
    // The first segment stays, empty, so the files never vanish.
    expect(await readdir(dir)).toEqual([segmentName(100n)]);
    expect((await stat(join(dir, segmentName(100n)))).size).toBe(0);
    await expect(wal.truncate(START - 1n)).rejects.toBeInstanceOf(LsnOutOfRange);
    await expect(wal.truncate(START + 1n)).rejects.toBeInstanceOf(LsnOutOfRange);
  });

  it('reads of the newest WAL come from memory and agree with the files, across a truncate', async () => {
    await wal.append(START, pattern(START, 150));
    await wal.flush();
    const files = await WalStore.open(dir, { timelineStartLsn: START, durableEndLsn: START + 150n, segmentBytes: SEG, tailCacheBytes: 0 });
    try {
      expect(await wal.read(START + 10n, START + 140n)).toEqual(await files.read(START + 10n, START + 140n));
      expect(wal.tailReads).toBe(1);
      expect(files.fileReads).toBe(1);
      await wal.truncate(200n);
      await wal.append(200n, pattern(7n, 30));
      await wal.flush();
      const reread = await WalStore.open(dir, { timelineStartLsn: START, durableEndLsn: 230n, segmentBytes: SEG, tailCacheBytes: 0 });
      try {
        expect(await wal.read(190n, 230n)).toEqual(await reread.read(190n, 230n));
        expect(await wal.read(190n, 230n)).toEqual(new Uint8Array([...pattern(190n, 10), ...pattern(7n, 30)]));
        expect(wal.fileReads).toBe(0);
      } finally {
        await reread.close();
      }
    } finally {
      await files.close();
    }
  });

  it('reopens after a restart with the same WAL', async () => {
    await wal.append(START, pattern(START, 130));
    await wal.flush();
    await wal.close();
    wal = await open(230n);
    expect(wal.endLsn).toBe(230n);
    expect(wal.flushLsn).toBe(230n);
    expect(await wal.read(START, 230n)).toEqual(pattern(START, 130));
    await wal.append(230n, pattern(230n, 20));
    await wal.flush();
    expect(await wal.read(200n, 250n)).toEqual(pattern(200n, 50));
  });

  it('cuts a torn tail beyond the durable end at open', async () => {
    await wal.append(START, pattern(START, 60));
    await wal.flush(); // durable end 160, as the control file would record
    await wal.append(160n, pattern(160n, 50)); // written, never acknowledged
    await wal.close();
    // ...and the crash left garbage beyond it too.
    await appendFile(join(dir, segmentName(192n)), new Uint8Array(7).fill(0xee));
    wal = await open(160n);
    expect(wal.endLsn).toBe(160n);
    expect(await readdir(dir)).toEqual([segmentName(100n), segmentName(128n)]);
    expect((await stat(join(dir, segmentName(128n)))).size).toBe(32);
    expect(await wal.read(START, 160n)).toEqual(pattern(START, 60));
    await wal.append(160n, pattern(0n, 3));
    await wal.flush();
    expect(await wal.read(158n, 163n)).toEqual(new Uint8Array([...pattern(158n, 2), ...pattern(0n, 3)]));
  });

  it('refuses to open WAL that lost durable bytes', async () => {
    await wal.append(START, pattern(START, 100));
    await wal.flush();
    await wal.close();
    await truncate(join(dir, segmentName(192n)), 2);
    await expect(open(200n)).rejects.toBeInstanceOf(WalCorrupt);
    await unlink(join(dir, segmentName(128n)));
    await expect(open(194n)).rejects.toThrow(/does not follow/);
    wal = await open(START); // everything is beyond a durable end at the start: cut
    expect(await readdir(dir)).toEqual([segmentName(100n)]);
  });

  it('removeBefore drops whole segments below the LSN and keeps the newest', async () => {
    await wal.append(START, pattern(START, 200)); // 100..300: 100,128,192,256
    await wal.flush();
    expect(await wal.removeBefore(150n)).toBe(28n);
    expect(wal.oldestLsn).toBe(128n);
    expect(await wal.removeBefore(300n)).toBe(64n + 64n);
    expect(await readdir(dir)).toEqual([segmentName(256n)]);
    expect(wal.oldestLsn).toBe(256n);
    await expect(wal.read(200n, 260n)).rejects.toBeInstanceOf(LsnOutOfRange);
    expect(await wal.read(256n, 300n)).toEqual(pattern(256n, 44));
    await wal.close();
    wal = await open(300n);
    expect(wal.oldestLsn).toBe(256n);
    expect(wal.endLsn).toBe(300n);
  });

  it('appends larger than a segment and many small appends agree', async () => {
    const small = await tempDir();
    const other = await WalStore.open(small.dir, { timelineStartLsn: START, durableEndLsn: START, segmentBytes: SEG });
    try {
      await wal.append(START, pattern(START, 1000));
      for (let lsn = START; lsn < START + 1000n; lsn += 7n) {
        const n = Number(START + 1000n - lsn < 7n ? START + 1000n - lsn : 7n);
        await other.append(lsn, pattern(lsn, n));
      }
      await wal.flush();
      await other.flush();
      expect(await snapshot(small.dir)).toEqual(await snapshot(dir));
    } finally {
      await other.close();
      await small.cleanup();
    }
  });
});
