import { describe, expect, it } from 'vitest';
import { longestChain, mergedDeltaDesc, newestImageCoveringLsn, planDeltaMerges, planPartitionImages, spaceKeyRange } from './compaction.js';
import { KEY_MAX, KEY_MIN, type PageKey } from './key.js';
import { layerFileName, type LayerDesc } from './layer-file.js';
import { lsnAtTime, mergeLsnTimes, trimLsnTimes } from './lsn-time.js';

const k = (spaceId: number, pageNo = 0): PageKey => ({ spaceId, pageNo });
const img = (lsn: bigint, keyStart = KEY_MIN, keyEnd = KEY_MAX): LayerDesc => ({ kind: 'image', keyStart, keyEnd, lsnStart: lsn, lsnEnd: lsn + 1n });
const delta = (a: bigint, b: bigint): LayerDesc => ({ kind: 'delta', keyStart: KEY_MIN, keyEnd: KEY_MAX, lsnStart: a, lsnEnd: b });
const sized = (desc: LayerDesc, bytes: number) => ({ desc, bytes });

describe('planDeltaMerges', () => {
  it('merges consecutive small deltas up to the target size', () => {
    const layers = [sized(img(0n), 9999), sized(delta(0n, 10n), 10), sized(delta(10n, 20n), 10), sized(delta(20n, 30n), 10), sized(delta(30n, 40n), 10)];
    expect(planDeltaMerges(layers, { targetBytes: 30, minLayers: 2 })).toEqual([[delta(0n, 10n), delta(10n, 20n), delta(20n, 30n)]]);
  });
  it('leaves big deltas alone and does not merge runs shorter than minLayers', () => {
    const layers = [sized(delta(0n, 10n), 10), sized(delta(10n, 20n), 100), sized(delta(20n, 30n), 10), sized(delta(30n, 40n), 10)];
    expect(planDeltaMerges(layers, { targetBytes: 50, minLayers: 2 })).toEqual([[delta(20n, 30n), delta(30n, 40n)]]);
    expect(planDeltaMerges(layers, { targetBytes: 50, minLayers: 3 })).toEqual([]);
  });
  it('never merges across an image layer or a gap', () => {
    const layers = [sized(delta(0n, 10n), 1), sized(delta(10n, 20n), 1), sized(img(20n), 1), sized(delta(20n, 30n), 1), sized(delta(30n, 40n), 1), sized(delta(45n, 50n), 1)];
    expect(planDeltaMerges(layers, { targetBytes: 100, minLayers: 2 })).toEqual([
      [delta(0n, 10n), delta(10n, 20n)],
      [delta(20n, 30n), delta(30n, 40n)],
    ]);
  });
  it('the merged layer spans the run', () => {
    expect(mergedDeltaDesc([delta(0n, 10n), delta(10n, 20n)])).toEqual(delta(0n, 20n));
    expect(() => mergedDeltaDesc([delta(0n, 10n), delta(11n, 20n)])).toThrow(/contiguous/);
  });
});



describe('LSN ↔ time map', () => {
  it('answers the highest LSN committed at or before a time', () => {
    const pts = mergeLsnTimes([], [{ lsn: 100n, timeMs: 1000 }, { lsn: 200n, timeMs: 2000 }, { lsn: 300n, timeMs: 3000 }], 100);
    expect(lsnAtTime(pts, 999)).toBeUndefined();
    expect(lsnAtTime(pts, 1000)).toBe(100n);
    expect(lsnAtTime(pts, 2999)).toBe(200n);
    expect(lsnAtTime(pts, 1e13)).toBe(300n);
  });
  it('a later point bounds the times of earlier LSNs, and one LSN keeps its earliest time', () => {
    const pts = mergeLsnTimes([{ lsn: 100n, timeMs: 5000 }], [{ lsn: 200n, timeMs: 4000 }, { lsn: 200n, timeMs: 4500 }], 100);
    expect(pts).toEqual([{ lsn: 100n, timeMs: 4000 }, { lsn: 200n, timeMs: 4000 }]);
  });
  it('keeps at most maxPoints (the newest) and trims below an LSN keeping one point', () => {
    const pts = mergeLsnTimes([], [1, 2, 3, 4].map((i) => ({ lsn: BigInt(i), timeMs: i })), 3);
    expect(pts.map((p) => p.lsn)).toEqual([2n, 3n, 4n]);
    expect(trimLsnTimes(pts, 4n).map((p) => p.lsn)).toEqual([3n, 4n]);
    expect(trimLsnTimes(pts, 9n).map((p) => p.lsn)).toEqual([4n]);
  });
});

describe('planPartitionImages', () => {
  const dl = (s: number, e: number): LayerDesc => ({ kind: 'delta', keyStart: KEY_MIN, keyEnd: KEY_MAX, lsnStart: BigInt(s), lsnEnd: BigInt(e) });
  const im = (space: number, a: number, b: number | null, lsn: number): LayerDesc => ({
    kind: 'image',
    keyStart: k(space, a),
    keyEnd: b === null ? k(space + 1, 0) : k(space, b),
    lsnStart: BigInt(lsn),
    lsnEnd: BigInt(lsn + 1),
  });

  it('images only the partitions that enough deltas changed, the last one to the end of its tablespace', () => {
    const deltas = [dl(10, 20), dl(20, 30), dl(30, 40)];
    // Every delta changes page 5 (partition 0) of space 1; only one changes page 250 (partition 2).
    const pages = new Map<string, Map<number, number[]>>([
      [layerFileName(deltas[0]!), new Map([[1, [5, 250]]])],
      [layerFileName(deltas[1]!), new Map([[1, [5]]])],
      [layerFileName(deltas[2]!), new Map([[1, [6]]])],
    ]);
    const plan = (layers: LayerDesc[], lastPage?: number) =>
      planPartitionImages({ layers, pagesOf: (x) => pages.get(layerFileName(x)) ?? new Map(), threshold: 3, atLsn: 40n, partitionPages: 100, lastPageOf: () => lastPage });
    expect(plan([im(1, 0, null, 10), ...deltas])).toEqual([{ spaceId: 1, keyStart: k(1, 0), keyEnd: k(1, 100), deltas: 3 }]);
    // With no higher page anywhere, partition 0 is the last: it reaches the tablespace's end.
    pages.get(layerFileName(deltas[0]!))!.set(1, [5]);
    expect(plan([im(1, 0, null, 10), ...deltas])[0]!.keyEnd).toEqual(k(2, 0));
    expect(plan([im(1, 0, null, 10), ...deltas], 999)[0]!.keyEnd).toEqual(k(1, 100));
    // An image of the partition at 20 leaves two deltas above it: below the threshold.
    expect(plan([im(1, 0, null, 10), im(1, 0, 100, 20), ...deltas], 999)).toEqual([]);
    // Images already at the LSN: nothing to do.
    expect(plan([im(1, 0, 100, 40), ...deltas], 999)).toEqual([]);
  });

  it('the newest image covering a whole tablespace, across generations', () => {
    const partial = [img(5n, k(1), k(1, 10)), img(3n, k(1), k(2))];
    expect(newestImageCoveringLsn(partial, spaceKeyRange(1).keyStart, spaceKeyRange(1).keyEnd)).toBe(3n);
    expect(newestImageCoveringLsn([img(7n)], spaceKeyRange(4).keyStart, spaceKeyRange(4).keyEnd)).toBe(7n);
    expect(newestImageCoveringLsn(partial, spaceKeyRange(2).keyStart, spaceKeyRange(2).keyEnd)).toBeUndefined();
  });

  it('counts a partition as covered by pieces of several image generations', () => {
    expect(newestImageCoveringLsn([im(1, 0, 50, 30), im(1, 50, null, 20)], k(1, 0), k(1, 100))).toBe(20n);
    expect(newestImageCoveringLsn([im(1, 0, 50, 30)], k(1, 0), k(1, 100))).toBeUndefined();
  });
});

describe('longestChain', () => {
  it('adds each page\'s tails from the newest layer down to the first where it stops', () => {
    const newer = { pages: [1, 2, 9], tails: [3, 100, 1], stops: [0, 1, 0] };
    const older = { pages: [1, 2], tails: [50, 1000], stops: [1, 0] };
    expect(longestChain([newer, older], 0, 10)).toBe(100);
    expect(longestChain([newer, older], 1, 2)).toBe(53);
    expect(longestChain([newer, older], 9, 10)).toBe(1);
    expect(longestChain([undefined, older], 0, 2)).toBe(50);
  });
});
