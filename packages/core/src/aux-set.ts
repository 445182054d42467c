/**
 * The wire form of an aux-file set: the datadir files the redo log does not
 * describe (.frm, db.opt, the Aria system tables) that a compute hands the
 * page server as of an LSN. Length-prefixed frames, so the bytes travel as
 * they are:
 *
 *   "SAX1" | u32 file count | per file: u16 path length, path (ASCII),
 *   u32 data length, data
 *
 * Paths are relative to the datadir and printable ASCII (MariaDB writes any
 * other character of a table name as `@XXXX` in its file names); anything
 * that could leave the datadir (absolute, `..`, empty segments) is refused by
 * the decoder, so a receiver can join them to its own directory.
 */
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { CorruptFrame } from './errors.js';

export interface AuxFile {
  readonly path: string;
  readonly data: Uint8Array;
}

const MAGIC = [0x53, 0x41, 0x58, 0x31]; // "SAX1"
const HEAD_BYTES = 8;
export const AUX_PATH_BYTES_MAX = 1024;
export const AUX_FILES_MAX = 100_000;

/** A datadir-relative path that stays inside the datadir. */
export function isSafeRelativePath(path: string): boolean {
  if (path.length === 0 || path.length > AUX_PATH_BYTES_MAX || path.startsWith('/') || path.includes('\\')) return false;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return path.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function asciiString(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

export function encodeAuxSet(files: readonly AuxFile[]): Uint8Array {
  const paths = files.map((f) => {
    if (!isSafeRelativePath(f.path)) throw new CorruptFrame(`aux file path ${JSON.stringify(f.path)} is not a printable ASCII path inside the datadir`);
    return asciiBytes(f.path);
  });
  const size = files.reduce((n, f, i) => n + 2 + paths[i]!.length + 4 + f.data.length, HEAD_BYTES);
  const out = new Uint8Array(size);
  out.set(MAGIC, 0);
  writeU32(out, 4, files.length);
  let o = HEAD_BYTES;
  files.forEach((f, i) => {
    const p = paths[i]!;
    writeU16(out, o, p.length);
    out.set(p, o + 2);
    o += 2 + p.length;
    writeU32(out, o, f.data.length);
    out.set(f.data, o + 4);
    o += 4 + f.data.length;
  });
  return out;
}

/** The files of an encoded set; their data are views into `bytes`. */
export function decodeAuxSet(bytes: Uint8Array): AuxFile[] {
  const fail = (reason: string): never => {
    throw new CorruptFrame(`aux set: ${reason}`);
  };
  if (bytes.length < HEAD_BYTES || MAGIC.some((b, i) => bytes[i] !== b)) fail('not an aux set (bad magic)');
  const count = readU32(bytes, 4);
  if (count > AUX_FILES_MAX) fail(`${count} files, more than ${AUX_FILES_MAX}`);
  const files: AuxFile[] = [];
  const seen = new Set<string>();
  let o = HEAD_BYTES;
  for (let i = 0; i < count; i++) {
    if (o + 2 > bytes.length) fail(`file ${i}: truncated path length`);
    const plen = readU16(bytes, o);
    if (plen === 0 || plen > AUX_PATH_BYTES_MAX) fail(`file ${i}: path of ${plen} bytes`);
    if (o + 2 + plen + 4 > bytes.length) fail(`file ${i}: truncated`);
    const path = asciiString(bytes.subarray(o + 2, o + 2 + plen));
    if (!isSafeRelativePath(path)) fail(`file ${i}: path ${JSON.stringify(path)} is not a printable ASCII path inside the datadir`);
    if (seen.has(path)) fail(`file ${i}: ${path} twice`);
    seen.add(path);
    o += 2 + plen;
    const dlen = readU32(bytes, o);
    o += 4;
    if (o + dlen > bytes.length) fail(`file ${path}: ${dlen} bytes of data, ${bytes.length - o} left`);
    files.push({ path, data: bytes.subarray(o, o + dlen) });
    o += dlen;
  }
  if (o !== bytes.length) fail(`${bytes.length - o} bytes after the last file`);
  return files;
}
