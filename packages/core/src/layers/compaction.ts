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
 * costs more redo to rebuild at every read. Materializing every page of a
 * tablespace at the disk-consistent LSN into an image layer cuts the chain,
 * and is what lets GC drop the deltas below it.
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

export interface ImageNeedInput {
  readonly layers: readonly LayerDesc[];
  /** The tablespaces a delta layer holds changes for (read from its index). */
  readonly spacesOf: (d: LayerDesc) => ReadonlySet<number>;
  /** Make an image when at least this many delta layers with changes to a space lie above its newest image. */
  readonly threshold: number;
  /** The LSN the image would be made at (the disk-consistent LSN). */
  readonly atLsn: bigint;
}

/** The newest LSN at which image layers cover all of the space, or undefined. */
export function newestFullImageLsn(layers: readonly LayerDesc[], spaceId: number): bigint | undefined {
  const { keyStart, keyEnd } = spaceKeyRange(spaceId);
  const byLsn = new Map<bigint, LayerDesc[]>();
  for (const l of layers) {
    if (l.kind !== 'image' || compareKeys(l.keyStart, keyEnd) >= 0 || compareKeys(keyStart, l.keyEnd) >= 0) continue;
    let list = byLsn.get(l.lsnStart);
    if (!list) byLsn.set(l.lsnStart, (list = []));
    list.push(l);
  }
  const lsns = [...byLsn.keys()].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
  for (const lsn of lsns) {
    const ranges = byLsn.get(lsn)!.sort((a, b) => compareKeys(a.keyStart, b.keyStart));
    let cur = keyStart;
    for (const r of ranges) {
      if (compareKeys(r.keyStart, cur) > 0) break;
      if (compareKeys(r.keyEnd, cur) > 0) cur = r.keyEnd;
    }
    if (compareKeys(cur, keyEnd) >= 0) return lsn;
  }
  return undefined;
}

export interface ImageNeed {
  readonly spaceId: number;
  /** Delta layers with changes to the space above its newest image. */
  readonly deltas: number;
  readonly newestImageLsn: bigint | undefined;
}

/** Tablespaces whose delta chains are long enough for a new image layer at `atLsn`, most deltas first. */
export function planImageLayers(input: ImageNeedInput): ImageNeed[] {
  const deltas = input.layers.filter((l) => l.kind === 'delta' && l.lsnEnd <= input.atLsn);
  const spaces = new Set<number>();
  for (const d of deltas) for (const s of input.spacesOf(d)) spaces.add(s);
  const out: ImageNeed[] = [];
  for (const spaceId of spaces) {
    const newest = newestFullImageLsn(input.layers, spaceId);
    if (newest !== undefined && newest >= input.atLsn) continue;
    const count = deltas.filter((d) => (newest === undefined || d.lsnEnd > newest) && input.spacesOf(d).has(spaceId)).length;
    if (count >= input.threshold) out.push({ spaceId, deltas: count, newestImageLsn: newest });
  }
  return out.sort((a, b) => b.deltas - a.deltas || a.spaceId - b.spaceId);
}

/**
 * Cut one tablespace's sorted keys into image layers of at most `maxPages`
 * pages whose key ranges tile [space:0, space+1:0) without gaps: an image
 * layer speaks for every key in its range (a key it lacks is absent at its
 * LSN), and GC relies on ranges covering the whole space.
 */
export function imageChunks(spaceId: number, keys: readonly PageKey[], maxPages: number): Array<{ keyStart: PageKey; keyEnd: PageKey; keys: PageKey[] }> {
  assert(maxPages > 0, 'maxPages must be positive');
  const { keyStart, keyEnd } = spaceKeyRange(spaceId);
  const chunks: Array<{ keyStart: PageKey; keyEnd: PageKey; keys: PageKey[] }> = [];
  let cur: PageKey[] = [];
  let start = keyStart;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    assert(k.spaceId === spaceId, 'key of another space');
    if (i > 0) assert(compareKeys(keys[i - 1]!, k) < 0, 'keys not sorted and distinct');
    if (cur.length === maxPages) {
      chunks.push({ keyStart: start, keyEnd: k, keys: cur });
      start = k;
      cur = [];
    }
    cur.push(k);
  }
  chunks.push({ keyStart: start, keyEnd, keys: cur });
  return chunks;
}
