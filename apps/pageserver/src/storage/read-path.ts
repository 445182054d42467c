/**
 * GetPage@LSN for a set of keys at once (Neon's vectored get): a single
 * GetPage is a set of one, a basebackup chunk or a GetPage batch a set of
 * many. Reading goes layer by layer, newest first, each layer visited once
 * for all the keys that still need it:
 *
 *   in-memory layers → delta layers (newest first) → the key's image layer
 *   → the ancestor at the branch point, for keys that found no image here.
 *
 * A key stops collecting at its first will_init value (a page image, or a
 * change that starts with INIT_PAGE/FREE_PAGE), so what is read and applied
 * is bounded by how often images are written, not by the page's history.
 * Values a layer holds for the keys are read with one positioned read per
 * run of nearby bytes. Nothing here recurses or spreads arrays whose size
 * grows with the data.
 */
import { readSync } from 'node:fs';
import { CorruptFrame, redo } from '@strata/core';
import { decodePageValue, type IndexHit, type LayerDesc, type LayerMap, type PageKey, type PageValue, reconstructPage, verifyValue } from '@strata/core/layers';
import type { InMemoryLayer } from './in-memory-layer.js';
import { indexBlockReads, type LayerReader } from './layer-reader.js';

/** What the read path needs of one timeline. */
export interface ReadableTimeline {
  readonly initLsn: bigint;
  readonly pageSize: number;
  readonly layerMap: LayerMap;
  /** In-memory layers (the open one and those being written out), newest first. */
  memoryLayers(): readonly InMemoryLayer[];
  reader(d: LayerDesc): LayerReader;
  /** The ancestor and the branch point, for reads below it. */
  readonly ancestorRead: { readonly timeline: ReadableTimeline; readonly lsn: bigint } | undefined;
}

export interface PageResult {
  readonly page: Uint8Array;
  /** FIL_PAGE_LSN of the returned page. */
  readonly lsn: bigint;
}

/** Gaps between wanted values up to this size are read through rather than split into two reads. */
const READ_GAP_BYTES_MAX = 64 << 10;
/** The most one read takes in. */
const READ_BYTES_MAX = 4 << 20;
/** Ancestor chains are short; a longer one is a corrupt index. */
const ANCESTOR_DEPTH_MAX = 1000;

/**
 * What one read cost, for the slow-read log and the layers-visited metric:
 * filled in by collectChains and Timeline.getPages when passed.
 */
export class ReadStats {
  /** Layers (in-memory, delta, image) that gave at least one value. */
  layers = 0;
  /** Positioned reads of layer values, their bytes, and the milliseconds they blocked. */
  reads = 0;
  bytes = 0;
  readMs = 0;
  /** Index blocks read from disk (index cache misses), and the milliseconds they blocked. */
  indexReads = 0;
  indexReadMs = 0;
  /** Values gathered over all keys (images and changes). */
  values = 0;
  /** Keys rebuilt on top of an earlier version (a PageBase) instead of an image layer. */
  fromBase = 0;
  collectMs = 0;
  applyMs = 0;
  /** The process's CPU time over the read (all threads: an upper bound on the read's own). */
  cpuMs = 0;
}

/** One key's reconstruction data, gathered newest first. */
export class KeyChain {
  readonly values: PageValue[] = [];
  done = false;
  /**
   * The branch point where the read first went down to an ancestor. A page
   * the branch has not changed since is reported at that LSN (what the
   * branch's page cache may answer from), not at its older FIL_PAGE_LSN.
   */
  branchLsn: bigint | undefined;
  constructor(readonly key: PageKey) {}
}

interface WantedValue {
  readonly chain: KeyChain;
  readonly hit: IndexHit;
  value?: PageValue;
}

/** Read the values `wanted` names from one layer file, a run of nearby values per read, and append each to its key's chain. */
function readWanted(reader: LayerReader, wanted: WantedValue[], stats: ReadStats | undefined): void {
  // `wanted` is per key, newest first; the file has each key's values oldest first.
  const byOffset = wanted.length > 1 ? wanted.slice().sort((a, b) => a.hit.offset - b.hit.offset) : wanted;
  for (let i = 0; i < byOffset.length; ) {
    const start = byOffset[i]!.hit.offset;
    let end = start + byOffset[i]!.hit.length;
    let j = i + 1;
    while (j < byOffset.length) {
      const h = byOffset[j]!.hit;
      if (h.offset - end > READ_GAP_BYTES_MAX || h.offset + h.length - start > READ_BYTES_MAX) break;
      if (h.offset + h.length > end) end = h.offset + h.length;
      j++;
    }
    // Not zero-filled: every byte is read over, and zeroing megabytes per batch showed up in profiles.
    const buf = Buffer.allocUnsafe(end - start);
    const t0 = stats ? performance.now() : 0;
    const got = readSync(reader.fd, buf, 0, buf.length, start);
    if (got !== buf.length) throw new CorruptFrame(`${reader.path}: short read of ${got} of ${buf.length} bytes at offset ${start}`);
    if (stats) {
      stats.reads++;
      stats.bytes += got;
      stats.readMs += performance.now() - t0;
    }
    for (; i < j; i++) {
      const w = byOffset[i]!;
      const at = w.hit.offset - start;
      w.value = decodePageValue(verifyValue(buf.subarray(at, at + w.hit.length), w.hit, reader.path), w.chain.key);
    }
  }
  for (const w of wanted) w.chain.values.push(w.value!);
  if (stats) {
    stats.layers++;
    stats.values += wanted.length;
  }
}

/**
 * A version of a page already rebuilt on this timeline (the page cache's),
 * with `lsn` the LSN it was reported at: every change to the page that
 * starts below `lsn` is in it, and none starts in [its FIL_PAGE_LSN, lsn).
 * A newer read then needs only the changes from `lsn` on, on top of it.
 */
export interface PageBase {
  readonly page: Uint8Array;
  readonly lsn: bigint;
}

/**
 * Gather what each key needs to be rebuilt as of `lsn` on `timeline`. Keys
 * should be sorted (a basebackup chunk is); every chain ends done, or with
 * no base at all (the page did not exist).
 *
 * `bases[i]`, when given, is a version of key i rebuilt earlier on this
 * timeline at an LSN ≤ `lsn` (Neon starts from its materialized page cache
 * the same way). It is used instead of the image layer when it is at least
 * as new as that image: the changes above it are then all above the image
 * too, so GC (which keeps what reads above the newest image need) cannot
 * have removed any of them.
 */
export function collectChains(timeline: ReadableTimeline, keys: readonly PageKey[], lsn: bigint, stats?: ReadStats, bases?: ReadonlyArray<PageBase | undefined>): KeyChain[] {
  const chains = keys.map((k) => new KeyChain(k));
  const index0 = stats ? { count: indexBlockReads.count, ms: indexBlockReads.ms } : undefined;
  let pending = chains;
  let cur: ReadableTimeline | undefined = timeline;
  let at = lsn;
  for (let depth = 0; cur && pending.length > 0; depth++) {
    if (depth > ANCESTOR_DEPTH_MAX) throw new CorruptFrame('ancestor chain too deep');
    const map = cur.layerMap;
    const images = pending.map((c) => map.imageFor(c.key, at));
    const floors = images.map((d) => (d ? d.lsnStart : cur!.initLsn));
    // Only on the timeline asked for (a base belongs to it), and while `pending` is still `chains`, index for index.
    const usable: Array<PageBase | undefined> | undefined =
      depth === 0 && bases
        ? pending.map((_, i) => {
            const b = bases[i];
            if (!b || b.lsn > at || b.lsn < floors[i]!) return undefined;
            floors[i] = b.lsn;
            return b;
          })
        : undefined;
    // In-memory layers: their values are all above any image's LSN.
    for (const m of cur.memoryLayers()) {
      if (m.startLsn >= at) continue;
      let gave = 0;
      for (let i = 0; i < pending.length; i++) {
        const c = pending[i]!;
        if (c.done) continue;
        const before = c.values.length;
        if (m.chain(c.key, floors[i]!, at, c.values)) c.done = true;
        gave += c.values.length - before;
      }
      if (stats && gave > 0) {
        stats.layers++;
        stats.values += gave;
      }
    }
    let minFloor = at;
    for (let i = 0; i < pending.length; i++) if (!pending[i]!.done && floors[i]! < minFloor) minFloor = floors[i]!;
    const deltas = map.deltasBetween(minFloor, at);
    const hits: IndexHit[] = [];
    for (let di = deltas.length - 1; di >= 0; di--) {
      const d = deltas[di]!;
      let reader: LayerReader | undefined;
      const wanted: WantedValue[] = [];
      for (let i = 0; i < pending.length; i++) {
        const c = pending[i]!;
        if (c.done || d.lsnEnd <= floors[i]!) continue;
        if (d.keyStart.spaceId > c.key.spaceId || (d.keyStart.spaceId === c.key.spaceId && d.keyStart.pageNo > c.key.pageNo)) continue;
        if (d.keyEnd.spaceId < c.key.spaceId || (d.keyEnd.spaceId === c.key.spaceId && d.keyEnd.pageNo <= c.key.pageNo)) continue;
        reader ??= cur.reader(d);
        hits.length = 0;
        if (reader.chain(c.key, floors[i]!, at, hits)) c.done = true;
        for (const hit of hits) wanted.push({ chain: c, hit });
      }
      if (reader && wanted.length > 0) readWanted(reader, wanted, stats);
    }
    // Image layers, grouped so each is read once.
    const byImage = new Map<LayerDesc, WantedValue[]>();
    const next: KeyChain[] = [];
    for (let i = 0; i < pending.length; i++) {
      const c = pending[i]!;
      if (c.done) continue;
      const base = usable?.[i];
      if (base) {
        c.values.push({ kind: 'image', lsn: base.lsn, page: base.page });
        c.done = true;
        if (stats) stats.fromBase++;
        continue;
      }
      const img = images[i];
      if (!img) {
        next.push(c);
        continue;
      }
      // An image layer speaks for its whole key range: a key it lacks did not exist at its LSN.
      c.done = true;
      const reader = cur.reader(img);
      hits.length = 0;
      reader.chain(c.key, img.lsnStart, img.lsnEnd, hits);
      if (hits.length === 0) continue;
      let list = byImage.get(img);
      if (!list) byImage.set(img, (list = []));
      list.push({ chain: c, hit: hits[0]! });
    }
    for (const [img, wanted] of byImage) readWanted(cur.reader(img), wanted, stats);
    pending = next;
    const anc: ReadableTimeline['ancestorRead'] = cur.ancestorRead;
    if (!anc) break;
    for (const c of pending) c.branchLsn ??= anc.lsn;
    cur = anc.timeline;
    at = anc.lsn;
  }
  if (stats && index0) {
    stats.indexReads += indexBlockReads.count - index0.count;
    stats.indexReadMs += indexBlockReads.ms - index0.ms;
  }
  return chains;
}

/** Rebuild a key from its chain (newest first) with the tablespace's checksum format. */
export function rebuild(chain: KeyChain, pageSize: number, algorithm: redo.ChecksumAlgorithm): PageResult | undefined {
  const values = chain.values;
  let image: { page: Uint8Array; lsn: bigint } | undefined;
  const changes: redo.PageChange[] = [];
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i]!;
    if (v.kind === 'image') {
      // Only the oldest value can be an image: collection stops at the first one.
      if (i === values.length - 1) image = { page: v.page, lsn: v.lsn };
      continue;
    }
    changes.push(v.change);
  }
  // Overlapping delta layers (test maps only) can interleave; applying needs ascending order.
  let sorted = true;
  for (let i = 1; i < changes.length; i++) if (changes[i - 1]!.startLsn > changes[i]!.startLsn) sorted = false;
  if (!sorted) changes.sort((a, b) => (a.startLsn < b.startLsn ? -1 : a.startLsn > b.startLsn ? 1 : 0));
  const r = reconstructPage(image, changes, pageSize, algorithm);
  if (r.kind !== 'page') return undefined;
  return { page: r.page, lsn: chain.branchLsn !== undefined && chain.branchLsn > r.lsn ? chain.branchLsn : r.lsn };
}

/** A tablespace's flags as page 0 says at `lsn`, or undefined if it has none. */
export function spaceFlagsAt(timeline: ReadableTimeline, spaceId: number, lsn: bigint, stats?: ReadStats): redo.SpaceFlags | undefined {
  const [chain] = collectChains(timeline, [{ spaceId, pageNo: 0 }], lsn, stats);
  // Rebuilt unstamped first to learn its own flags.
  const probe = rebuild(chain!, timeline.pageSize, 'full_crc32');
  return probe ? redo.spaceFlagsOfPage0(probe.page) : undefined;
}
