/**
 * GC of one timeline's layer files (the I/O side of @strata/core/layers
 * gc.ts, where the rule is written down): given the horizon and the retained
 * points (child branch points, snapshots), drop every layer no retained read
 * needs, record the horizon in the index so reads below it fail with
 * LsnBeforeGcHorizon, and trim the LSN ↔ time map.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { assert } from '@strata/core';
import { type KeyRange, type LayerDesc, layerFileName, planGc, trimLsnTimes } from '@strata/core/layers';
import { keysBySpace, type LayerKeyCache } from './compaction.js';
import type { Timeline } from './timeline.js';

export interface GcResult {
  /** The horizon in force after this run (never lower than the previous one). */
  readonly horizon: bigint;
  readonly retained: bigint[];
  readonly removed: string[];
  readonly layersBefore: number;
  readonly layersAfter: number;
  /** Bytes of layer files on local disk before and after (evicted layers count as 0). */
  readonly bytesBefore: number;
  readonly bytesAfter: number;
}

function localBytes(t: Timeline): number {
  let n = 0;
  for (const d of t.layers) {
    try {
      n += statSync(join(t.dir, 'layers', layerFileName(d))).size;
    } catch {
      // evicted: only in remote storage
    }
  }
  return n;
}

/**
 * `requestedHorizon` is clamped to the disk-consistent LSN (GC reasons about
 * layer files; what is still in memory is above it anyway) and never moves
 * back: reads below an earlier horizon may already have lost their layers.
 */
/**
 * The key ranges holding a local delta layer's entries, one per tablespace
 * ([first page, last page + 1)); undefined (its whole range) for an evicted
 * one: GC does not download layers to delete them.
 */
async function deltaContents(t: Timeline, cache: LayerKeyCache): Promise<Map<string, KeyRange[]>> {
  const out = new Map<string, KeyRange[]>();
  for (const d of t.layers) {
    const name = layerFileName(d);
    if (d.kind !== 'delta' || !existsSync(join(t.dir, 'layers', name))) continue;
    const ranges: KeyRange[] = [];
    for (const [spaceId, { pages }] of await keysBySpace(t, d, cache)) {
      let lo = Infinity;
      let hi = -1;
      for (const p of pages) {
        if (p < lo) lo = p;
        if (p > hi) hi = p;
      }
      ranges.push({ keyStart: { spaceId, pageNo: lo }, keyEnd: hi === 0xffffffff ? { spaceId: spaceId + 1, pageNo: 0 } : { spaceId, pageNo: hi + 1 } });
    }
    out.set(name, ranges);
  }
  return out;
}

export async function gcTimeline(t: Timeline, requestedHorizon: bigint, retainedLsns: readonly bigint[], cache: LayerKeyCache): Promise<GcResult> {
  const previous = t.metaSnapshot.gc?.horizon ?? t.initLsn;
  let horizon = requestedHorizon < t.diskConsistentLsn ? requestedHorizon : t.diskConsistentLsn;
  if (horizon < previous) horizon = previous;
  if (horizon < t.initLsn) horizon = t.initLsn;
  const layersBefore = t.layers.length;
  const bytesBefore = localBytes(t);
  const contents = await deltaContents(t, cache);
  const plan = planGc({ layers: t.layers, horizon, retainedLsns, deltaContent: (d: LayerDesc) => contents.get(layerFileName(d)) });
  assert(plan.keep.length + plan.remove.length === layersBefore, 'GC plan lost a layer');
  // The horizon goes into the index together with the removal (replaceLayers persists it).
  t.patchMeta({ gc: { horizon, retained: plan.retainedBelowHorizon }, lsnTimes: trimLsnTimes(t.metaSnapshot.lsnTimes, horizon) }, false);
  t.replaceLayers(plan.remove, []);
  return {
    horizon,
    retained: plan.retainedBelowHorizon,
    removed: plan.remove.map(layerFileName),
    layersBefore,
    layersAfter: t.layers.length,
    bytesBefore,
    bytesAfter: localBytes(t),
  };
}
