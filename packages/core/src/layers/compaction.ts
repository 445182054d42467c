/**
 * Compaction planning, pure: which small delta layers to merge, which
 * tablespaces need a new image layer, and how to cut an image layer into
 * key-range chunks. The page server reads and writes the files.
 *
 * Why merge: every flush of the open layer writes one delta layer over the
 * whole key space ("L0"). A read of a page walks every delta above its newest
 * image, so many small L0 layers cost one index lookup each; merging
 * consecutive ones into one layer of about `targetBytes` keeps that short.
 *
 * Why images: a page whose chain of deltas above its newest image grows long
 * costs more redo to rebuild at every read. Materializing a key partition of
 * a tablespace at the disk-consistent LSN into an image layer cuts the
 * chains of its pages, and is what lets GC drop the deltas below it.
 */
import { assert } from '../assert.js';
import { compareKeys, KEY_MAX, KEY_MIN, type PageKey } from './key.js';
import type { LayerDesc } from './layer-file.js';

export interface SizedLayer {
  readonly desc: LayerDesc;
  readonly bytes: number;
}

export interface DeltaMergeOptions {
  /** Merge small deltas up to about this many bytes. A delta at least this big is left alone. */
  readonly targetBytes: number;
  /** Merge only runs of at least this many layers (a merge of one is a copy). */
  readonly minLayers: number;
}

function isFullRange(d: LayerDesc): boolean {
  return compareKeys(d.keyStart, KEY_MIN) === 0 && compareKeys(d.keyEnd, KEY_MAX) === 0;
}

/**
 * Runs of consecutive whole-key-space delta layers to merge, oldest first.
 * A run never spans an image layer's LSN: a delta that straddles an image
 * could never be dropped by GC on the strength of that image, and deltas
 * from a flush always end where an image may be made.
 */
export function planDeltaMerges(layers: readonly SizedLayer[], opts: DeltaMergeOptions): LayerDesc[][] {
  assert(opts.minLayers >= 2 && opts.targetBytes > 0, 'bad merge options');
  const imageLsns = layers.filter((l) => l.desc.kind === 'image').map((l) => l.desc.lsnStart);
  const deltas = layers
    .filter((l) => l.desc.kind === 'delta' && isFullRange(l.desc))
    .sort((a, b) => (a.desc.lsnStart < b.desc.lsnStart ? -1 : a.desc.lsnStart > b.desc.lsnStart ? 1 : 0));
  const runs: LayerDesc[][] = [];
  let run: LayerDesc[] = [];
  let runBytes = 0;
  const close = () => {
    if (run.length >= opts.minLayers) runs.push(run);
    run = [];
    runBytes = 0;
  };
  for (const l of deltas) {
    const prev = run[run.length - 1];
    const contiguous = prev !== undefined && prev.lsnEnd === l.desc.lsnStart;
    const imageInBetween = prev !== undefined && imageLsns.some((x) => x > run[0]!.lsnStart && x <= l.desc.lsnStart);
    if (prev && (!contiguous || imageInBetween || runBytes + l.bytes > opts.targetBytes)) close();
    if (l.bytes >= opts.targetBytes) {
      close();
      continue;
    }
    run.push(l.desc);
    runBytes += l.bytes;
  }
  close();
  return runs;
}

/** The delta layer a merged run becomes. */
export function mergedDeltaDesc(run: readonly LayerDesc[]): LayerDesc {
  assert(run.length > 0, 'empty run');
  for (let i = 1; i < run.length; i++) assert(run[i - 1]!.lsnEnd === run[i]!.lsnStart, 'run not contiguous');
  return { kind: 'delta', keyStart: run[0]!.keyStart, keyEnd: run[0]!.keyEnd, lsnStart: run[0]!.lsnStart, lsnEnd: run[run.length - 1]!.lsnEnd };
}

/** Keys [space:0, space+1:0): one tablespace. */
export function spaceKeyRange(spaceId: number): { keyStart: PageKey; keyEnd: PageKey } {
  return { keyStart: { spaceId, pageNo: 0 }, keyEnd: spaceId === 0xffffffff ? KEY_MAX : { spaceId: spaceId + 1, pageNo: 0 } };
}

/** One key range of a tablespace to materialize as an image layer. */
export interface PartitionImageNeed {
  readonly spaceId: number;
  readonly keyStart: PageKey;
  readonly keyEnd: PageKey;
  /** Delta layers with changes in the range above its newest image. */
  readonly deltas: number;
}

export interface PartitionImageInput {
  readonly layers: readonly LayerDesc[];
  /** Per delta layer: the pages it changes, per tablespace, ascending (read from its index). */
  readonly pagesOf: (d: LayerDesc) => ReadonlyMap<number, ArrayLike<number>>;
  /** Make an image of a partition when at least this many delta layers change it above its newest image. */
  readonly threshold: number;
  /** The LSN the images would be made at (the disk-consistent LSN). */
  readonly atLsn: bigint;
  /** Pages per partition: a partition is [p × n, (p + 1) × n) of its tablespace, the last one to the tablespace's end. */
  readonly partitionPages: number;
  /** The highest page any layer holds of the tablespace (its last partition reaches the tablespace's end); default: the highest page changed. */
  readonly lastPageOf?: (spaceId: number) => number | undefined;
  /** Per delta layer and tablespace: each changed page's chain summary (see `KeyChainSummary`). */
  readonly chainsOf?: (d: LayerDesc) => ReadonlyMap<number, KeyChainSummary>;
  /** Image a partition, too, when a read of one of its pages would walk this many delta values. */
  readonly chainMax?: number;
}

/**
 * What a delta layer holds per page of one tablespace, in page order: how
 * many values a read at the layer's end walks through it (those after the
 * page's last will_init value, or all of them), and whether it stops there.
 */
export interface KeyChainSummary {
  readonly pages: ArrayLike<number> & Iterable<number>;
  readonly tails: ArrayLike<number>;
  /** 1 where the page has a will_init value in the layer. */
  readonly stops: ArrayLike<number>;
}

/** The first index of `pages` (ascending) at or above `p`. */
function lowerBound(pages: ArrayLike<number>, p: number): number {
  let lo = 0;
  let hi = pages.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pages[mid]! < p) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The longest chain a read of a page in [fromPage, toPage) walks through
 * `deltasNewestFirst`: per page, the tails of the layers from the newest
 * down to the first where it stops.
 */
export function longestChain(summaries: ReadonlyArray<KeyChainSummary | undefined>, fromPage: number, toPage: number): number {
  const walked = new Map<number, number>();
  const stopped = new Set<number>();
  let longest = 0;
  for (const s of summaries) {
    if (!s) continue;
    for (let i = lowerBound(s.pages, fromPage); i < s.pages.length && s.pages[i]! < toPage; i++) {
      const p = s.pages[i]!;
      if (stopped.has(p)) continue;
      const w = (walked.get(p) ?? 0) + s.tails[i]!;
      walked.set(p, w);
      if (w > longest) longest = w;
      if (s.stops[i]) stopped.add(p);
    }
  }
  return longest;
}

/** The newest LSN at which image layers cover all of [keyStart, keyEnd), or undefined. */
export function newestImageCoveringLsn(layers: readonly LayerDesc[], keyStart: PageKey, keyEnd: PageKey): bigint | undefined {
  const byLsn = new Map<bigint, LayerDesc[]>();
  for (const l of layers) {
    if (l.kind !== 'image' || compareKeys(l.keyStart, keyEnd) >= 0 || compareKeys(keyStart, l.keyEnd) >= 0) continue;
    let list = byLsn.get(l.lsnStart);
    if (!list) byLsn.set(l.lsnStart, (list = []));
    list.push(l);
  }
  const lsns = [...byLsn.keys()].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
  // Older images count too: a range covered piecewise by several generations is covered.
  const seen: LayerDesc[] = [];
  for (const lsn of lsns) {
    for (const l of byLsn.get(lsn)!) seen.push(l);
    seen.sort((a, b) => compareKeys(a.keyStart, b.keyStart));
    let cur = keyStart;
    for (const r of seen) {
      if (compareKeys(r.keyStart, cur) > 0) break;
      if (compareKeys(r.keyEnd, cur) > 0) cur = r.keyEnd;
    }
    if (compareKeys(cur, keyEnd) >= 0) return lsn;
  }
  return undefined;
}

/**
 * Key ranges whose delta stacks are deep enough for a new image layer at
 * `atLsn`, deepest first. Ranges are fixed partitions of each tablespace, so
 * a write-heavy corner of a large table is imaged on its own, without
 * rewriting the rest (Neon's image_creation_threshold per key partition).
 *
 * "Newest image" of a partition: the oldest LSN at which image layers cover
 * every key of it, looking back from the newest (`newestImageCoveringLsn`
 * with the partition as the range, across generations). The count can only
 * overstate what a read walks, never understate it.
 */
export function planPartitionImages(input: PartitionImageInput): PartitionImageNeed[] {
  const n = input.partitionPages;
  assert(n > 0 && Number.isInteger(n), 'partitionPages must be a positive integer');
  const deltas = input.layers.filter((l) => l.kind === 'delta' && l.lsnEnd <= input.atLsn);
  // space → partition → the deltas touching it
  const touched = new Map<number, Map<number, LayerDesc[]>>();
  const lastPartition = new Map<number, number>();
  for (const d of deltas) {
    for (const [spaceId, pages] of input.pagesOf(d)) {
      let parts = touched.get(spaceId);
      if (!parts) touched.set(spaceId, (parts = new Map()));
      let prev = -1;
      for (let i = 0; i < pages.length; i++) {
        const p = pages[i]!;
        const part = Math.floor(p / n);
        if (part === prev) continue;
        prev = part;
        let list = parts.get(part);
        if (!list) parts.set(part, (list = []));
        list.push(d);
        if (part > (lastPartition.get(spaceId) ?? -1)) lastPartition.set(spaceId, part);
      }
    }
  }
  const imagesOf = new Map<number, LayerDesc[]>();
  for (const l of input.layers) {
    if (l.kind !== 'image') continue;
    for (let s = l.keyStart.spaceId; s <= l.keyEnd.spaceId && s - l.keyStart.spaceId < 2; s++) {
      let list = imagesOf.get(s);
      if (!list) imagesOf.set(s, (list = []));
      list.push(l);
    }
  }
  const wide = input.layers.filter((l) => l.kind === 'image' && l.keyEnd.spaceId - l.keyStart.spaceId > 1);
  const out: PartitionImageNeed[] = [];
  for (const [spaceId, parts] of touched) {
    const images = [...(imagesOf.get(spaceId) ?? []), ...wide];
    const lastPage = input.lastPageOf?.(spaceId);
    const last = Math.max(lastPartition.get(spaceId)!, lastPage === undefined ? -1 : Math.floor(lastPage / n));
    for (const [part, ds] of parts) {
      const keyStart = { spaceId, pageNo: part * n };
      const keyEnd = part === last || (part + 1) * n > 0xffffffff ? spaceKeyRange(spaceId).keyEnd : { spaceId, pageNo: (part + 1) * n };
      const newest = newestImageCoveringLsn(images, keyStart, keyEnd);
      if (newest !== undefined && newest >= input.atLsn) continue;
      const above = ds.filter((d) => newest === undefined || d.lsnEnd > newest);
      const count = above.length;
      let deep = count >= input.threshold;
      if (!deep && input.chainsOf && input.chainMax !== undefined && count > 0) {
        const newestFirst = [...above].sort((a, b) => (a.lsnStart > b.lsnStart ? -1 : a.lsnStart < b.lsnStart ? 1 : 0));
        const toPage = keyEnd.spaceId === spaceId ? keyEnd.pageNo : 0x1_0000_0000;
        deep = longestChain(newestFirst.map((d) => input.chainsOf!(d).get(spaceId)), keyStart.pageNo, toPage) >= input.chainMax;
      }
      if (deep) out.push({ spaceId, keyStart, keyEnd, deltas: count });
    }
  }
  return out.sort((a, b) => b.deltas - a.deltas || a.spaceId - b.spaceId || a.keyStart.pageNo - b.keyStart.pageNo);
}
