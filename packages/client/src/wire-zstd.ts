/**
 * zstd on the safekeeper wire, client side. A service compresses a reply
 * only when asked (`accept-encoding: zstd`) and accepts `content-encoding:
 * zstd` request bodies; both sides must ask, so the default stays plain.
 *
 * Node 20's fetch does not decode zstd, but newer runtimes' fetch does (and
 * keep the content-encoding header): the decoders below tell by the bytes
 * whether a body still needs decoding, so the clients work on both.
 */
import { ZSTD_CODING, zstdCompress, zstdDecompress } from '@strata/zstd';

/** zstd frame magic, little-endian 0xFD2FB528. */
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd] as const;

function startsWithZstdMagic(b: Uint8Array): boolean {
  return ZSTD_MAGIC.every((v, i) => b[i] === v);
}

function isZstdEncoded(res: Response): boolean {
  return (res.headers.get('content-encoding') ?? '').trim().toLowerCase() === ZSTD_CODING;
}

/** Asks for a zstd reply. */
export const ACCEPT_ZSTD: Readonly<Record<string, string>> = { 'accept-encoding': ZSTD_CODING };

/** A request body and the headers that describe it. */
export function encodeBody(body: Uint8Array, zstd: boolean): { body: Uint8Array; headers: Record<string, string> } {
  if (!zstd) return { body, headers: {} };
  return { body: zstdCompress(body), headers: { 'content-encoding': ZSTD_CODING } };
}

/**
 * A consensus reply body as frames. A frame starts with its u32 big-endian
 * length, and no frame is 0x28B52FFD (~680 MB) long, so a body that starts
 * with the zstd magic is compressed and one that does not is already plain.
 */
export async function consensusReplyBytes(res: Response, maxBytes: number): Promise<Uint8Array> {
  const raw = new Uint8Array(await res.arrayBuffer());
  return isZstdEncoded(res) && startsWithZstdMagic(raw) ? zstdDecompress(raw, maxBytes) : raw;
}

/**
 * A WAL read body (`GET .../wal`): `expectedBytes` is the uncompressed length
 * the x-strata-begin/end-lsn headers promise, which tells whether the body
 * still needs decoding.
 */
export async function walReplyBytes(res: Response, expectedBytes: number): Promise<Uint8Array> {
  const raw = new Uint8Array(await res.arrayBuffer());
  if (!isZstdEncoded(res) || (raw.length === expectedBytes && !startsWithZstdMagic(raw))) return raw;
  return zstdDecompress(raw, expectedBytes);
}
