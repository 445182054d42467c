/**
 * Compaction of one timeline's layer files (the I/O side of
 * @strata/core/layers compaction.ts): merge runs of small delta layers, and
 * materialize tablespaces whose delta chains grew long into image layers at
 * the disk-consistent LSN. Neither changes any page at any LSN; both swap
 * layers through Timeline.replaceLayers (new files, one index, old files
 * gone). The caller runs at most one compaction or GC per timeline at a time.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import {
  compareKeys,
  encodeLayer,
  encodePageValue,
  imageChunks,
  type LayerDesc,
  type LayerEntry,
  layerFileName,
  mergedDeltaDesc,
  type PageKey,
  planDeltaMerges,
  planImageLayers,
  type SizedLayer,
} from '@strata/core/layers';
import type { Timeline } from './timeline.js';

export interface CompactionOptions {
  /** Merge small deltas into layers of about this size. */
  readonly mergeTargetBytes: number;
  readonly mergeMinLayers: number;
  /** Image a tablespace when this many delta layers with its changes lie above its newest image. */
  readonly imageThreshold: number;
  /** Pages per image layer file (the file is built in memory). */
  readonly imageLayerPagesMax: number;
  /** Let other work (GetPage, ingest) run after this many pages. */
  readonly pagesPerSlice?: number;
}

export const DEFAULT_COMPACTION: CompactionOptions = {
  mergeTargetBytes: 128 << 20,
  mergeMinLayers: 4,
  imageThreshold: 8,
  imageLayerPagesMax: 8192,
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

/** Per layer file (immutable, so cached by name): its keys by tablespace. */
export type LayerKeyCache = Map<string, Map<number, number[]>>;

const yieldNow = () => new Promise<void>((r) => setImmediate(r));

export async function keysBySpace(t: Timeline, d: LayerDesc, cache: LayerKeyCache): Promise<Map<number, number[]>> {
  const name = `${t.dir}/${layerFileName(d)}`;
  let m = cache.get(name);
  if (m) return m;
  m = new Map();
  for (const k of (await t.openLayer(d)).index.keys()) {
    let list = m.get(k.spaceId);
    if (!list) m.set(k.spaceId, (list = []));
    list.push(k.pageNo);
  }
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

/** Merge one run of consecutive delta layers into one file. */
async function mergeRun(t: Timeline, run: readonly LayerDesc[], slice: number): Promise<number> {
  const entries: LayerEntry[] = [];
  let n = 0;
  for (const d of run) {
    const reader = await t.openLayer(d);
    for (const key of reader.index.keys()) {
      for (const v of reader.read(key, d.lsnStart, d.lsnEnd)) {
        if (v.kind !== 'delta') continue;
        entries.push({ key, lsn: v.change.startLsn, value: encodePageValue(v) });
        if (++n % slice === 0) await yieldNow();
      }
    }
  }
  // Runs are disjoint in LSN, so (key, LSN) is unique; sort by key, then LSN.
  entries.sort((a, b) => compareKeys(a.key, b.key) || (a.lsn < b.lsn ? -1 : a.lsn > b.lsn ? 1 : 0));
  const desc = mergedDeltaDesc(run);
  const bytes = encodeLayer(desc, entries);
  t.replaceLayers(run, [{ desc, bytes }]);
  return bytes.length;
}

/** Every key of a tablespace this timeline (or an ancestor, at the branch point) might have a page for, sorted. */
async function spaceKeys(t: Timeline, spaceId: number, cache: LayerKeyCache): Promise<PageKey[]> {
  const pages = new Set<number>();
  for (let cur: Timeline | undefined = t, depth = 0; cur; cur = cur.ancestorTimeline, depth++) {
    if (depth > 1000) throw new Error('ancestor chain too deep');
    for (const d of cur.layers) for (const p of (await keysBySpace(cur, d, cache)).get(spaceId) ?? []) pages.add(p);
  }
  return [...pages].sort((a, b) => a - b).map((pageNo) => ({ spaceId, pageNo }));
}

/** Materialize one tablespace at `lsn` into image layers tiling its key range. */
async function imageSpace(t: Timeline, spaceId: number, lsn: bigint, opts: CompactionOptions, cache: LayerKeyCache): Promise<{ layers: number; pages: number; bytes: number }> {
  const slice = opts.pagesPerSlice ?? 256;
  let layers = 0;
  let pages = 0;
  let bytes = 0;
  for (const chunk of imageChunks(spaceId, await spaceKeys(t, spaceId, cache), opts.imageLayerPagesMax)) {
    const entries: LayerEntry[] = [];
    for (const key of chunk.keys) {
      const r = await t.getPageAsync(key, lsn);
      // Absent at the LSN (freed, never written): the layer's range says so by not holding it.
      if (r) entries.push({ key, lsn, value: encodePageValue({ kind: 'image', lsn: r.lsn, page: r.page }) });
      if (++pages % slice === 0) await yieldNow();
    }
    const desc: LayerDesc = { kind: 'image', keyStart: chunk.keyStart, keyEnd: chunk.keyEnd, lsnStart: lsn, lsnEnd: lsn + 1n };
    const file = encodeLayer(desc, entries);
    t.replaceLayers([], [{ desc, bytes: file }]);
    layers++;
    bytes += file.length;
  }
  return { layers, pages, bytes };
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
  const spaces = new Map<string, ReadonlySet<number>>();
  for (const d of t.layers) if (d.kind === 'delta') spaces.set(layerFileName(d), new Set((await keysBySpace(t, d, cache)).keys()));
  const needs = planImageLayers({
    layers: t.layers,
    spacesOf: (d) => spaces.get(layerFileName(d)) ?? new Set<number>(),
    threshold: forceImages ? 1 : opts.imageThreshold,
    atLsn: lsn,
  });
  let imageLayers = 0;
  let imagePages = 0;
  for (const n of needs) {
    const r = await imageSpace(t, n.spaceId, lsn, opts, cache);
    imageLayers += r.layers;
    imagePages += r.pages;
    bytesWritten += r.bytes;
  }
  // Forget removed layers' keys: the cache is per page server, layers come and go.
  const live = new Set(t.layers.map((d) => `${t.dir}/${layerFileName(d)}`));
  for (const name of cache.keys()) if (name.startsWith(`${t.dir}/`) && !live.has(name)) cache.delete(name);
  return { deltasMerged, mergedLayers, imageLayers, imageSpaces: needs.map((n) => n.spaceId), imagePages, imageLsn: needs.length ? lsn : null, bytesWritten };
}
