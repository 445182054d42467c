/**
 * InnoDB's redo varint (mtr0log.h): a prefix code with an offset bias, so
 * every value has exactly one encoding. At most 5 bytes, value ≤ 0xFFFFFFFF.
 */
const MIN_2BYTE = 0x80;
const MIN_3BYTE = MIN_2BYTE + (1 << 14);
const MIN_4BYTE = MIN_3BYTE + (1 << 21);
const MIN_5BYTE = MIN_4BYTE + (1 << 28);

/** Bytes taken by the varint whose first byte is `b`, or 0 if `b` cannot start one. */
export function varintLength(b: number): number {
  if (b < 0x80) return 1;
  if (b < 0xc0) return 2;
  if (b < 0xe0) return 3;
  if (b < 0xf0) return 4;
  if (b === 0xf0) return 5;
  return 0;
}

/**
 * Decode the varint at `buf[pos]`, reading no byte at or past `end`.
 * Returns -1 when it is malformed or truncated (callers turn that into a
 * typed error that names the LSN).
 */
export function readVarint(buf: Uint8Array, pos: number, end: number = buf.length): number {
  if (pos >= end) return -1;
  const b = buf[pos]!;
  const len = varintLength(b);
  if (len === 0 || pos + len > end) return -1;
  switch (len) {
    case 1:
      return b;
    case 2:
      return (((b & 0x3f) << 8) | buf[pos + 1]!) + MIN_2BYTE;
    case 3:
      return (((b & 0x1f) << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!) + MIN_3BYTE;
    case 4:
      return ((b & 0x0f) * 0x1000000 + ((buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!)) + MIN_4BYTE;
    default: {
      const v =
        buf[pos + 1]! * 0x1000000 + ((buf[pos + 2]! << 16) | (buf[pos + 3]! << 8) | buf[pos + 4]!) + MIN_5BYTE;
      return v > 0xffffffff ? -1 : v;
    }
  }
}

/** Encode `v` (0..0xFFFFFFFF) into `out[pos]`; returns the position after it. */
export function writeVarint(out: Uint8Array, pos: number, v: number): number {
  if (v < MIN_2BYTE) {
    out[pos] = v;
    return pos + 1;
  }
  if (v < MIN_3BYTE) {
    const x = v - MIN_2BYTE;
    out[pos] = 0x80 | (x >>> 8);
    out[pos + 1] = x & 0xff;
    return pos + 2;
  }
  if (v < MIN_4BYTE) {
    const x = v - MIN_3BYTE;
    out[pos] = 0xc0 | (x >>> 16);
    out[pos + 1] = (x >>> 8) & 0xff;
    out[pos + 2] = x & 0xff;
    return pos + 3;
  }
  if (v < MIN_5BYTE) {
    const x = v - MIN_4BYTE;
    out[pos] = 0xe0 | Math.floor(x / 0x1000000);
    out[pos + 1] = (x >>> 16) & 0xff;
    out[pos + 2] = (x >>> 8) & 0xff;
    out[pos + 3] = x & 0xff;
    return pos + 4;
  }
  const x = v - MIN_5BYTE;
  out[pos] = 0xf0;
  out[pos + 1] = Math.floor(x / 0x1000000) & 0xff;
  out[pos + 2] = (x >>> 16) & 0xff;
  out[pos + 3] = (x >>> 8) & 0xff;
  out[pos + 4] = x & 0xff;
  return pos + 5;
}

export function varintSize(v: number): number {
  if (v < MIN_2BYTE) return 1;
  if (v < MIN_3BYTE) return 2;
  if (v < MIN_4BYTE) return 3;
  if (v < MIN_5BYTE) return 4;
  return 5;
}
