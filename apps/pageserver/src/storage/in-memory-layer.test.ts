import { describe, expect, it } from 'vitest';
import type { redo } from '@strata/core';
import { compareKeys, decodePageValue, encodePageValue, type PageKey, type PageValue } from '@strata/core/layers';
import { InMemoryLayer } from './in-memory-layer.js';

const PAGE = 16384;

function write(key: PageKey, startLsn: bigint, bytes: number, fill: number): redo.PageChange {
  const rec: redo.PageRecord = { type: 'WRITE', spaceId: key.spaceId, pageNo: key.pageNo, offset: 100, data: new Uint8Array(bytes).fill(fill) };
  return { startLsn, endLsn: startLsn + 10n, records: [rec] };
}

function initPage(key: PageKey, startLsn: bigint): redo.PageChange {
  return { startLsn, endLsn: startLsn + 10n, records: [{ type: 'INIT_PAGE', spaceId: key.spaceId, pageNo: key.pageNo }] };
}

interface ModelValue {
  readonly lsn: bigint;
  readonly bytes: string;
  readonly willInit: boolean;
}

/** What the layer must answer, kept the obvious way: per page, a list. */
class Model {
  readonly pages = new Map<string, { key: PageKey; list: ModelValue[] }>();
  add(key: PageKey, lsn: bigint, v: PageValue): void {
    const k = `${key.spaceId}:${key.pageNo}`;
    let p = this.pages.get(k);
    if (!p) this.pages.set(k, (p = { key, list: [] }));
    const willInit = v.kind === 'image' || v.change.records[0]?.type === 'INIT_PAGE';
    p.list.push({ lsn, bytes: hex(encodePageValue(v)), willInit });
  }
  chain(key: PageKey, from: bigint, to: bigint): { values: string[]; done: boolean } {
    const list = this.pages.get(`${key.spaceId}:${key.pageNo}`)?.list ?? [];
    const values: string[] = [];
    for (let i = list.length - 1; i >= 0; i--) {
      const v = list[i]!;
      if (v.lsn >= to) continue;
      if (v.lsn < from) return { values, done: false };
      values.push(v.bytes);
      if (v.willInit) return { values, done: true };
    }
    return { values, done: false };
  }
}

/** Values compared as strings: deep equality over typed arrays is slow at this count. */
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const encoded = (vs: PageValue[]): string[] => vs.map((v) => hex(encodePageValue(v)));

describe('InMemoryLayer', () => {
  it('answers chains, reads and the sorted entry stream exactly as a per-page list would, across many slabs and column growths', () => {
    // A deterministic mix: hot pages, cold pages, several spaces, images, INIT_PAGE, values from 1 byte to 60 KiB (past a slab's share).
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const layer = new InMemoryLayer(1000n);
    const model = new Model();
    let lsn = 1000n;
    const keys: PageKey[] = [];
    for (let s = 0; s < 3; s++) for (let p = 0; p < 700; p++) keys.push({ spaceId: s * 7, pageNo: p * 3 });
    for (let i = 0; i < 20_000; i++) {
      const key = rnd(4) === 0 ? keys[rnd(4)]! : keys[rnd(keys.length)]!;
      const kind = rnd(50);
      if (kind === 0) {
        const page = new Uint8Array(PAGE).fill(i & 0xff);
        layer.putImage(key, lsn + 1n, page, lsn);
        model.add(key, lsn, { kind: 'image', lsn, page });
      } else if (kind === 1) {
        const c = initPage(key, lsn);
        layer.put(key, c);
        model.add(key, lsn, { kind: 'delta', change: c });
      } else {
        const c = write(key, lsn, kind === 2 && rnd(16) === 0 ? 1_100_000 : kind === 2 ? 20_000 : 1 + rnd(300), i & 0xff);
        layer.put(key, c);
        model.add(key, lsn, { kind: 'delta', change: c });
      }
      lsn += 10n + BigInt(rnd(5));
      layer.advance(lsn);
    }
    expect(layer.entryCount).toBe(20_000);
    for (let q = 0; q < 3000; q++) {
      const key = keys[rnd(keys.length)]!;
      const to = 1000n + BigInt(rnd(Number(lsn - 1000n) + 10));
      const from = rnd(3) === 0 ? 1000n + BigInt(rnd(Number(to - 1000n) + 1)) : 0n;
      const out: PageValue[] = [];
      const done = layer.chain(key, from, to, out);
      const want = model.chain(key, from, to);
      expect(done).toBe(want.done);
      expect(encoded(out)).toEqual(want.values);
      // Whole-range reads of hot pages hold megabytes: a sample of them.
      if (q % 20 !== 0) continue;
      const read = layer.read(key, from, to);
      const list = model.pages.get(`${key.spaceId}:${key.pageNo}`)?.list ?? [];
      expect(encoded(read)).toEqual(list.filter((v) => v.lsn >= from && v.lsn < to).map((v) => v.bytes));
    }
    // The stream a flush writes: every value once, sorted by (key, LSN), bytes unchanged.
    const stream = [...layer.entriesInOrder()];
    expect(stream.length).toBe(20_000);
    for (let i = 1; i < stream.length; i++) {
      const c = compareKeys(stream[i - 1]!.key, stream[i]!.key);
      expect(c < 0 || (c === 0 && stream[i - 1]!.lsn < stream[i]!.lsn)).toBe(true);
    }
    const byKey = new Map<string, string[]>();
    for (const e of stream) {
      const k = `${e.key.spaceId}:${e.key.pageNo}`;
      let list = byKey.get(k);
      if (!list) byKey.set(k, (list = []));
      list.push(hex(e.value));
      // Each value decodes against its own key.
      decodePageValue(e.value, e.key);
    }
    for (const [k, p] of model.pages) expect(byKey.get(k)).toEqual(p.list.map((v) => v.bytes));
  });

  it('counts the chain since the last will_init value, and an image or INIT_PAGE resets it', () => {
    const layer = new InMemoryLayer(0n);
    const key = { spaceId: 1, pageNo: 5 };
    expect(layer.put(key, write(key, 10n, 8, 1))).toEqual({ values: 1, bytes: expect.any(Number) });
    const second = layer.put(key, write(key, 20n, 8, 2));
    expect(second.values).toBe(2);
    expect(layer.put(key, initPage(key, 30n)).values).toBe(0);
    expect(layer.put(key, write(key, 40n, 8, 3)).values).toBe(1);
    layer.putImage(key, 51n, new Uint8Array(PAGE), 50n);
    expect(layer.put(key, write(key, 60n, 8, 4))).toEqual({ values: 1, bytes: expect.any(Number) });
    // A read stops at the image.
    const out: PageValue[] = [];
    expect(layer.chain(key, 0n, 100n, out)).toBe(true);
    expect(out.map((v) => v.kind)).toEqual(['delta', 'image']);
  });

  it('refuses a value at or below the page\'s newest LSN (ingest order is our own invariant)', () => {
    const layer = new InMemoryLayer(0n);
    const key = { spaceId: 1, pageNo: 5 };
    layer.put(key, write(key, 10n, 8, 1));
    expect(() => layer.put(key, write(key, 10n, 8, 1))).toThrow(/out of order/);
  });

  it('keeps the heap free of per-value objects: a million values cost little more than their bytes', () => {
    const layer = new InMemoryLayer(0n);
    let lsn = 0n;
    for (let i = 0; i < 1_000_000; i++) {
      const key = { spaceId: 1, pageNo: i % 50_000 };
      layer.put(key, write(key, lsn, 16, i & 0xff));
      lsn += 10n;
    }
    // 16 data bytes + record and delta headers per value, plus the column slots; nothing per value beyond that.
    expect(layer.sizeBytes / layer.entryCount).toBeLessThan(100);
    const out: PageValue[] = [];
    layer.chain({ spaceId: 1, pageNo: 49_999 }, 0n, lsn, out);
    expect(out.length).toBe(20);
  });
});
