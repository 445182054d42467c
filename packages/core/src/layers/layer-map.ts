/**
 * The layer map of one timeline: which layers exist, and for a page at an
 * LSN, which of them a reconstruction must read (the newest image at or
 * below the LSN, then every delta layer above it), as in Neon's layer map.
 *
 * Lookups cost O(log n), not O(layers): a read path that scans every layer
 * for every page makes a basebackup cost pages × layers.
 *
 * - Delta layers sit in one array sorted by LSN. A timeline's deltas do not
 *   overlap in LSN (flushes follow each other, merges replace contiguous
 *   runs), so those a read needs are one contiguous slice found by binary
 *   search. A map holding overlapping deltas (only tests build such) falls
 *   back to a scan, which is always correct.
 * - Image layers are indexed per tablespace as a coverage history (Neon's
 *   `historic_layer_coverage`): for each distinct image LSN, the key space of
 *   the tablespace cut into segments, each naming the newest image layer at
 *   or below that LSN that covers it. A lookup is a binary search for the
 *   LSN, then one for the page. An image layer whose range spans several
 *   tablespaces (whole-keyspace test layers) goes into a short list scanned
 *   as is. A tablespace's history is rebuilt on its next lookup after a
 *   change to its images.
 */
import { assert } from '../assert.js';
import { compareKeys, keyInRange, type PageKey } from './key.js';
import { layerFileName, type LayerDesc } from './layer-file.js';

export interface ReconstructPlan {
  /** The newest image layer holding the key at or below the LSN, if any. */
  readonly image: LayerDesc | undefined;
  /** Delta layers overlapping (image LSN, lsn], oldest first. */
  readonly deltas: LayerDesc[];
}

/** One past the last page number: the end of a segment reaching the end of its tablespace. */
const SPACE_END = 0x1_0000_0000;

interface Segment {
  /** Page numbers [start, end) of one tablespace. */
  readonly start: number;
  readonly end: number;
  readonly layer: LayerDesc;
}

interface CoverageVersion {
  readonly lsn: bigint;
  /** Sorted by start, disjoint. */
  readonly segments: readonly Segment[];
}

function lsnCompare(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byLsnThenKey(a: LayerDesc, b: LayerDesc): number {
  return lsnCompare(a.lsnStart, b.lsnStart) || compareKeys(a.keyStart, b.keyStart) || lsnCompare(a.lsnEnd, b.lsnEnd);
}

/** The page-number range of `d` inside `spaceId`, or undefined when `d` spans more than that tablespace. */
function pagesInSpace(d: LayerDesc): { spaceId: number; start: number; end: number } | undefined {
  const s = d.keyStart.spaceId;
  if (d.keyEnd.spaceId === s) return { spaceId: s, start: d.keyStart.pageNo, end: d.keyEnd.pageNo };
  if (d.keyEnd.spaceId === s + 1 && d.keyEnd.pageNo === 0) return { spaceId: s, start: d.keyStart.pageNo, end: SPACE_END };
  return undefined;
}

/** `segments` with [start, end) → layer laid over it. */
function overlay(segments: readonly Segment[], start: number, end: number, layer: LayerDesc): Segment[] {
  const out: Segment[] = [];
  let placed = false;
  for (const s of segments) {
    if (s.end <= start) {
      out.push(s);
      continue;
    }
    if (s.start >= end) {
      if (!placed) {
        out.push({ start, end, layer });
        placed = true;
      }
      out.push(s);
      continue;
    }
    if (s.start < start) out.push({ start: s.start, end: start, layer: s.layer });
    if (!placed) {
      out.push({ start, end, layer });
      placed = true;
    }
    if (s.end > end) out.push({ start: end, end: s.end, layer: s.layer });
  }
  if (!placed) out.push({ start, end, layer });
  return out;
}

class SpaceImages {
  readonly layers: LayerDesc[] = [];
  private versions: CoverageVersion[] | null = null;

  changed(): void {
    this.versions = null;
  }

  private build(): CoverageVersion[] {
    const sorted = [...this.layers].sort(byLsnThenKey);
    const versions: CoverageVersion[] = [];
    let segments: Segment[] = [];
    for (let i = 0; i < sorted.length; ) {
      const lsn = sorted[i]!.lsnStart;
      for (; i < sorted.length && sorted[i]!.lsnStart === lsn; i++) {
        const r = pagesInSpace(sorted[i]!)!;
        if (r.end > r.start) segments = overlay(segments, r.start, r.end, sorted[i]!);
      }
      versions.push({ lsn, segments });
    }
    return versions;
  }

  find(pageNo: number, lsn: bigint): LayerDesc | undefined {
    const versions = (this.versions ??= this.build());
    // The last version at or below lsn.
    let lo = 0;
    let hi = versions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (versions[mid]!.lsn <= lsn) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return undefined;
    const segments = versions[lo - 1]!.segments;
    let a = 0;
    let b = segments.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (segments[mid]!.end <= pageNo) a = mid + 1;
      else b = mid;
    }
    const s = segments[a];
    return s && s.start <= pageNo ? s.layer : undefined;
  }
}

export class LayerMap {
  private readonly layers = new Map<string, LayerDesc>();
  /** Delta layers by LSN; `deltasDisjoint` while no two overlap in LSN. */
  private deltas: LayerDesc[] = [];
  private deltasSorted = true;
  private deltasDisjoint = true;
  private readonly spaceImages = new Map<number, SpaceImages>();
  /** Image layers spanning more than one tablespace. */
  private wideImages: LayerDesc[] = [];

  constructor(initial: Iterable<LayerDesc> = []) {
    for (const d of initial) this.insert(d);
  }

  insert(d: LayerDesc): void {
    const name = layerFileName(d);
    if (this.layers.has(name)) return;
    this.layers.set(name, d);
    if (d.kind === 'delta') {
      const last = this.deltas[this.deltas.length - 1];
      if (last && byLsnThenKey(last, d) > 0) this.deltasSorted = false;
      this.deltas.push(d);
      if (!this.deltasSorted) this.sortDeltas();
      else if (last && last.lsnEnd > d.lsnStart) this.deltasDisjoint = false;
      return;
    }
    const r = pagesInSpace(d);
    if (!r) {
      this.wideImages.push(d);
      return;
    }
    let s = this.spaceImages.get(r.spaceId);
    if (!s) this.spaceImages.set(r.spaceId, (s = new SpaceImages()));
    s.layers.push(d);
    s.changed();
  }

  private sortDeltas(): void {
    this.deltas.sort(byLsnThenKey);
    this.deltasSorted = true;
    this.deltasDisjoint = true;
    for (let i = 1; i < this.deltas.length; i++) if (this.deltas[i - 1]!.lsnEnd > this.deltas[i]!.lsnStart) this.deltasDisjoint = false;
  }

  remove(d: LayerDesc): boolean {
    const name = layerFileName(d);
    const had = this.layers.get(name);
    if (!had) return false;
    this.layers.delete(name);
    if (d.kind === 'delta') {
      this.deltas = this.deltas.filter((x) => layerFileName(x) !== name);
      this.sortDeltas();
      return true;
    }
    const r = pagesInSpace(d);
    if (!r) {
      this.wideImages = this.wideImages.filter((x) => layerFileName(x) !== name);
      return true;
    }
    const s = this.spaceImages.get(r.spaceId);
    assert(s !== undefined, 'image layer not in its space index');
    const i = s.layers.findIndex((x) => layerFileName(x) === name);
    s.layers.splice(i, 1);
    s.changed();
    if (s.layers.length === 0) this.spaceImages.delete(r.spaceId);
    return true;
  }

  has(d: LayerDesc): boolean {
    return this.layers.has(layerFileName(d));
  }

  all(): LayerDesc[] {
    return [...this.layers.values()].sort((a, b) => lsnCompare(a.lsnStart, b.lsnStart) || compareKeys(a.keyStart, b.keyStart));
  }

  get size(): number {
    return this.layers.size;
  }

  /** The newest image layer holding `key` with lsnStart ≤ `lsn`. */
  imageFor(key: PageKey, lsn: bigint): LayerDesc | undefined {
    let best = this.spaceImages.get(key.spaceId)?.find(key.pageNo, lsn);
    for (const d of this.wideImages) {
      if (d.lsnStart > lsn || !keyInRange(key, d.keyStart, d.keyEnd)) continue;
      if (!best || d.lsnStart > best.lsnStart) best = d;
    }
    return best;
  }

  /**
   * Delta layers overlapping LSNs [floor, lsn) that may hold `key` (or any
   * key when `key` is undefined), oldest first. With disjoint deltas this is
   * one slice of the sorted array.
   */
  deltasBetween(floor: bigint, lsn: bigint, key?: PageKey): LayerDesc[] {
    const out: LayerDesc[] = [];
    const covers = (d: LayerDesc) => key === undefined || keyInRange(key, d.keyStart, d.keyEnd);
    if (!this.deltasDisjoint) {
      for (const d of this.deltas) if (d.lsnEnd > floor && d.lsnStart < lsn && covers(d)) out.push(d);
      return out;
    }
    // The first delta ending above the floor (ends ascend with starts when disjoint).
    let lo = 0;
    let hi = this.deltas.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.deltas[mid]!.lsnEnd <= floor) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.deltas.length; i++) {
      const d = this.deltas[i]!;
      if (d.lsnStart >= lsn) break;
      if (covers(d)) out.push(d);
    }
    return out;
  }

  /**
   * Layers needed to rebuild `key` as of `lsn`, an mtr end LSN: every mtr
   * ending at or below it, i.e. starting below it. Delta entries are keyed by
   * their mtr's start LSN, so a delta layer [s, e) matters when it overlaps
   * [image LSN, lsn).
   */
  plan(key: PageKey, lsn: bigint): ReconstructPlan {
    const image = this.imageFor(key, lsn);
    return { image, deltas: this.deltasBetween(image ? image.lsnStart : 0n, lsn, key) };
  }
}
