/**
 * A small ustar codec: enough for basebackups (regular files and
 * directories), streamed in both directions. Sizes past ustar's 8 GiB octal
 * field use the base-256 form GNU tar and libarchive read, since
 * tablespaces grow larger than that. Names past 100 bytes go in the prefix
 * field.
 */
import { assert, CorruptFrame } from '@strata/core';

export const TAR_BLOCK = 512;
const OCTAL_SIZE_MAX = 0o77777777777; // 11 octal digits
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface TarEntry {
  readonly path: string;
  readonly size: number;
  readonly type: 'file' | 'dir';
  readonly mode: number;
  readonly mtimeSec: number;
}

function writeString(block: Uint8Array, offset: number, length: number, s: string): void {
  const b = encoder.encode(s);
  assert(b.length <= length, `tar field of ${length} bytes cannot hold "${s}"`);
  block.set(b, offset);
}

function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  // length - 1 digits and a NUL terminator.
  writeString(block, offset, length, value.toString(8).padStart(length - 1, '0'));
}

function splitName(path: string): { name: string; prefix: string } {
  const bytes = encoder.encode(path).length;
  if (bytes <= 100) return { name: path, prefix: '' };
  // Split at a '/' so that prefix ≤ 155 bytes and name ≤ 100 bytes.
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== '/') continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (encoder.encode(prefix).length <= 155 && encoder.encode(name).length <= 100 && name.length > 0) return { name, prefix };
  }
  throw new RangeError(`path too long for ustar: ${path}`);
}

/** The 512-byte header of one entry. */
export function tarHeader(e: TarEntry): Uint8Array {
  assert(Number.isSafeInteger(e.size) && e.size >= 0, `tar entry size ${e.size}`);
  assert(!e.path.startsWith('/') && !e.path.split('/').includes('..'), `tar path ${e.path} must be relative`);
  const h = new Uint8Array(TAR_BLOCK);
  const { name, prefix } = splitName(e.type === 'dir' && !e.path.endsWith('/') ? `${e.path}/` : e.path);
  writeString(h, 0, 100, name);
  writeOctal(h, 100, 8, e.mode & 0o7777);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  const size = e.type === 'dir' ? 0 : e.size;
  if (size <= OCTAL_SIZE_MAX) {
    writeOctal(h, 124, 12, size);
  } else {
    // Base-256: the high bit of the first byte set, the value big-endian in the rest.
    h[124] = 0x80;
    let v = BigInt(size);
    for (let i = 135; i > 124; i--) {
      h[i] = Number(v & 0xffn);
      v >>= 8n;
    }
  }
  writeOctal(h, 136, 12, e.mtimeSec);
  h[156] = e.type === 'dir' ? 0x35 : 0x30;
  writeString(h, 257, 6, 'ustar');
  writeString(h, 263, 2, '00');
  writeString(h, 345, 155, prefix);
  // The checksum is computed with its own field as spaces.
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

/** Zero bytes that pad an entry of `size` bytes to the block size. */
export function tarPadding(size: number): number {
  return (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;
}

/** The end-of-archive marker: two zero blocks. */
export const TAR_END_BYTES = 2 * TAR_BLOCK;

function readString(block: Uint8Array, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return decoder.decode(nul >= 0 ? field.subarray(0, nul) : field);
}

function readNumber(block: Uint8Array, offset: number, length: number): number {
  if ((block[offset]! & 0x80) !== 0) {
    let v = BigInt(block[offset]! & 0x7f);
    for (let i = offset + 1; i < offset + length; i++) v = (v << 8n) | BigInt(block[i]!);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CorruptFrame('tar number beyond 2^53');
    return Number(v);
  }
  const s = readString(block, offset, length).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new CorruptFrame(`tar header field "${s}" is not octal`);
  return parseInt(s, 8);
}

/** Parses one header block; undefined for an all-zero block (the end marker). */
export function parseTarHeader(h: Uint8Array): TarEntry | undefined {
  assert(h.length === TAR_BLOCK, 'tar header block size');
  if (h.every((b) => b === 0)) return undefined;
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  if (readNumber(h, 148, 8) !== sum) throw new CorruptFrame('tar header checksum mismatch');
  const name = readString(h, 0, 100);
  const prefix = readString(h, 345, 155);
  let path = prefix ? `${prefix}/${name}` : name;
  const typeflag = h[156]!;
  const type = typeflag === 0x35 ? 'dir' : typeflag === 0x30 || typeflag === 0 ? 'file' : undefined;
  if (!type) throw new CorruptFrame(`tar entry ${path}: unsupported type ${String.fromCharCode(typeflag)}`);
  if (type === 'dir') path = path.replace(/\/+$/, '');
  if (path === '' || path.startsWith('/') || path.split('/').includes('..')) throw new CorruptFrame(`tar entry path "${path}" is not a safe relative path`);
  return { path, size: type === 'dir' ? 0 : readNumber(h, 124, 12), type, mode: readNumber(h, 100, 8), mtimeSec: readNumber(h, 136, 12) };
}

export interface TarSink {
  /** A new entry starts; its data follows in `data` calls. */
  entry(e: TarEntry): void;
  /** `bytes` of the current entry at `offset` within it. */
  data(bytes: Uint8Array, offset: number): void;
  /** The current entry is complete. */
  end(e: TarEntry): void;
}

/** A push parser: feed chunks of any size, get entries and their data in order. */
export class TarParser {
  private header = new Uint8Array(TAR_BLOCK);
  private headerFill = 0;
  private current: TarEntry | undefined;
  private remaining = 0;
  private offset = 0;
  private padding = 0;
  private ended = false;

  constructor(private readonly sink: TarSink) {}

  get finished(): boolean {
    return this.ended;
  }

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.ended) return; // bytes after the end marker are padding
      if (this.current) {
        const n = Math.min(this.remaining, chunk.length - i);
        if (n > 0) this.sink.data(chunk.subarray(i, i + n), this.offset);
        i += n;
        this.offset += n;
        this.remaining -= n;
        if (this.remaining === 0) {
          this.sink.end(this.current);
          this.current = undefined;
        }
        continue;
      }
      if (this.padding > 0) {
        const n = Math.min(this.padding, chunk.length - i);
        i += n;
        this.padding -= n;
        continue;
      }
      const n = Math.min(TAR_BLOCK - this.headerFill, chunk.length - i);
      this.header.set(chunk.subarray(i, i + n), this.headerFill);
      this.headerFill += n;
      i += n;
      if (this.headerFill < TAR_BLOCK) continue;
      this.headerFill = 0;
      const e = parseTarHeader(this.header);
      if (!e) {
        this.ended = true;
        continue;
      }
      this.sink.entry(e);
      this.offset = 0;
      this.remaining = e.size;
      this.padding = tarPadding(e.size);
      if (e.size === 0) this.sink.end(e);
      else this.current = e;
    }
  }
}
