import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CorruptFrame } from '../errors.js';
import { FIXTURE_DIR, fixtureMtrs } from '../redo/fixture-log.test-util.js';
import { isPageRecord, type PageRecord } from '../redo/records.js';
import { type PageChange, replayPage } from '../redo/replay.js';
import { compareKeys, KEY_MAX, KEY_MIN, type PageKey } from './key.js';
import { encodeLayer, LAYER_HEADER_BYTES, type LayerDesc, type LayerEntry, LayerIndex, layerFileName, parseLayerFileName, parseLayerHeader, verifyValue } from './layer-file.js';
import { LayerMap } from './layer-map.js';
import { decodePageValue, encodePageValue } from './page-value.js';
import { reconstructPage } from './reconstruct.js';

const BASE_LSN = 50841n;
const END_LSN = 55516n;

function changesByKey(): Map<string, { key: PageKey; changes: PageChange[] }> {
  const out = new Map<string, { key: PageKey; changes: PageChange[] }>();
  for (const m of fixtureMtrs()) {
    const per = new Map<string, PageRecord[]>();
    for (const r of m.records) {
      if (!isPageRecord(r)) continue;
      const k = `${r.spaceId}-${r.pageNo}`;
      let l = per.get(k);
      if (!l) per.set(k, (l = []));
      l.push(r);
    }
    for (const [k, records] of per) {
      const first = records[0]!;
      let e = out.get(k);
      if (!e) out.set(k, (e = { key: { spaceId: first.spaceId, pageNo: first.pageNo }, changes: [] }));
      e.changes.push({ startLsn: m.startLsn, endLsn: m.endLsn, records });
    }
  }
  return out;
}

function basePages(): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const f of readdirSync(FIXTURE_DIR + 'base-pages')) {
    m.set(f.replace(/^space(\d+)-page(\d+)\.bin$/, '$1-$2'), new Uint8Array(readFileSync(FIXTURE_DIR + 'base-pages/' + f)));
  }
  return m;
}

function sortEntries(entries: LayerEntry[]): LayerEntry[] {
  return entries.sort((a, b) => compareKeys(a.key, b.key) || (a.lsn < b.lsn ? -1 : a.lsn > b.lsn ? 1 : 0));
}

/** A tiny in-memory "timeline": one image layer at the base, one delta layer with the fixture's redo. */
function buildLayers() {
  const images: LayerEntry[] = [];
  for (const [k, page] of basePages()) {
    const [s, p] = k.split('-').map(Number) as [number, number];
    images.push({ key: { spaceId: s, pageNo: p }, lsn: BASE_LSN, value: encodePageValue({ kind: 'image', lsn: BASE_LSN, page }) });
  }
  const deltas: LayerEntry[] = [];
  for (const { key, changes } of changesByKey().values()) {
    for (const c of changes) deltas.push({ key, lsn: c.startLsn, value: encodePageValue({ kind: 'delta', change: c }) });
  }
  const imageDesc: LayerDesc = { kind: 'image', keyStart: KEY_MIN, keyEnd: KEY_MAX, lsnStart: BASE_LSN, lsnEnd: BASE_LSN + 1n };
  const deltaDesc: LayerDesc = { kind: 'delta', keyStart: KEY_MIN, keyEnd: KEY_MAX, lsnStart: BASE_LSN, lsnEnd: END_LSN };
  return {
    files: new Map([
      [layerFileName(imageDesc), encodeLayer(imageDesc, sortEntries(images))],
      [layerFileName(deltaDesc), encodeLayer(deltaDesc, sortEntries(deltas))],
    ]),
    map: new LayerMap([imageDesc, deltaDesc]),
  };
}

function getPage(layers: ReturnType<typeof buildLayers>, key: PageKey, lsn: bigint) {
  const plan = layers.map.plan(key, lsn);
  const read = (d: LayerDesc, from: bigint, to: bigint) => {
    const file = layers.files.get(layerFileName(d))!;
    const h = parseLayerHeader(file);
    const idx = new LayerIndex(file.subarray(h.indexOffset, h.indexOffset + h.indexLength), h);
    return idx.find(key, from, to).map((hit) => decodePageValue(verifyValue(file.subarray(hit.offset, hit.offset + hit.length), hit), key));
  };
  let image: { page: Uint8Array; lsn: bigint } | undefined;
  if (plan.image) {
    const v = read(plan.image, plan.image.lsnStart, plan.image.lsnEnd)[0];
    if (v?.kind === 'image') image = { page: v.page, lsn: v.lsn };
  }
  const changes: PageChange[] = [];
  for (const d of plan.deltas) for (const v of read(d, image?.lsn ?? 0n, lsn)) if (v.kind === 'delta') changes.push(v.change);
  return reconstructPage(image, changes, 16384, 'full_crc32');
}

describe('page values', () => {
  it('round-trip every record type of the real fixture', () => {
    for (const { key, changes } of changesByKey().values()) {
      for (const c of changes) {
        const back = decodePageValue(encodePageValue({ kind: 'delta', change: c }), key);
        expect(back).toEqual({ kind: 'delta', change: c });
      }
    }
  });
  it('reject truncation and garbage with CorruptFrame', () => {
    const { key, changes } = [...changesByKey().values()][0]!;
    const enc = encodePageValue({ kind: 'delta', change: changes[0]! });
    for (let cut = 0; cut < enc.length; cut++) expect(() => decodePageValue(enc.subarray(0, cut), key)).toThrow(CorruptFrame);
    const bad = enc.slice();
    bad[21] = 99;
    expect(() => decodePageValue(bad, key)).toThrow(/unknown record type/);
  });
});

describe('layer files', () => {
  it('names encode key and LSN ranges and parse back', () => {
    const d: LayerDesc = { kind: 'delta', keyStart: { spaceId: 5, pageNo: 3 }, keyEnd: KEY_MAX, lsnStart: 100n, lsnEnd: 200n };
    expect(parseLayerFileName(layerFileName(d))).toEqual(d);
    expect(parseLayerFileName('garbage.delta')).toBeUndefined();
  });
  it('detect a damaged header, index or value', () => {
    const { files } = buildLayers();
    const file = [...files.values()][1]!;
    const h = parseLayerHeader(file);
    const hdr = file.slice();
    hdr[40] = hdr[40]! ^ 1;
    expect(() => parseLayerHeader(hdr)).toThrow(/header CRC/);
    const idx = file.slice(h.indexOffset);
    idx[3] = idx[3]! ^ 1;
    expect(() => new LayerIndex(idx, h)).toThrow(/index CRC/);
    const index = new LayerIndex(file.subarray(h.indexOffset), h);
    const hit = index.find({ spaceId: 5, pageNo: 3 }, 0n, END_LSN)[0]!;
    const val = file.slice(hit.offset, hit.offset + hit.length);
    val[0] = val[0]! ^ 1;
    expect(() => verifyValue(val, hit)).toThrow(/fails its CRC/);
    expect(LAYER_HEADER_BYTES).toBe(128);
  });
});

describe('GetPage@LSN from layers', () => {
  it('rebuilds every non-freed fixture page byte-identical at the end LSN', () => {
    const layers = buildLayers();
    let compared = 0;
    for (const f of readdirSync(FIXTURE_DIR + 'expected-pages')) {
      const [s, p] = f.replace(/^space(\d+)-page(\d+)\.bin$/, '$1 $2').split(' ').map(Number) as [number, number];
      const r = getPage(layers, { spaceId: s, pageNo: p }, END_LSN);
      if (r.kind === 'absent') continue;
      expect(Buffer.from(r.page).equals(readFileSync(FIXTURE_DIR + 'expected-pages/' + f)), f).toBe(true);
      compared++;
    }
    expect(compared).toBe(10);
  });

  it('at every mtr boundary equals replaying the prefix of the log', () => {
    const layers = buildLayers();
    const key = { spaceId: 5, pageNo: 3 };
    const all = changesByKey().get('5-3')!.changes;
    const base = basePages().get('5-3')!;
    for (const m of fixtureMtrs().filter((_, i) => i % 7 === 0)) {
      const lsn = m.endLsn;
      const expected = base.slice();
      replayPage(expected, all.filter((c) => c.endLsn <= lsn), 'full_crc32');
      const r = getPage(layers, key, lsn);
      expect(r.kind).toBe('page');
      if (r.kind === 'page') expect(Buffer.from(r.page).equals(Buffer.from(expected)), `at ${lsn}`).toBe(true);
    }
  });

  it('the plan reads the newest image at or below the LSN and only deltas above it', () => {
    const img = (lsn: bigint): LayerDesc => ({ kind: 'image', keyStart: KEY_MIN, keyEnd: KEY_MAX, lsnStart: lsn, lsnEnd: lsn + 1n });
    const delta = (a: bigint, b: bigint): LayerDesc => ({ kind: 'delta', keyStart: KEY_MIN, keyEnd: KEY_MAX, lsnStart: a, lsnEnd: b });
    const map = new LayerMap([img(100n), delta(100n, 200n), img(200n), delta(200n, 300n), delta(300n, 400n)]);
    const k = { spaceId: 1, pageNo: 1 };
    expect(map.plan(k, 250n)).toEqual({ image: img(200n), deltas: [delta(200n, 300n)] });
    expect(map.plan(k, 200n)).toEqual({ image: img(200n), deltas: [] });
    expect(map.plan(k, 150n)).toEqual({ image: img(100n), deltas: [delta(100n, 200n)] });
    expect(map.plan(k, 400n).deltas).toEqual([delta(200n, 300n), delta(300n, 400n)]);
    expect(map.plan(k, 50n)).toEqual({ image: undefined, deltas: [] });
  });

  it('a page that never existed is absent', () => {
    expect(getPage(buildLayers(), { spaceId: 77, pageNo: 1 }, END_LSN)).toEqual({ kind: 'absent' });
  });
});
