import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptFrame } from '@strata/core';
import { encodeLayer, encodePageValue, type IndexHit, KEY_MAX, KEY_MIN, type LayerDesc, type LayerEntry, LayerIndex, parseLayerHeader, type PageKey } from '@strata/core/layers';
import { INDEX_BLOCK_ENTRIES, indexCacheStats, LayerReader, setIndexCacheBytes } from './layer-reader.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-layer-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DESC: LayerDesc = { kind: 'delta', keyStart: KEY_MIN, keyEnd: KEY_MAX, lsnStart: 1000n, lsnEnd: 1_000_000n };

/** A delta value; `init` makes it start with INIT_PAGE (a will_init value). */
function delta(key: PageKey, lsn: bigint, init: boolean): Uint8Array {
  const rec = init ? { type: 'INIT_PAGE' as const, ...key } : { type: 'WRITE' as const, ...key, offset: 100, data: new Uint8Array([Number(lsn & 0xffn)]) };
  return encodePageValue({ kind: 'delta', change: { startLsn: lsn, endLsn: lsn + 5n, records: [rec] } });
}

/** Keys of three spaces; space 2 page 7 is hot (thousands of entries over many index blocks, an INIT every 700). */
function entries(): LayerEntry[] {
  const out: LayerEntry[] = [];
  for (const spaceId of [1, 2, 9]) {
    for (let pageNo = 0; pageNo < 40; pageNo++) {
      const key = { spaceId, pageNo };
      const n = spaceId === 2 && pageNo === 7 ? 5000 : 1 + ((pageNo * 7) % 5);
      for (let i = 0; i < n; i++) {
        const lsn = 1000n + BigInt(i) * 10n;
        out.push({ key, lsn, value: delta(key, lsn, i % 700 === 0 && i > 0) });
      }
    }
  }
  return out;
}

function writeLayer(name: string): { path: string; bytes: Uint8Array } {
  const bytes = encodeLayer(DESC, entries());
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return { path, bytes };
}

/** The same walk over the whole index in memory (core's LayerIndex): what the on-disk reader must agree with. */
function inMemoryChain(bytes: Uint8Array, key: PageKey, from: bigint, to: bigint): { hits: IndexHit[]; stopped: boolean } {
  const h = parseLayerHeader(bytes);
  const idx = new LayerIndex(bytes.subarray(h.indexOffset, h.indexOffset + h.indexLength), h);
  const hits: IndexHit[] = [];
  return { stopped: idx.chain(key, from, to, hits), hits };
}

describe('LayerReader (index on disk)', () => {
  it('walks a key\'s chain across index blocks exactly as the in-memory index does', () => {
    const { path, bytes } = writeLayer('a.delta');
    const r = LayerReader.open(path);
    expect(r.entryCount).toBeGreaterThan(10 * INDEX_BLOCK_ENTRIES);
    const probes: Array<[PageKey, bigint, bigint]> = [
      [{ spaceId: 2, pageNo: 7 }, 0n, 1_000_000n],
      [{ spaceId: 2, pageNo: 7 }, 0n, 1000n + 3500n * 10n],
      [{ spaceId: 2, pageNo: 7 }, 1000n + 3000n * 10n, 1000n + 3300n * 10n],
      [{ spaceId: 2, pageNo: 7 }, 0n, 1000n + 650n * 10n],
      [{ spaceId: 1, pageNo: 0 }, 0n, 1_000_000n],
      [{ spaceId: 9, pageNo: 39 }, 0n, 1_000_000n],
      [{ spaceId: 2, pageNo: 8 }, 0n, 1005n],
      [{ spaceId: 3, pageNo: 0 }, 0n, 1_000_000n],
      [{ spaceId: 2, pageNo: 40 }, 0n, 1_000_000n],
    ];
    for (const [key, from, to] of probes) {
      const hits: IndexHit[] = [];
      const stopped = r.chain(key, from, to, hits);
      expect({ stopped, hits }, `${key.spaceId}:${key.pageNo} [${from}, ${to})`).toEqual(inMemoryChain(bytes, key, from, to));
    }
    // The hot page's newest INIT bounds the walk.
    const hits: IndexHit[] = [];
    expect(r.chain({ spaceId: 2, pageNo: 7 }, 0n, 1_000_000n, hits)).toBe(true);
    expect(hits.length).toBe(5000 - 4900);
    expect(r.mayHold({ spaceId: 3, pageNo: 0 })).toBe(false);
    expect(r.mayHold({ spaceId: 9, pageNo: 39 })).toBe(true);
    r.close();
  });

  it('opens the same with async reads (what reads and compaction use) and refuses the same damage', async () => {
    const { path, bytes } = writeLayer('e.delta');
    const r = await LayerReader.openAsync(path);
    for (const key of [{ spaceId: 2, pageNo: 7 }, { spaceId: 9, pageNo: 3 }]) {
      const hits: IndexHit[] = [];
      const stopped = r.chain(key, 0n, 1_000_000n, hits);
      expect({ stopped, hits }).toEqual(inMemoryChain(bytes, key, 0n, 1_000_000n));
    }
    r.close();
    const bad = new Uint8Array(bytes);
    bad[bad.length - 3]! ^= 0xff;
    writeFileSync(path, bad);
    await expect(LayerReader.openAsync(path)).rejects.toThrow(CorruptFrame);
  });

  it('streams every entry with its value in file order', () => {
    const { path } = writeLayer('b.delta');
    const r = LayerReader.open(path);
    const want = entries();
    let i = 0;
    for (const e of r.entries(4096)) {
      const w = want[i++]!;
      expect(e.key).toEqual(w.key);
      expect(e.lsn).toBe(w.lsn);
      expect(Buffer.compare(e.value, w.value)).toBe(0);
    }
    expect(i).toBe(want.length);
    r.close();
  });

  it('refuses a damaged index at open', () => {
    const { path, bytes } = writeLayer('c.delta');
    const h = parseLayerHeader(bytes);
    const bad = new Uint8Array(bytes);
    bad[h.indexOffset + 40]! ^= 0xff;
    writeFileSync(path, bad);
    expect(() => LayerReader.open(path)).toThrow(CorruptFrame);
    writeFileSync(path, readFileSync(path).subarray(0, bytes.length - 7));
    expect(() => LayerReader.open(path)).toThrow(CorruptFrame);
  });

  it('keeps index blocks within the cache budget', () => {
    setIndexCacheBytes(4 * INDEX_BLOCK_ENTRIES * 32);
    try {
      const { path } = writeLayer('d.delta');
      const r = LayerReader.open(path);
      for (let p = 0; p < 40; p++) r.chain({ spaceId: 9, pageNo: p }, 0n, 1_000_000n, []);
      r.chain({ spaceId: 2, pageNo: 7 }, 0n, 1_000_000n, []);
      r.chain({ spaceId: 1, pageNo: 0 }, 0n, 1_000_000n, []);
      expect(indexCacheStats().bytes).toBeLessThanOrEqual(4 * INDEX_BLOCK_ENTRIES * 32);
      r.close();
    } finally {
      setIndexCacheBytes(64 << 20);
    }
  });
});
