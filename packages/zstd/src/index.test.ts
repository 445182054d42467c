import { describe, expect, it } from 'vitest';
import { acceptsZstd, zstdCompress, zstdDecompress, ZstdError } from './index.js';

function redoLike(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = i % 64 < 48 ? i & 0xff : x >>> 24;
  }
  return out;
}

describe('zstd', () => {
  it('round-trips and compresses redundant data', () => {
    const data = redoLike(1 << 20);
    const z = zstdCompress(data);
    expect(z.length).toBeLessThan(data.length / 2);
    expect(Buffer.compare(zstdDecompress(z, data.length), data)).toBe(0);
  });

  it('round-trips empty input and concatenated frames', () => {
    const a = redoLike(1000, 2);
    const b = redoLike(3000, 3);
    const both = Buffer.concat([zstdCompress(a), zstdCompress(new Uint8Array(0)), zstdCompress(b)]);
    expect(Buffer.compare(zstdDecompress(both, 4000), Buffer.concat([a, b]))).toBe(0);
    expect(zstdDecompress(zstdCompress(new Uint8Array(0)), 0).length).toBe(0);
  });

  it('refuses garbage, truncation, corruption and oversize output with ZstdError', () => {
    const data = redoLike(100_000);
    const z = zstdCompress(data);
    expect(() => zstdDecompress(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), 1 << 20)).toThrow(ZstdError);
    expect(() => zstdDecompress(new Uint8Array(0), 1 << 20)).toThrow(ZstdError);
    expect(() => zstdDecompress(z.subarray(0, z.length - 10), 1 << 20)).toThrow(ZstdError);
    const bad = Uint8Array.from(z);
    bad[Math.floor(bad.length / 2)]! ^= 0xff;
    expect(() => zstdDecompress(bad, 1 << 20)).toThrow(ZstdError);
    expect(() => zstdDecompress(z, data.length - 1)).toThrow(/limit/);
    // The context is usable after every failure.
    expect(Buffer.compare(zstdDecompress(z, data.length), data)).toBe(0);
  });

  it('parses Accept-Encoding', () => {
    expect(acceptsZstd('zstd')).toBe(true);
    expect(acceptsZstd('gzip, zstd;q=0.5')).toBe(true);
    expect(acceptsZstd('gzip, zstd;q=0')).toBe(false);
    expect(acceptsZstd('gzip, br')).toBe(false);
    expect(acceptsZstd(undefined)).toBe(false);
  });
});

describe('zstd frames without a declared size', () => {
  it('decompress by streaming, within the limit', async () => {
    const { Compressor } = await import('zstd-napi');
    const c = new Compressor();
    c.setParameters({ contentSizeFlag: false, compressionLevel: 1 });
    const data = redoLike(3 << 20, 5);
    const z = c.compress(data);
    expect(Buffer.compare(zstdDecompress(z, data.length), data)).toBe(0);
    expect(() => zstdDecompress(z, data.length - 1)).toThrow(/limit/);
    expect(() => zstdDecompress(z.subarray(0, z.length - 100), data.length)).toThrow(ZstdError);
  });
});
