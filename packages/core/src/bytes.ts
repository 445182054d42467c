/** Big-endian accessors over a Uint8Array: InnoDB stores every integer big-endian. */
export function readU16(b: Uint8Array, off: number): number {
  return ((b[off]! << 8) | b[off + 1]!) >>> 0;
}
export function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}
export function readU64(b: Uint8Array, off: number): bigint {
  return (BigInt(readU32(b, off)) << 32n) | BigInt(readU32(b, off + 4));
}
export function writeU16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}
export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}
export function writeU64(b: Uint8Array, off: number, v: bigint): void {
  writeU32(b, off, Number((v >> 32n) & 0xffffffffn));
  writeU32(b, off + 4, Number(v & 0xffffffffn));
}
