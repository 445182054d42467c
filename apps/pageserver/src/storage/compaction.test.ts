import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { redo } from '@strata/core';
import { decodePageValue, type PageKey } from '@strata/core/layers';
import { LocalFsStorage } from '@strata/remote-storage';
import { LSN, ROOT, SPACE, TENANT } from '../seed-timeline.test-util.js';
import { type CompactionOptions, compactTimeline, DEFAULT_COMPACTION } from './compaction.js';
import { collectChains } from './read-path.js';
import { RemoteTimeline } from './remote-timeline.js';
import { seededDir, straightReplay, writeMtr } from './synthetic-wal.test-util.js';
import { Timeline } from './timeline.js';

const PAGES = [0, 1, 3];
const key = (pageNo: number): PageKey => ({ spaceId: SPACE, pageNo });
/** Merges only, never an image. */
const MERGE_ONLY: CompactionOptions = { ...DEFAULT_COMPACTION, mergeMinLayers: 2, mergeTargetBytes: 1 << 30, imageThreshold: 1_000_000, imageChainMax: 1_000_000 };
/** Images only, never a merge. */
const IMAGES_ONLY = (chainMax: number): CompactionOptions => ({ ...DEFAULT_COMPACTION, mergeMinLayers: 1_000_000, imageThreshold: 1_000_000, imageChainMax: chainMax });

/** Every page at every `step`-th mtr's end LSN, as the timeline reads it now. */
function snapshotPages(t: Timeline, mtrs: readonly redo.Mtr[], step: number): Map<string, Buffer | undefined> {
  const out = new Map<string, Buffer | undefined>();
  for (let i = step - 1; i < mtrs.length; i += step) {
    const lsn = mtrs[i]!.endLsn;
    const got = t.getPages(PAGES.map(key), lsn);
    PAGES.forEach((p, j) => out.set(`${p}@${lsn}`, got[j] ? Buffer.from(got[j]!.page) : undefined));
  }
  return out;
}

/** Ingest `mtrs`, writing a layer file every `perLayer` of them. */
function ingestInLayers(t: Timeline, mtrs: readonly redo.Mtr[], perLayer: number): void {
  mtrs.forEach((m, i) => {
    t.ingest(m);
    if ((i + 1) % perLayer === 0) t.flush();
  });
  t.flush();
}

function imageValuesIn(t: Timeline): number {
  let n = 0;
  for (const d of t.layers) {
    if (d.kind !== 'delta') continue;
    for (const e of t.reader(d).entries()) if (decodePageValue(e.value, e.key).kind === 'image') n++;
  }
  return n;
}

describe('compaction', () => {
  let dataDir: string;
  let timelineDir: string;
  beforeEach(() => ({ dataDir, timelineDir } = seededDir('strata-compaction-')));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('a merge keeps every page at every LSN identical, images written into deltas for hot pages included', async () => {
    const t = Timeline.load(timelineDir, { hotChainValues: 16 });
    const mtrs = Array.from({ length: 1_200 }, (_, i) => writeMtr(i, PAGES[i % 3]!));
    ingestInLayers(t, mtrs, 100);
    const deltasBefore = t.layers.filter((d) => d.kind === 'delta').length;
    expect(deltasBefore).toBe(12);
    const images = imageValuesIn(t);
    expect(images).toBeGreaterThan(0);
    const before = snapshotPages(t, mtrs, 1);

    const r = await compactTimeline(t, MERGE_ONLY, new Map());
    expect(r.deltasMerged).toBe(deltasBefore);
    expect(r.mergedLayers).toBe(1);
    expect(r.imageLayers).toBe(0);
    expect(t.layers.filter((d) => d.kind === 'delta')).toHaveLength(1);
    // Values are copied as they are: the in-delta images stay and still cut the chains.
    expect(imageValuesIn(t)).toBe(images);
    expect(collectChains(t, [key(1)], mtrs.at(-1)!.endLsn)[0]!.values.length).toBeLessThanOrEqual(16 + 1);
    const after = snapshotPages(t, mtrs, 1);
    for (const [k, page] of before) expect(after.get(k)?.equals(page!), k).toBe(true);
    // And right, not just unchanged.
    for (const at of [1, 599, 1_200]) expect(Buffer.compare(t.getPageRaw(key(3), mtrs[at - 1]!.endLsn)!.page, straightReplay(3, mtrs, at))).toBe(0);
    t.close();
  });

  it('images a partition when a page chain gets long, and not while it is short', async () => {
    const t = Timeline.load(timelineDir);
    // Page 3 changes 4 times per layer, over 5 layers: a chain of 20.
    let mtrs = Array.from({ length: 20 }, (_, i) => writeMtr(i, 3));
    ingestInLayers(t, mtrs, 4);
    const short = await compactTimeline(t, IMAGES_ONLY(50), new Map());
    expect(short.imageLayers).toBe(0);
    expect(t.layers.filter((d) => d.kind === 'image')).toHaveLength(1);

    // 40 more changes over 10 more layers: a chain of 60, past 50.
    const more = Array.from({ length: 40 }, (_, i) => writeMtr(20 + i, 3));
    ingestInLayers(t, more, 4);
    mtrs = [...mtrs, ...more];
    const cache = new Map();
    const long = await compactTimeline(t, IMAGES_ONLY(50), cache);
    expect(long.imageLayers).toBeGreaterThan(0);
    expect(long.imageSpaces).toEqual([SPACE]);
    expect(long.imageLsn).toBe(t.diskConsistentLsn);
    const head = mtrs.at(-1)!.endLsn;
    expect(collectChains(t, [key(3)], head)[0]!.values).toHaveLength(1);
    expect(Buffer.compare(t.getPageRaw(key(3), head)!.page, straightReplay(3, mtrs, 60))).toBe(0);
    // Done once: nothing to image again until new deltas pile up.
    expect((await compactTimeline(t, IMAGES_ONLY(50), cache)).imageLayers).toBe(0);
    t.close();
  });

  it('creating images does not change any page at an older LSN', async () => {
    const t = Timeline.load(timelineDir);
    const mtrs = Array.from({ length: 300 }, (_, i) => writeMtr(i, PAGES[i % 3]!));
    ingestInLayers(t, mtrs, 30);
    const before = snapshotPages(t, mtrs, 7);
    const r = await compactTimeline(t, IMAGES_ONLY(50), new Map(), true);
    expect(r.imageLayers).toBeGreaterThan(0);
    expect(r.imagePages).toBe(PAGES.length);
    const after = snapshotPages(t, mtrs, 7);
    for (const [k, page] of before) expect(after.get(k)?.equals(page!), k).toBe(true);
    // Page 2 was never written: still absent, at the image's LSN too.
    expect(t.getPageRaw(key(2), t.diskConsistentLsn)).toBeUndefined();
    // After a restart the same.
    t.close();
    const again = Timeline.load(timelineDir);
    const reloaded = snapshotPages(again, mtrs, 7);
    for (const [k, page] of before) expect(reloaded.get(k)?.equals(page!), k).toBe(true);
    expect(again.getPageRaw(key(0), LSN)).toBeDefined();
    again.close();
  });

  it('[REGRESSION] eviction under the disk budget while a merge reads its layers neither fails nor changes the merge', async () => {
    const remoteDir = mkdtempSync(join(tmpdir(), 'strata-compaction-remote-'));
    try {
      const remote = new RemoteTimeline(new LocalFsStorage(remoteDir), RemoteTimeline.prefixFor(TENANT, ROOT));
      const t = Timeline.load(timelineDir, { remote, hotChainValues: 16 });
      t.scheduleFullUpload();
      const mtrs = Array.from({ length: 600 }, (_, i) => writeMtr(i, PAGES[i % 3]!));
      ingestInLayers(t, mtrs, 100);
      await remote.drain();
      const before = snapshotPages(t, mtrs, 5);
      // Planned with every layer local (the plan is made before the first await), then the maintenance
      // loop evicts on its own timer, every turn, whatever compaction is doing.
      let compacting = true;
      const compaction = compactTimeline(t, { ...MERGE_ONLY, pagesPerSlice: 1 }, new Map()).finally(() => (compacting = false));
      let tries = 0;
      while (compacting) {
        t.evictLayers(0);
        tries++;
        await new Promise((r) => setImmediate(r));
      }
      const r = await compaction;
      expect(r.mergedLayers).toBe(1);
      expect(r.deltasMerged).toBe(6);
      await t.ensureAllLocal();
      const after = snapshotPages(t, mtrs, 5);
      for (const [k, page] of before) expect(after.get(k)?.equals(page!), k).toBe(true);
      // Eviction was tried all along the merge (and refused while it read).
      expect(tries).toBeGreaterThan(10);
      t.close();
    } finally {
      rmSync(remoteDir, { recursive: true, force: true });
    }
  });
});
