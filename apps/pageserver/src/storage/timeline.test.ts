import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redo } from '@strata/core';
import { ROOT, seedTimeline, SPACE, TENANT } from '../seed-timeline.test-util.js';
import { compactTimeline, DEFAULT_COMPACTION } from './compaction.js';
import { collectChains, ReadStats } from './read-path.js';
import { straightReplay, writeMtr } from './synthetic-wal.test-util.js';
import { CARRIED_CHAIN_WEIGHT } from './in-memory-layer.js';
import { DEFAULT_HOT_CHAIN_VALUES, Timeline } from './timeline.js';

describe('Timeline: bounded reconstruction', () => {
  let dir: string;
  let tlDir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'strata-timeline-'));
    seedTimeline(dir);
    tlDir = join(dir, 'tenants', TENANT, 'timelines', ROOT);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('[BOUNDED] a page with 300,000 deltas is rebuilt byte-identical to a straight replay at several LSNs, reading a bounded number of values', async () => {
    const N = 300_000;
    const t = Timeline.load(tlDir, { checkpointBytes: 4 << 20 });
    const mtrs: redo.Mtr[] = [];
    // Page 1 is hot; page 3 changes every 2,000th mtr (a history spread thin over many layers).
    for (let i = 0; i < N; i++) mtrs.push(writeMtr(i, i % 2000 === 0 ? 3 : 1));
    const checks = [1, 257, 1000, 150_000, 299_999, N];
    const seen: Array<{ at: number; page1: Uint8Array; page3: Uint8Array | undefined }> = [];
    for (let i = 0; i < N; i++) {
      t.ingest(mtrs[i]!);
      if (checks.includes(i + 1)) {
        const lsn = mtrs[i]!.endLsn;
        // Read while layers are being written in the background, too.
        seen.push({ at: i + 1, page1: t.getPageRaw({ spaceId: SPACE, pageNo: 1 }, lsn)!.page, page3: t.getPageRaw({ spaceId: SPACE, pageNo: 3 }, lsn)?.page });
      }
    }
    await t.flushed();
    expect(t.layers.filter((d) => d.kind === 'delta').length).toBeGreaterThan(3);
    expect(t.hotImages).toBeGreaterThan(N / DEFAULT_HOT_CHAIN_VALUES / 2);

    for (const s of seen) {
      expect(Buffer.compare(s.page1, straightReplay(1, mtrs, s.at)), `page 1 after ${s.at} mtrs`).toBe(0);
      expect(Buffer.compare(s.page3!, straightReplay(3, mtrs, s.at)), `page 3 after ${s.at} mtrs`).toBe(0);
    }
    // The same LSNs again, now from layer files only, and after a restart (will_init marks persist).
    t.flush();
    t.close();
    const again = Timeline.load(tlDir);
    for (const at of checks) {
      const lsn = mtrs[at - 1]!.endLsn;
      const r = again.getPageRaw({ spaceId: SPACE, pageNo: 1 }, lsn)!;
      expect(Buffer.compare(r.page, straightReplay(1, mtrs, at)), `page 1 at ${lsn} after restart`).toBe(0);
      // FIL_PAGE_LSN: the end of the last mtr that changed page 1 (every 2,000th one changes page 3 instead).
      let last = at - 1;
      while (last >= 0 && last % 2000 === 0) last--;
      expect(r.lsn).toBe(last >= 0 ? mtrs[last]!.endLsn : 5001n);
      // What one read collects: at most one image plus the chain since it, across a layer boundary at worst.
      const [chain] = collectChains(again, [{ spaceId: SPACE, pageNo: 1 }], lsn);
      expect(chain!.values.length).toBeLessThanOrEqual(2 * DEFAULT_HOT_CHAIN_VALUES + 1);
    }
    // Page 3 changed 150 times, a few times per layer: its chain crosses every layer (the count carried
    // from one open layer to the next would image it only past DEFAULT_HOT_CHAIN_VALUES / CARRIED_CHAIN_WEIGHT),
    // and compaction's image of its partition cuts it (the layers are merged first, so the chain length triggers it).
    const before = collectChains(again, [{ spaceId: SPACE, pageNo: 3 }], mtrs[N - 1]!.endLsn)[0]!.values.length;
    expect(before).toBeGreaterThan(100);
    expect(before).toBeLessThanOrEqual(DEFAULT_HOT_CHAIN_VALUES / CARRIED_CHAIN_WEIGHT + 1);
    const r = await compactTimeline(again, { ...DEFAULT_COMPACTION, imageThreshold: 2, imageChainMax: before - 1 }, new Map());
    expect(r.imageLayers).toBeGreaterThan(0);
    const after = collectChains(again, [{ spaceId: SPACE, pageNo: 3 }], mtrs[N - 1]!.endLsn)[0]!.values.length;
    expect(after).toBe(1);
    expect(before).toBeGreaterThan(after);
    const p3 = again.getPageRaw({ spaceId: SPACE, pageNo: 3 }, mtrs[N - 1]!.endLsn)!;
    expect(Buffer.compare(p3.page, straightReplay(3, mtrs, N))).toBe(0);
    // An older LSN still reads through the deltas, unchanged by the image above it.
    const mid = again.getPageRaw({ spaceId: SPACE, pageNo: 3 }, mtrs[150_000 - 1]!.endLsn)!;
    expect(Buffer.compare(mid.page, straightReplay(3, mtrs, 150_000))).toBe(0);
    again.close();
  }, 120_000);

  it('a vectored read of many pages equals the single-page reads, across open, frozen and written layers', async () => {
    const t = Timeline.load(tlDir, { checkpointBytes: 64 << 10 });
    const mtrs: redo.Mtr[] = [];
    for (let i = 0; i < 5_000; i++) mtrs.push(writeMtr(i, [0, 1, 3][i % 3]!));
    for (const m of mtrs) t.ingest(m);
    const lsn = mtrs[mtrs.length - 1]!.endLsn;
    const keys = [0, 1, 2, 3].map((pageNo) => ({ spaceId: SPACE, pageNo }));
    const check = () => {
      const many = t.getPages(keys, lsn);
      for (let i = 0; i < keys.length; i++) expect(many[i]).toEqual(t.getPageRaw(keys[i]!, lsn));
      expect(many[2]).toBeUndefined();
    };
    expect(t.frozenLayers).toBeGreaterThan(0);
    check();
    await t.flushed();
    expect(t.frozenLayers).toBe(0);
    check();
    t.close();
  });

  it('[BASE] a read from an earlier version reads only the changes above it, and a base an image has overtaken is ignored', async () => {
    // No hot-page images: the chain from the base down to the seed's image is all deltas, across many layers.
    const t = Timeline.load(tlDir, { checkpointBytes: 64 << 10, hotChainValues: 1 << 30, hotChainBytes: 1 << 30 });
    const mtrs: redo.Mtr[] = [];
    for (let i = 0; i < 6_000; i++) mtrs.push(writeMtr(i, i % 3 === 0 ? 3 : 1));
    const key = { spaceId: SPACE, pageNo: 1 };
    for (const m of mtrs.slice(0, 4_000)) t.ingest(m);
    const early = t.getPageRaw(key, mtrs[3_999]!.endLsn)!;
    for (const m of mtrs.slice(4_000)) t.ingest(m);
    await t.flushed();
    const head = mtrs[5_999]!.endLsn;
    const full = new ReadStats();
    const whole = t.getPages([key], head, full)[0]!;
    const based = new ReadStats();
    const incremental = t.getPages([key], head, based, [{ page: early.page, lsn: early.lsn }])[0]!;
    expect(Buffer.compare(incremental.page, straightReplay(1, mtrs, 6_000))).toBe(0);
    expect(incremental).toEqual(whole);
    expect(based.fromBase).toBe(1);
    // Page 1 changed 1,333 times since the base: those, plus the base itself (without it: all 4,000 changes and the seed image).
    expect(based.values).toBe(1_334);
    expect(full.values).toBe(4_001);
    // A base above the request LSN is not used.
    const mid = mtrs[2_999]!.endLsn;
    const ignored = new ReadStats();
    expect(t.getPages([key], mid, ignored, [{ page: early.page, lsn: early.lsn }])[0]).toEqual(t.getPageRaw(key, mid));
    expect(ignored.fromBase).toBe(0);
    // Once an image above the base exists, the base is ignored: a bogus one proves it is never read.
    const r = await compactTimeline(t, { ...DEFAULT_COMPACTION, imageThreshold: 2, imageChainMax: 100 }, new Map());
    expect(r.imageLayers).toBeGreaterThan(0);
    const bogus = { page: new Uint8Array(early.page.length).fill(0xee), lsn: early.lsn };
    const overtaken = new ReadStats();
    expect(t.getPages([key], head, overtaken, [bogus])[0]).toEqual(whole);
    expect(overtaken.fromBase).toBe(0);
    t.close();
  });

  it('ReadStats says what a read walked: layers, values, file reads and index blocks', async () => {
    const t = Timeline.load(tlDir, { checkpointBytes: 64 << 10 });
    const mtrs: redo.Mtr[] = [];
    for (let i = 0; i < 3_000; i++) mtrs.push(writeMtr(i, i % 2));
    for (const m of mtrs) t.ingest(m);
    const lsn = mtrs[mtrs.length - 1]!.endLsn;
    const key = { spaceId: SPACE, pageNo: 1 };
    // From memory: values, no file reads.
    const mem = new ReadStats();
    const inMemory = t.getPages([key], lsn, mem)[0]!;
    await t.flushed();
    t.flush();
    t.close();
    // From files, after a restart (cold index cache for these layers): at least one value read and its bytes.
    const again = Timeline.load(tlDir);
    const files = new ReadStats();
    const fromFiles = again.getPages([key], lsn, files)[0]!;
    expect(Buffer.compare(fromFiles.page, inMemory.page)).toBe(0);
    expect(mem.values).toBeGreaterThan(0);
    expect(mem.layers).toBeGreaterThan(0);
    expect(files.layers).toBeGreaterThan(0);
    expect(files.values).toBeGreaterThanOrEqual(files.layers);
    expect(files.reads).toBeGreaterThanOrEqual(files.layers);
    expect(files.bytes).toBeGreaterThan(0);
    expect(files.indexReads).toBeGreaterThan(0);
    expect(files.readMs + files.indexReadMs).toBeLessThanOrEqual(files.collectMs + 1e-6);
    // The same read again finds its index blocks cached, and page 0's flags learned (the cold read probed page 0 too).
    const warm = new ReadStats();
    again.getPages([key], lsn, warm);
    expect(warm.indexReads).toBe(0);
    expect(warm.reads).toBeGreaterThan(0);
    expect(warm.reads).toBeLessThan(files.reads);
    again.close();
  });
});
