import { describe, expect, it } from 'vitest';
import { decodeAuxSet, encodeAuxSet, isSafeRelativePath } from './aux-set.js';
import { CorruptFrame } from './errors.js';

const files = [
  { path: 'test/t.frm', data: new Uint8Array([1, 2, 3]) },
  { path: 'mysql/global_priv.MAD', data: new Uint8Array(70_000).fill(7) },
  { path: 'db.opt', data: new Uint8Array(0) },
  { path: 'd@0000es/t@0000.frm', data: new Uint8Array([9]) },
];

describe('aux-set frames', () => {
  it('round-trips paths and bytes exactly', () => {
    const back = decodeAuxSet(encodeAuxSet(files));
    expect(back.map((f) => [f.path, Buffer.from(f.data).toString('hex')])).toEqual(files.map((f) => [f.path, Buffer.from(f.data).toString('hex')]));
    expect(decodeAuxSet(encodeAuxSet([]))).toEqual([]);
  });

  it('paths that could leave the datadir are refused both ways', () => {
    for (const p of ['/etc/passwd', '../x.frm', 'a/../../b', 'a//b', './a', 'a/.', '', 'a\0b', 'a\\..\\b', 'données/t.frm', 'a\nb']) {
      expect(isSafeRelativePath(p), p).toBe(false);
      expect(() => encodeAuxSet([{ path: p, data: new Uint8Array(1) }]), p).toThrow(CorruptFrame);
    }
    // A hand-made frame with a traversal path: the decoder refuses it too.
    const ok = encodeAuxSet([{ path: 'aa/b.frm', data: new Uint8Array([1]) }]);
    const evil = ok.slice();
    evil.set(new TextEncoder().encode('../b.frm'), 10);
    expect(() => decodeAuxSet(evil)).toThrow(/inside the datadir/);
  });

  it('truncation, trailing bytes, bad magic and duplicates are CorruptFrame, never a crash', () => {
    const bytes = encodeAuxSet(files);
    for (let cut = 0; cut < bytes.length; cut += 997) expect(() => decodeAuxSet(bytes.subarray(0, cut))).toThrow(CorruptFrame);
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(() => decodeAuxSet(longer)).toThrow(/after the last file/);
    const bad = bytes.slice();
    bad[0] = 0;
    expect(() => decodeAuxSet(bad)).toThrow(/magic/);
    const dup = encodeAuxSet([files[0]!, { path: 'test/u.frm', data: new Uint8Array(1) }]);
    dup.set(new TextEncoder().encode('test/t.frm'), 8 + 2 + 10 + 4 + 3 + 2);
    expect(() => decodeAuxSet(dup)).toThrow(/twice/);
  });
});
