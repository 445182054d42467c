import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareKeys, KEY_MAX, KEY_MIN, keyInRange, type PageKey } from './key.js';
import { layerFileName, type LayerDesc } from './layer-file.js';
import { LayerMap } from './layer-map.js';

/** The plan by definition: a scan of every layer (what the map replaced). */
function bruteForcePlan(layers: readonly LayerDesc[], key: PageKey, lsn: bigint): { image: LayerDesc | undefined; deltas: LayerDesc[] } {
  let image: LayerDesc | undefined;
  for (const d of layers) {
    if (d.kind !== 'image' || d.lsnStart > lsn || !keyInRange(key, d.keyStart, d.keyEnd)) continue;
    if (!image || d.lsnStart > image.lsnStart) image = d;
  }
  const floor = image ? image.lsnStart : 0n;
  const deltas = layers
    .filter((d) => d.kind === 'delta' && keyInRange(key, d.keyStart, d.keyEnd) && d.lsnEnd > floor && d.lsnStart < lsn)
    .sort((a, b) => (a.lsnStart < b.lsnStart ? -1 : a.lsnStart > b.lsnStart ? 1 : compareKeys(a.keyStart, b.keyStart)));
  return { image, deltas };
}

const SPACES = 3;
const PAGES = 40;

const keyArb = fc.record({ spaceId: fc.integer({ min: 0, max: SPACES - 1 }), pageNo: fc.integer({ min: 0, max: PAGES }) });

/** An image layer inside one tablespace (to its end, or to a page), or now and then over the whole key space. */
const imageArb = fc
  .record({
    spaceId: fc.integer({ min: 0, max: SPACES - 1 }),
    a: fc.integer({ min: 0, max: PAGES }),
    len: fc.integer({ min: 1, max: PAGES }),
    toEnd: fc.boolean(),
    wide: fc.integer({ min: 0, max: 9 }),
    lsn: fc.integer({ min: 1, max: 60 }),
  })
  .map(({ spaceId, a, len, toEnd, wide, lsn }): LayerDesc => {
    const l = BigInt(lsn * 10);
    if (wide === 0) return { kind: 'image', keyStart: KEY_MIN, keyEnd: KEY_MAX, lsnStart: l, lsnEnd: l + 1n };
    const keyEnd = toEnd ? { spaceId: spaceId + 1, pageNo: 0 } : { spaceId, pageNo: a + len };
    return { kind: 'image', keyStart: { spaceId, pageNo: a }, keyEnd, lsnStart: l, lsnEnd: l + 1n };
  });

/** Whole-keyspace deltas tiling LSNs (what flushes and merges make), from cut points. */
const deltaRunArb = fc.uniqueArray(fc.integer({ min: 0, max: 620 }), { minLength: 2, maxLength: 30 }).map((cuts) => {
  const s = [...cuts].sort((a, b) => a - b);
  const out: LayerDesc[] = [];
  for (let i = 1; i < s.length; i++) out.push({ kind: 'delta', keyStart: KEY_MIN, keyEnd: KEY_MAX, lsnStart: BigInt(s[i - 1]!), lsnEnd: BigInt(s[i]!) });
  return out;
});

/** Deltas of any range and LSNs, overlapping (the fallback path). */
const looseDeltaArb = fc
  .record({ spaceId: fc.integer({ min: 0, max: SPACES - 1 }), a: fc.integer({ min: 0, max: PAGES }), len: fc.integer({ min: 1, max: PAGES }), s: fc.integer({ min: 0, max: 600 }), n: fc.integer({ min: 1, max: 80 }) })
  .map(({ spaceId, a, len, s, n }): LayerDesc => ({ kind: 'delta', keyStart: { spaceId, pageNo: a }, keyEnd: { spaceId, pageNo: a + len }, lsnStart: BigInt(s), lsnEnd: BigInt(s + n) }));

function sameLayers(a: readonly LayerDesc[], b: readonly LayerDesc[]): void {
  expect(a.map(layerFileName)).toEqual(b.map(layerFileName));
}

/** Images at one LSN may overlap; which one the map picks among them is not specified, only its LSN is. */
function expectSamePlan(map: LayerMap, layers: readonly LayerDesc[], key: PageKey, lsn: bigint): void {
  const want = bruteForcePlan(layers, key, lsn);
  const got = map.plan(key, lsn);
  expect(got.image?.lsnStart).toEqual(want.image?.lsnStart);
  if (got.image) expect(keyInRange(key, got.image.keyStart, got.image.keyEnd)).toBe(true);
  sameLayers(got.deltas, want.deltas);
}

describe('LayerMap (coverage index)', () => {
  it('agrees with a brute-force plan on random layer sets (disjoint deltas, the fast path)', () => {
    fc.assert(
      fc.property(fc.array(imageArb, { maxLength: 40 }), deltaRunArb, fc.array(fc.tuple(keyArb, fc.integer({ min: 0, max: 650 })), { minLength: 1, maxLength: 40 }), (images, deltas, queries) => {
        const layers = [...images, ...deltas];
        const map = new LayerMap(layers);
        for (const [key, lsn] of queries) expectSamePlan(map, layers, key, BigInt(lsn));
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with a brute-force plan with overlapping and partial deltas (the fallback path)', () => {
    fc.assert(
      fc.property(fc.array(imageArb, { maxLength: 20 }), fc.array(looseDeltaArb, { maxLength: 20 }), fc.array(fc.tuple(keyArb, fc.integer({ min: 0, max: 700 })), { minLength: 1, maxLength: 20 }), (images, deltas, queries) => {
        const layers = [...images, ...deltas];
        const map = new LayerMap(layers);
        for (const [key, lsn] of queries) expectSamePlan(map, layers, key, BigInt(lsn));
      }),
      { numRuns: 300 },
    );
  });

  it('stays in agreement as layers are removed and added (compaction, GC)', () => {
    fc.assert(
      fc.property(fc.array(imageArb, { minLength: 1, maxLength: 30 }), deltaRunArb, fc.array(fc.nat(), { maxLength: 15 }), fc.array(fc.tuple(keyArb, fc.integer({ min: 0, max: 650 })), { minLength: 1, maxLength: 20 }), (images, deltas, removals, queries) => {
        const map = new LayerMap();
        let layers: LayerDesc[] = [];
        for (const d of [...deltas, ...images]) {
          if (map.has(d)) continue;
          map.insert(d);
          layers.push(d);
        }
        for (const r of removals) {
          if (layers.length === 0) break;
          const victim = layers[r % layers.length]!;
          expect(map.remove(victim)).toBe(true);
          layers = layers.filter((l) => l !== victim);
          for (const [key, lsn] of queries) expectSamePlan(map, layers, key, BigInt(lsn));
        }
        expect(map.size).toBe(layers.length);
      }),
      { numRuns: 200 },
    );
  });

  it('answers a lookup among 20,000 layers without scanning them', () => {
    const layers: LayerDesc[] = [];
    for (let i = 0; i < 10_000; i++) layers.push({ kind: 'delta', keyStart: KEY_MIN, keyEnd: KEY_MAX, lsnStart: BigInt(i * 100), lsnEnd: BigInt(i * 100 + 100) });
    for (let i = 0; i < 10_000; i++) {
      const spaceId = i % 100;
      const l = BigInt(Math.floor(i / 100) * 10_000 + 5_000);
      layers.push({ kind: 'image', keyStart: { spaceId, pageNo: 0 }, keyEnd: { spaceId: spaceId + 1, pageNo: 0 }, lsnStart: l, lsnEnd: l + 1n });
    }
    const map = new LayerMap(layers);
    const key = { spaceId: 42, pageNo: 7 };
    expectSamePlan(map, layers, key, 555_555n);
    const t0 = performance.now();
    let deltas = 0;
    for (let i = 0; i < 20_000; i++) deltas += map.plan(key, BigInt(100_000 + ((i * 7919) % 800_000))).deltas.length;
    const perLookupUs = ((performance.now() - t0) * 1000) / 20_000;
    // A scan of 20,000 layers per lookup takes hundreds of µs; the index, a few.
    expect(perLookupUs).toBeLessThan(50);
    expect(deltas).toBeGreaterThan(0);
  });
});
