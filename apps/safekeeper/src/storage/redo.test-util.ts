/** Shared by storage tests: a redo stream of framed mtrs (records, end byte, CRC-32C). Not part of the service. */
import { redo } from '@strata/core';

export interface RedoStream {
  readonly bytes: Uint8Array;
  /** Offsets into `bytes` where each mtr starts, and the end. */
  readonly boundaries: readonly number[];
}

/**
 * `count` mtrs of 1 to 8 WRITE records of 15 payload bytes each, sizes and contents varying with `seed`.
 */
export function redoStream(count: number, seed = 1): RedoStream {
  const mtrs: Uint8Array[] = [];
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  for (let i = 0; i < count; i++) {
    const records = 1 + (next() % 8);
    const m = new Uint8Array(records * 16 + 5);
    for (let r = 0; r < records; r++) {
      // A WRITE the page server can parse: space id, page number, offset (8..127), 12 data bytes.
      m[r * 16] = 0x3f;
      m[r * 16 + 1] = 1 + (next() % 0x7f);
      m[r * 16 + 2] = next() & 0x7f;
      m[r * 16 + 3] = 8 + (next() % 0x78);
      for (let j = 4; j < 16; j++) m[r * 16 + j] = next() & 0xff;
    }
    const body = records * 16;
    m[body] = 1;
    const c = redo.crc32c(m, 0, body);
    m[body + 1] = c >>> 24;
    m[body + 2] = (c >>> 16) & 0xff;
    m[body + 3] = (c >>> 8) & 0xff;
    m[body + 4] = c & 0xff;
    mtrs.push(m);
  }
  const boundaries = [0];
  for (const m of mtrs) boundaries.push(boundaries[boundaries.length - 1]! + m.length);
  const bytes = new Uint8Array(boundaries[boundaries.length - 1]!);
  mtrs.forEach((m, i) => bytes.set(m, boundaries[i]!));
  return { bytes, boundaries };
}
