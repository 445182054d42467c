import { redo } from '@strata/core';

/** Whole, CRC-valid mtrs (one small page write each) adding up to about `bytes`, a function of `seed`. */
export function mtrs(bytes: number, seed: number): Uint8Array {
  const one = 11;
  const n = Math.max(1, Math.floor(bytes / one));
  const out = new Uint8Array(n * one);
  for (let i = 0; i < n; i++) {
    const at = i * one;
    const k = seed * 7919 + i;
    out.set([0x35, 1, 1 + (k % 5), 100 + (k % 20), k & 0xff, (k >> 8) & 0xff], at);
    out[at + 6] = 1;
    new DataView(out.buffer).setUint32(at + 7, redo.crc32c(out, at, at + 6));
  }
  return out;
}
