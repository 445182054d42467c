import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTarHeader, TAR_BLOCK, TAR_END_BYTES, type TarEntry, tarHeader, TarParser, tarPadding } from './tar.js';

function archive(files: { path: string; data: Uint8Array }[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const f of files) {
    parts.push(tarHeader({ path: f.path, size: f.data.length, type: 'file', mode: 0o640, mtimeSec: 1_700_000_000 }), f.data, new Uint8Array(tarPadding(f.data.length)));
  }
  parts.push(new Uint8Array(TAR_END_BYTES));
  return Buffer.concat(parts);
}

function unpack(bytes: Uint8Array, chunk: number): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let cur: Uint8Array = new Uint8Array(0);
  const p = new TarParser({
    entry: (e: TarEntry) => {
      cur = new Uint8Array(e.size);
    },
    data: (b, offset) => cur.set(b, offset),
    end: (e) => out.set(e.path, cur),
  });
  for (let i = 0; i < bytes.length; i += chunk) p.push(bytes.subarray(i, i + chunk));
  expect(p.finished).toBe(true);
  return out;
}

const longPath = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(80)}.ibd`;
const files = [
  { path: 'ibdata1', data: new Uint8Array(3 * 16384).fill(7) },
  { path: 'mysql/db.opt', data: new TextEncoder().encode('default-character-set=utf8mb4\n') },
  { path: 'empty.frm', data: new Uint8Array(0) },
  { path: longPath, data: new Uint8Array(1000).map((_, i) => i & 0xff) },
];

describe('ustar codec', () => {
  it('round-trips entries through the push parser whatever the chunking', () => {
    const bytes = archive(files);
    expect(bytes.length % TAR_BLOCK).toBe(0);
    for (const chunk of [1, 511, 512, 4096, bytes.length]) {
      const got = unpack(bytes, chunk);
      expect([...got.keys()]).toEqual(files.map((f) => f.path));
      for (const f of files) expect(Buffer.from(got.get(f.path)!).equals(Buffer.from(f.data))).toBe(true);
    }
  });

  it('writes archives that GNU tar reads, long names included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-tar-'));
    try {
      writeFileSync(join(dir, 'a.tar'), archive(files));
      const listing = execFileSync('tar', ['-tf', join(dir, 'a.tar')], { encoding: 'utf8' }).trim().split('\n');
      expect(listing).toEqual(files.map((f) => f.path));
      execFileSync('tar', ['-xf', join(dir, 'a.tar'), '-C', dir]);
      expect(readFileSync(join(dir, longPath)).equals(Buffer.from(files[3]!.data))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('encodes sizes past 8 GiB in base-256', () => {
    const size = 20 * 2 ** 30 + 5;
    const h = tarHeader({ path: 'big.ibd', size, type: 'file', mode: 0o640, mtimeSec: 0 });
    expect(h[124]).toBe(0x80);
    expect(parseTarHeader(h)?.size).toBe(size);
  });

  it('rejects a corrupted header and unsafe paths', () => {
    const h = tarHeader({ path: 'x', size: 1, type: 'file', mode: 0o640, mtimeSec: 0 });
    h[0] = 'y'.charCodeAt(0);
    expect(() => parseTarHeader(h)).toThrow(/checksum/);
    expect(() => tarHeader({ path: '../etc/passwd', size: 1, type: 'file', mode: 0o640, mtimeSec: 0 })).toThrow();
  });
});
