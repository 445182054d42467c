/**
 * Garbage collection planning for one timeline: which layer files no reader
 * can need any more. Pure: the page server supplies the layer map, the
 * horizon and the retained read points, and does the deleting.
 *
 * Who reads. Every LSN p ≥ `horizon` (the PITR window, or an explicit
 * horizon, up to the newest record), and every retained point below it: the
 * branch points of child timelines (a child reads its ancestor at exactly its
 * branch point) and snapshot LSNs.
 *
 * What a read uses. `LayerMap.plan(k, p)`: the image I(k, p), the newest
 * image layer with lsnStart ≤ p whose key range holds k (an image layer is
 * authoritative for its whole key range: a key it lacks is absent at its
 * LSN), and every delta layer holding k with lsnEnd > I.lsnStart and
 * lsnStart < p.
 *
 * The rule. Removing layers that are in no retained read's plan leaves every
 * retained read's plan unchanged: its newest image and the deltas above it
 * are all still there, and removal only ever takes layers away. So a layer X
 * is removable iff no retained p and no key k of X's range has X in
 * plan(k, p). Written out:
 *
 *  - A delta D = K × [s, e) is in plan(k, p) iff k ∈ K, s < p, and no image
 *    holding k has lsnStart in [e, p] (such an image would be the floor, at
 *    or above D's end). So p does not need D iff p ≤ s, or the image layers
 *    with lsnStart in [e, p] cover all of K.
 *  - An image I = K × {L} is in plan(k, p) iff k ∈ K, L ≤ p, and no other
 *    image holding k has lsnStart in (L, p]. Images at the same L are not
 *    counted as superseding each other (which one the map picks is not
 *    specified), so two overlapping images at one LSN are kept or removed
 *    only on the strength of newer ones. p does not need I iff p < L, or
 *    the images with lsnStart in (L, p] (excluding I) cover K.
 *  - Content of deltas. A delta that holds no entry for k adds nothing to a
 *    read of k, so the plan may lose it without changing any page: for
 *    deltas, "all of K" above may be narrowed to the key ranges that hold
 *    its entries (`deltaContent`, read from its index). A whole-keyspace L0
 *    delta then goes once images of the tablespaces it changed are there.
 *    Not so for images: a key an image lacks is absent at its LSN, which is
 *    information.
 *  - The range [horizon, ∞): the covering set only grows with p, so p =
 *    horizon is the worst case for a layer starting below the horizon. A
 *    layer that starts at or above the horizon is needed by some p ≥ the
 *    horizon (p = s + 1, p = L) and is always kept.
 *
 * Key ranges are compared exactly, so a layer is only ever removed on the
 * strength of image layers whose declared ranges cover it (or cover every
 * entry it has, for a delta).
 */
import { assert } from '../assert.js';
import { compareKeys, type PageKey } from './key.js';
import { layerFileName, type LayerDesc } from './layer-file.js';

export interface GcInput {
  readonly layers: readonly LayerDesc[];
  /** Every LSN at or above this stays readable. */
  readonly horizon: bigint;
  /** LSNs below the horizon that stay readable: child branch points, snapshots. */
  readonly retainedLsns: readonly bigint[];
  /** Key ranges inside a delta's own range that hold all of its entries; undefined: its whole range. */
  readonly deltaContent?: (d: LayerDesc) => readonly KeyRange[] | undefined;
}

export interface KeyRange {
  readonly keyStart: PageKey;
  readonly keyEnd: PageKey;
}

export interface GcPlan {
  readonly remove: LayerDesc[];
  readonly keep: LayerDesc[];
  /** The retained points below the horizon, sorted and deduplicated: the only LSNs below it a reader may still ask for. */
  readonly retainedBelowHorizon: bigint[];
}

/** Do the key ranges of `images` together cover [start, end)? */
export function keyRangeCovered(start: PageKey, end: PageKey, images: readonly LayerDesc[]): boolean {
  if (compareKeys(start, end) >= 0) return true;
  const sorted = [...images].sort((a, b) => compareKeys(a.keyStart, b.keyStart));
  let cur = start;
  for (const r of sorted) {
    if (compareKeys(r.keyStart, cur) > 0) return false; // a gap at `cur`
    if (compareKeys(r.keyEnd, cur) > 0) cur = r.keyEnd;
    if (compareKeys(cur, end) >= 0) return true;
  }
  return false;
}

function overlaps(a: LayerDesc, b: LayerDesc): boolean {
  return compareKeys(a.keyStart, b.keyEnd) < 0 && compareKeys(b.keyStart, a.keyEnd) < 0;
}

/** Images other than `self` that overlap its keys with lsnStart in [lo, hi] (lo inclusive when `loInclusive`). */
function imagesBetween(images: readonly LayerDesc[], self: LayerDesc, lo: bigint, loInclusive: boolean, hi: bigint): LayerDesc[] {
  return images.filter((i) => i !== self && (loInclusive ? i.lsnStart >= lo : i.lsnStart > lo) && i.lsnStart <= hi && overlaps(i, self));
}

/** Does the read at `p` need layer `x`? (See the rule above; conservative: true when unsure.) */
export function neededAt(x: LayerDesc, p: bigint, images: readonly LayerDesc[], content?: readonly KeyRange[]): boolean {
  if (x.kind === 'delta') {
    if (p <= x.lsnStart) return false;
    const covering = imagesBetween(images, x, x.lsnEnd, true, p);
    return !(content ?? [x]).every((r) => keyRangeCovered(r.keyStart, r.keyEnd, covering));
  }
  if (p < x.lsnStart) return false;
  return !keyRangeCovered(x.keyStart, x.keyEnd, imagesBetween(images, x, x.lsnStart, false, p));
}

export function planGc(input: GcInput): GcPlan {
  const h = input.horizon;
  const images = input.layers.filter((l) => l.kind === 'image');
  const retained = [...new Set(input.retainedLsns.filter((p) => p < h))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const remove: LayerDesc[] = [];
  const keep: LayerDesc[] = [];
  const seen = new Set<string>();
  for (const x of input.layers) {
    const name = layerFileName(x);
    assert(!seen.has(name), `layer ${name} listed twice`);
    seen.add(name);
    // The open range [h, ∞): anything starting at or above the horizon is read by some p ≥ h.
    const content = x.kind === 'delta' ? input.deltaContent?.(x) : undefined;
    if (content) for (const r of content) assert(compareKeys(r.keyStart, x.keyStart) >= 0 && compareKeys(r.keyEnd, x.keyEnd) <= 0, `content of ${name} outside its range`);
    const needed = x.lsnStart >= h || neededAt(x, h, images, content) || retained.some((p) => neededAt(x, p, images, content));
    (needed ? keep : remove).push(x);
  }
  return { remove, keep, retainedBelowHorizon: retained };
}
