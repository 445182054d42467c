/**
 * Compaction of one timeline's layer files (the I/O side of
 * @strata/core/layers compaction.ts): merge runs of small delta layers, and
 * materialize key partitions whose delta stacks grew deep into image layers
 * at the disk-consistent LSN. Every file is streamed through a LayerWriter
 * (async I/O in chunks, yielding between batches), so reads and ingest go on
 * meanwhile. Neither changes any page at any LSN; both swap
 * layers through Timeline.replaceLayers (new files, one index, old files
 * gone). The caller runs at most one compaction or GC per timeline at a time.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import {
  compareKeys,
  encodePageValue,
  type KeyChainSummary,
  type LayerDesc,
  layerFileName,
  mergedDeltaDesc,
  type PageKey,
  type PartitionImageNeed,
  planDeltaMerges,
  planPartitionImages,
  type SizedLayer,
} from '@strata/core/layers';
import { LayerReader } from './layer-reader.js';
import { LayerWriter } from './layer-writer.js';
import type { Timeline } from './timeline.js';

export interface CompactionOptions {
  /** Merge small deltas into layers of about this size. */
  readonly mergeTargetBytes: number;
  readonly mergeMinLayers: number;
  /** Image a key partition when this many delta layers with changes to it lie above its newest image. */
  readonly imageThreshold: number;
  /** Pages per key partition, the unit of image creation (one image layer file each). */
  readonly imageLayerPagesMax: number;
  /** Image a partition, too, when a read of one of its pages would walk this many delta values. */
  readonly imageChainMax: number;
  /** Let other work (GetPage, ingest) run after this many pages. */
  readonly pagesPerSlice?: number;
}

export const DEFAULT_COMPACTION: CompactionOptions = {
  mergeTargetBytes: 128 << 20,
  mergeMinLayers: 4,
  imageThreshold: 8,
  imageLayerPagesMax: 8192,
  imageChainMax: 1024,
};

export interface CompactionResult {
  /** Delta layers merged away, and the layers they became. */
  readonly deltasMerged: number;
  readonly mergedLayers: number;
  /** Image layers written, the tablespaces they cover, and pages in them. */
  readonly imageLayers: number;
  readonly imageSpaces: number[];
  readonly imagePages: number;
  readonly imageLsn: bigint | null;
  readonly bytesWritten: number;
}

/** Per layer file (immutable, so cached by name): its pages by tablespace, with their chain summaries. */
export type LayerKeyCache = Map<string, Map<number, KeyChainSummary>>;

const yieldNow = () => new Promise<void>((r) => setImmediate(r));

/** What a layer holds per tablespace: the pages, ascending, and per page the chain a read walks through it (one pass over its index). */
export async function keysBySpace(t: Timeline, d: LayerDesc, cache: LayerKeyCache): Promise<Map<number, KeyChainSummary>> {
  const name = `${t.dir}/${layerFileName(d)}`;
  const cached = cache.get(name);
  if (cached) return cached;
  // Eviction runs on its own timer: without a pin it could close the reader (and delete the file) under the scan.
  const unpin = t.pin();
  try {
    return await scanKeys(t, d, name, cache);
  } finally {
    unpin();
  }
}

async function scanKeys(t: Timeline, d: LayerDesc, name: string, cache: LayerKeyCache): Promise<Map<number, KeyChainSummary>> {
  const reader = await t.openLayer(d);
  const build = new Map<number, { pages: number[]; tails: number[]; stops: number[] }>();
  let cur: { pages: number[]; tails: number[]; stops: number[] } | undefined;
  let curSpace = -1;
  let curPage = -1;
  let n = 0;
  for (const { key: k, hit } of reader.indexEntries()) {
    if (k.spaceId !== curSpace) {
      curSpace = k.spaceId;
      cur = build.get(curSpace);
      if (!cur) build.set(curSpace, (cur = { pages: [], tails: [], stops: [] }));
      curPage = -1;
    }
    if (k.pageNo !== curPage) {
      curPage = k.pageNo;
      cur!.pages.push(k.pageNo);
      cur!.tails.push(0);
      cur!.stops.push(0);
    }
    const j = cur!.pages.length - 1;
    // Values after the last will_init one are what a read at the layer's end walks.
    if (hit.willInit) {
      cur!.tails[j] = 0;
      cur!.stops[j] = 1;
    } else cur!.tails[j]!++;
    // A big layer's index is long: let reads and ingest in between.
    if (++n % 8192 === 0) await yieldNow();
  }
  const m = new Map<number, KeyChainSummary>();
  for (const [spaceId, b] of build) m.set(spaceId, { pages: Uint32Array.from(b.pages), tails: Uint32Array.from(b.tails), stops: Uint8Array.from(b.stops) });
  cache.set(name, m);
  return m;
}

/** Bytes of a layer on local disk; an evicted one counts as big (it is not merged until it is back). */
function layerBytes(t: Timeline, d: LayerDesc): number {
  try {
    return statSync(join(t.dir, 'layers', layerFileName(d))).size;
  } catch {
    return Number.MAX_SAFE_INTEGER;
  }
}

export function sizedLayers(t: Timeline): SizedLayer[] {
  return t.layers.map((desc) => ({ desc, bytes: layerBytes(t, desc) }));
}

/**
 * Merge one run of consecutive delta layers into one file: a k-way merge by
 * key (each input is sorted by key, then LSN, and the run is ordered by LSN),
 * values copied as they are (images written into deltas for hot pages
 * included), streamed through a LayerWriter.
 */
async function mergeRun(t: Timeline, run: readonly LayerDesc[], slice: number): Promise<number> {
  // Pinned before the inputs are opened: eviction must not close their readers or delete their files mid-merge.
  const unpin = t.pin();
  try {
    return await mergeRunPinned(t, run, slice);
  } finally {
    unpin();
  }
}

async function mergeRunPinned(t: Timeline, run: readonly LayerDesc[], slice: number): Promise<number> {
  const cursors = [];
  for (const d of run) {
    const it = (await t.openLayer(d)).entries();
    cursors.push({ it, cur: it.next() });
  }
  const desc = mergedDeltaDesc(run);
  const w = await LayerWriter.create(t.layerPath(desc), desc);
  let n = 0;
  try {
    for (;;) {
      // The smallest key among the inputs; on a tie the oldest input (lowest LSNs) goes first.
      let best = -1;
      for (let i = 0; i < cursors.length; i++) {
        const c = cursors[i]!.cur;
        if (c.done) continue;
        if (best < 0 || compareKeys(c.value.key, (cursors[best]!.cur as { value: { key: PageKey } }).value.key) < 0) best = i;
      }
      if (best < 0) break;
      const c = cursors[best]!;
      const key = (c.cur as IteratorYieldResult<{ key: PageKey }>).value.key;
      // Every value of this key in this input, then the next input's.
      while (!c.cur.done && compareKeys(c.cur.value.key, key) === 0) {
        await w.add(key, c.cur.value.lsn, c.cur.value.value);
        c.cur = c.it.next();
        if (++n % slice === 0) await yieldNow();
      }
    }
    const bytes = await w.finish();
    // Opened before it is listed, with async reads: the first read after the swap must not check its index on the event loop.
    const reader = await LayerReader.openAsync(t.layerPath(desc));
    t.replaceLayers(run, [{ desc, reader }]);
    return bytes;
  } catch (e) {
    await w.abort();
    throw e;
  }
}

/** Every key of [keyStart, keyEnd) this timeline (or an ancestor, at the branch point) might have a page for, sorted. */
async function rangeKeys(t: Timeline, spaceId: number, fromPage: number, toPage: number, cache: LayerKeyCache): Promise<PageKey[]> {
  const pages = new Set<number>();
  for (let cur: Timeline | undefined = t, depth = 0; cur; cur = cur.ancestorTimeline, depth++) {
    if (depth > 1000) throw new Error('ancestor chain too deep');
    for (const d of cur.layers) {
      const list = (await keysBySpace(cur, d, cache)).get(spaceId)?.pages;
      if (!list) continue;
      for (const p of list) if (p >= fromPage && p < toPage) pages.add(p);
    }
  }
  return [...pages].sort((a, b) => a - b).map((pageNo) => ({ spaceId, pageNo }));
}

/** The highest page any layer of the timeline (or its ancestors) holds of a tablespace. */
async function lastPageOf(t: Timeline, spaceId: number, cache: LayerKeyCache): Promise<number | undefined> {
  let last: number | undefined;
  for (let cur: Timeline | undefined = t, depth = 0; cur; cur = cur.ancestorTimeline, depth++) {
    if (depth > 1000) throw new Error('ancestor chain too deep');
    for (const d of cur.layers) {
      const list = (await keysBySpace(cur, d, cache)).get(spaceId)?.pages;
      const top = list?.[list.length - 1];
      if (top !== undefined && (last === undefined || top > last)) last = top;
    }
  }
  return last;
}

/** Pages rebuilt per vectored read while imaging. */
/** Small: each batch is one synchronous pass that GetPage waits behind (64 pages held p99 at ~5× idle). */
const IMAGE_BATCH_PAGES = 8;

/** Materialize one key range of a tablespace at `lsn` into one image layer, streamed to disk. */
async function imageRange(t: Timeline, need: PartitionImageNeed, lsn: bigint, cache: LayerKeyCache): Promise<{ pages: number; bytes: number }> {
  const toPage = need.keyEnd.spaceId === need.spaceId ? need.keyEnd.pageNo : 0x1_0000_0000;
  const keys = await rangeKeys(t, need.spaceId, need.keyStart.pageNo, toPage, cache);
  const desc: LayerDesc = { kind: 'image', keyStart: need.keyStart, keyEnd: need.keyEnd, lsnStart: lsn, lsnEnd: lsn + 1n };
  const w = await LayerWriter.create(t.layerPath(desc), desc);
  let pages = 0;
  try {
    for (let i = 0; i < keys.length; i += IMAGE_BATCH_PAGES) {
      const batch = keys.slice(i, i + IMAGE_BATCH_PAGES);
      const unpin = t.pin();
      try {
        for (const k of batch) await t.prepareRead(k, lsn);
        const results = t.getPages(batch, lsn);
        for (let j = 0; j < batch.length; j++) {
          const r = results[j];
          // Absent at the LSN (freed, never written): the layer's range says so by not holding it.
          if (!r) continue;
          await w.add(batch[j]!, lsn, encodePageValue({ kind: 'image', lsn: r.lsn, page: r.page }));
          pages++;
        }
      } finally {
        unpin();
      }
      await yieldNow();
    }
    const bytes = await w.finish();
    const reader = await LayerReader.openAsync(t.layerPath(desc));
    t.replaceLayers([], [{ desc, reader }]);
    return { pages, bytes };
  } catch (e) {
    await w.abort();
    throw e;
  }
}

/**
 * One compaction pass: merges first (they make the per-space delta counts
 * cheaper to compute), then images. `forceImages` makes an image of every
 * tablespace with any delta above its newest image (the admin route).
 */
export async function compactTimeline(t: Timeline, opts: CompactionOptions, cache: LayerKeyCache, forceImages = false): Promise<CompactionResult> {
  const slice = opts.pagesPerSlice ?? 256;
  let deltasMerged = 0;
  let mergedLayers = 0;
  let bytesWritten = 0;
  for (const run of planDeltaMerges(sizedLayers(t), { targetBytes: opts.mergeTargetBytes, minLayers: opts.mergeMinLayers })) {
    bytesWritten += await mergeRun(t, run, slice);
    deltasMerged += run.length;
    mergedLayers++;
  }
  const lsn = t.diskConsistentLsn;
  const summaries = new Map<string, ReadonlyMap<number, KeyChainSummary>>();
  for (const d of t.layers) if (d.kind === 'delta') summaries.set(layerFileName(d), await keysBySpace(t, d, cache));
  const pages = new Map<string, ReadonlyMap<number, ArrayLike<number>>>();
  for (const [name, m] of summaries) pages.set(name, new Map([...m].map(([space, sum]) => [space, sum.pages])));
  const lastPages = new Map<number, number | undefined>();
  for (const m of pages.values()) for (const spaceId of m.keys()) if (!lastPages.has(spaceId)) lastPages.set(spaceId, await lastPageOf(t, spaceId, cache));
  const needs = planPartitionImages({
    layers: t.layers,
    pagesOf: (d) => pages.get(layerFileName(d)) ?? new Map<number, number[]>(),
    threshold: forceImages ? 1 : opts.imageThreshold,
    atLsn: lsn,
    partitionPages: opts.imageLayerPagesMax,
    lastPageOf: (s) => lastPages.get(s),
    chainsOf: (d) => summaries.get(layerFileName(d)) ?? new Map<number, KeyChainSummary>(),
    chainMax: opts.imageChainMax,
  });
  let imageLayers = 0;
  let imagePages = 0;
  for (const n of needs) {
    const r = await imageRange(t, n, lsn, cache);
    imageLayers++;
    imagePages += r.pages;
    bytesWritten += r.bytes;
  }
  // Forget removed layers' keys: the cache is per page server, layers come and go.
  const live = new Set(t.layers.map((d) => `${t.dir}/${layerFileName(d)}`));
  for (const name of cache.keys()) if (name.startsWith(`${t.dir}/`) && !live.has(name)) cache.delete(name);
  return { deltasMerged, mergedLayers, imageLayers, imageSpaces: [...new Set(needs.map((n) => n.spaceId))], imagePages, imageLsn: needs.length ? lsn : null, bytesWritten };
}
