import { describe, expect, it } from 'vitest';
import { Prng } from '../prng.js';
import { planGc, keyRangeCovered } from './gc.js';
import { KEY_MAX, KEY_MIN, keyInRange, nextKey, type PageKey } from './key.js';
import { layerFileName, type LayerDesc } from './layer-file.js';
import { LayerMap } from './layer-map.js';

const k = (spaceId: number, pageNo = 0): PageKey => ({ spaceId, pageNo });
const img = (lsn: bigint, keyStart = KEY_MIN, keyEnd = KEY_MAX): LayerDesc => ({ kind: 'image', keyStart, keyEnd, lsnStart: lsn, lsnEnd: lsn + 1n });
const delta = (a: bigint, b: bigint, keyStart = KEY_MIN, keyEnd = KEY_MAX): LayerDesc => ({ kind: 'delta', keyStart, keyEnd, lsnStart: a, lsnEnd: b });
const names = (ls: readonly LayerDesc[]) => ls.map(layerFileName).sort();

describe('keyRangeCovered', () => {
  it('needs the union of ranges to reach from start to end without a gap', () => {
    expect(keyRangeCovered(k(1), k(3), [img(1n, k(1), k(2)), img(1n, k(2), k(3))])).toBe(true);
    expect(keyRangeCovered(k(1), k(3), [img(1n, k(1), k(2)), img(1n, k(2, 1), k(3))])).toBe(false);
    expect(keyRangeCovered(k(1), k(3), [img(1n, k(0), k(5))])).toBe(true);
    expect(keyRangeCovered(k(1), k(3), [])).toBe(false);
    expect(keyRangeCovered(k(1), k(3), [img(1n, k(2), k(5)), img(1n, k(0), k(2))])).toBe(true);
  });
});

describe('planGc', () => {
  it('keeps every layer a read at or above the horizon needs', () => {
    const layers = [img(100n), delta(100n, 200n), delta(200n, 300n)];
    expect(names(planGc({ layers, horizon: 250n, retainedLsns: [] }).remove)).toEqual([]);
  });

  it('removes deltas and the old image below a newer image at or below the horizon', () => {
    const layers = [img(100n), delta(100n, 200n), delta(200n, 300n), img(300n), delta(300n, 400n)];
    const plan = planGc({ layers, horizon: 350n, retainedLsns: [] });
    expect(names(plan.remove)).toEqual(names([img(100n), delta(100n, 200n), delta(200n, 300n)]));
    expect(names(plan.keep)).toEqual(names([img(300n), delta(300n, 400n)]));
  });

  it('an image exactly at the horizon supersedes what lies below it', () => {
    const layers = [img(100n), delta(100n, 200n), img(200n)];
    expect(names(planGc({ layers, horizon: 200n, retainedLsns: [] }).remove)).toEqual(names([img(100n), delta(100n, 200n)]));
  });

  it('a retained branch point below the horizon keeps its image and the deltas up to it', () => {
    const layers = [img(100n), delta(100n, 200n), delta(200n, 300n), img(300n), delta(300n, 400n)];
    const plan = planGc({ layers, horizon: 350n, retainedLsns: [150n] });
    // A read at 150 needs img(100) and delta [100,200); delta [200,300) starts above 150.
    expect(names(plan.remove)).toEqual(names([delta(200n, 300n)]));
    expect(plan.retainedBelowHorizon).toEqual([150n]);
  });

  it('a retained point at or above the horizon adds nothing', () => {
    const layers = [img(100n), delta(100n, 200n), img(200n)];
    const plan = planGc({ layers, horizon: 150n, retainedLsns: [150n, 180n] });
    expect(plan.retainedBelowHorizon).toEqual([]);
  });

  it('a delta is kept when the newer images cover only part of its key range', () => {
    const layers = [img(100n), delta(100n, 200n), img(200n, k(0), k(5))];
    const plan = planGc({ layers, horizon: 300n, retainedLsns: [] });
    expect(names(plan.keep)).toEqual(names(layers));
  });

  it('per-space images together cover a whole-keyspace delta only if they tile it', () => {
    const spaces = [img(200n, KEY_MIN, k(1)), img(200n, k(1), k(2)), img(200n, k(2), KEY_MAX)];
    const layers = [img(100n), delta(100n, 200n), ...spaces];
    expect(names(planGc({ layers, horizon: 200n, retainedLsns: [] }).remove)).toEqual(names([img(100n), delta(100n, 200n)]));
  });

  it('images at the same LSN do not supersede each other', () => {
    const layers = [img(100n, k(0), k(2)), img(100n, k(1), k(3))];
    expect(planGc({ layers, horizon: 500n, retainedLsns: [] }).remove).toEqual([]);
  });

  it('a delta goes once images cover the keys it holds, even if not its whole range', () => {
    const layers = [img(100n), delta(100n, 200n), img(200n, k(1), k(2)), img(200n, k(3), k(4))];
    const deltaContent = () => [
      { keyStart: k(1, 5), keyEnd: k(1, 9) },
      { keyStart: k(3), keyEnd: k(3, 1) },
    ];
    expect(names(planGc({ layers, horizon: 200n, retainedLsns: [], deltaContent }).remove)).toEqual(names([delta(100n, 200n)]));
    const wider = () => [{ keyStart: k(1, 5), keyEnd: k(2, 1) }];
    expect(planGc({ layers, horizon: 200n, retainedLsns: [], deltaContent: wider }).remove).toEqual([]);
  });

  it('a delta straddling the horizon is kept', () => {
    const layers = [img(100n), delta(100n, 300n), img(300n)];
    expect(names(planGc({ layers, horizon: 200n, retainedLsns: [] }).keep)).toEqual(names(layers));
  });

  it('[PROPERTY] every retained read plans the same layers before and after GC (random layer maps)', () => {
    let removed = 0;
    for (let seed = 1; seed <= 120; seed++) {
      const rng = new Prng(seed);
      const keyAt = (i: number) => (i >= 16 ? KEY_MAX : k(i >> 2, i & 3));
      const range = () => {
        const a = rng.int(0, 15);
        const b = rng.int(a + 1, 16);
        return [a === 0 ? KEY_MIN : keyAt(a), keyAt(b)] as const;
      };
      const layers = new Map<string, LayerDesc>();
      const add = (d: LayerDesc) => layers.set(layerFileName(d), d);
      /** Keys (0..15) each delta holds entries for: a random subset of its range. */
      const content = new Map<string, Set<number>>();
      const keyIndex = (key: PageKey) => key.spaceId * 4 + key.pageNo;
      add(img(10n)); // the import
      let lsn = 10n;
      for (let i = 0, n = rng.int(1, 12); i < n; i++) {
        const next = lsn + BigInt(rng.int(1, 30));
        const [s, e] = rng.chance(0.7) ? [KEY_MIN, KEY_MAX] : range();
        const d = delta(lsn, next, s, e);
        add(d);
        const held = new Set<number>();
        for (let i = 0; i < 16; i++) if (keyInRange(keyAt(i), s, e) && rng.chance(0.3)) held.add(i);
        content.set(layerFileName(d), held);
        lsn = next;
        if (rng.chance(0.4)) {
          const [is, ie] = rng.chance(0.5) ? [KEY_MIN, KEY_MAX] : range();
          add(img(lsn, is, ie));
        }
      }
      const horizon = BigInt(rng.int(10, Number(lsn) + 5));
      const retainedLsns = Array.from({ length: rng.int(0, 3) }, () => BigInt(rng.int(10, Number(lsn))));
      const all = [...layers.values()];
      // Content as per-key ranges [k, k+1), the way the page server reports a delta's keys.
      const deltaContent = (d: LayerDesc) => [...(content.get(layerFileName(d)) ?? [])].map((i) => ({ keyStart: keyAt(i), keyEnd: nextKey(keyAt(i)) }));
      const plan = planGc({ layers: all, horizon, retainedLsns, deltaContent });
      const before = new LayerMap(all);
      const after = new LayerMap(plan.keep);
      const points = [...retainedLsns, ...Array.from({ length: Number(lsn) + 3 - Number(horizon) }, (_, i) => horizon + BigInt(i))];
      removed += plan.remove.length;
      for (const p of points) {
        for (let i = 0; i < 16; i++) {
          const show = (m: LayerMap) => {
            // What a read of key i gets: the image, and the deltas that hold entries for it.
            const r = m.plan(keyAt(i), p);
            const holding = r.deltas.filter((d) => content.get(layerFileName(d))?.has(keyIndex(keyAt(i))));
            return `${r.image ? layerFileName(r.image) : '-'} ${names(holding).join(',')}`;
          };
          const a = show(before);
          const b = show(after);
          if (a !== b) expect({ seed, p, key: i, plan: b }).toEqual({ seed, p, key: i, plan: a });
        }
      }
    }
    // The rule must also do its job: these maps have plenty to drop.
    expect(removed).toBeGreaterThan(40);
  });
});
