/**
 * zstd for Strata: WAL on the wire and in remote storage, layer files later.
 *
 * One compression and one decompression context per process, created on
 * first use and reused: creating a context allocates several MiB and costs
 * more than compressing a small batch (stack notes: reuse contexts). The
 * native calls are synchronous, so two callers can never interleave on one
 * context.
 *
 * Decompression never trusts the input: every frame is bounded by
 * `maxBytes` before memory is allocated for it, and anything zstd rejects
 * (bad magic, corrupt block, checksum mismatch, truncated frame) becomes a
 * `ZstdError`, so a route can answer 400 and store nothing.
 */
import binding from 'zstd-napi/binding.js';
import { StrataError } from '@strata/core';

/** Level 1: ~300 MB/s on redo-like 8 KiB buffers here; higher levels cost more than the bytes they save on loopback. */
export const DEFAULT_ZSTD_LEVEL = 1;

/** The HTTP content coding name (RFC 8878). */
export const ZSTD_CODING = 'zstd';

export class ZstdError extends StrataError {
  readonly code = 'BAD_ZSTD' as const;
  constructor(reason: string) {
    super(`invalid zstd data: ${reason}`);
    this.name = 'ZstdError';
  }
}

let cctx: InstanceType<typeof binding.CCtx> | undefined;
let cctxLevel = -1;
let dctx: InstanceType<typeof binding.DCtx> | undefined;

/** Output chunk of streaming decompression (frames that do not declare their size). */
const STREAM_CHUNK_BYTES = 1 << 20;

/** One zstd frame with its content size and an xxhash checksum, so a corrupt object is detected on read. */
export function zstdCompress(data: Uint8Array, level = DEFAULT_ZSTD_LEVEL): Uint8Array {
  if (!cctx) cctx = new binding.CCtx();
  if (cctxLevel !== level) {
    cctx.reset(binding.ResetDirective.sessionAndParameters);
    cctx.setParameter(binding.CParameter.compressionLevel, level);
    cctx.setParameter(binding.CParameter.checksumFlag, 1);
    cctx.setParameter(binding.CParameter.contentSizeFlag, 1);
    cctxLevel = level;
  }
  const out = Buffer.allocUnsafe(binding.compressBound(data.length));
  const n = cctx.compress2(out, data);
  return plain(out, n);
}

/**
 * Decompresses one or more concatenated frames whose total output is at
 * most `maxBytes`; anything else throws ZstdError.
 */
export function zstdDecompress(data: Uint8Array, maxBytes: number): Uint8Array {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`maxBytes ${maxBytes} must be a non-negative integer`);
  if (data.length === 0) throw new ZstdError('empty input');
  if (!dctx) dctx = new binding.DCtx();
  const declared = declaredSize(data);
  if (declared !== null && declared > maxBytes) throw new ZstdError(`declares ${declared} bytes, more than the limit ${maxBytes}`);
  try {
    if (declared !== null) {
      const out = Buffer.allocUnsafe(declared);
      const n = dctx.decompress(out, data);
      if (n !== declared) throw new ZstdError(`produced ${n} bytes, the frames declare ${declared}`);
      return plain(out, n);
    }
    return streamDecompress(dctx, data, maxBytes);
  } catch (e) {
    // A failed call may leave the context mid-frame: start the next one clean.
    dctx.reset(binding.ResetDirective.sessionOnly);
    if (e instanceof ZstdError) throw e;
    throw new ZstdError(e instanceof Error ? e.message : String(e));
  }
}

/** Sum of the frames' declared content sizes, or null when one does not declare it. */
function declaredSize(data: Uint8Array): number | null {
  let total = 0;
  let rest = data;
  // Each pass consumes one whole frame (at least its header), so this ends.
  while (rest.length > 0) {
    let size: number | null;
    let frameBytes: number;
    try {
      size = binding.getFrameContentSize(rest);
      frameBytes = binding.findFrameCompressedSize(rest);
    } catch (e) {
      throw new ZstdError(e instanceof Error ? e.message : String(e));
    }
    if (size === null) return null;
    if (frameBytes <= 0 || frameBytes > rest.length) throw new ZstdError('truncated frame');
    total += size;
    rest = rest.subarray(frameBytes);
  }
  return total;
}

function streamDecompress(ctx: InstanceType<typeof binding.DCtx>, data: Uint8Array, maxBytes: number): Uint8Array {
  ctx.reset(binding.ResetDirective.sessionOnly);
  const chunks: Uint8Array[] = [];
  let total = 0;
  let input = data;
  // Every pass consumes input or produces output (else: truncated), bounded by maxBytes and the input length.
  for (;;) {
    const chunk = Buffer.allocUnsafe(Math.min(STREAM_CHUNK_BYTES, maxBytes - total + 1));
    const [hint, produced, consumed] = ctx.decompressStream(chunk, input);
    total += produced;
    if (total > maxBytes) throw new ZstdError(`decompresses to more than the limit ${maxBytes}`);
    chunks.push(chunk.subarray(0, produced));
    input = input.subarray(consumed);
    if (input.length === 0 && hint === 0) break;
    if (produced === 0 && consumed === 0) throw new ZstdError('truncated frame');
  }
  const out = Buffer.concat(chunks, total);
  return plain(out, out.length);
}

/** A plain Uint8Array view (Buffer's slice/equals semantics differ, and callers should not depend on them). */
function plain(b: Buffer, length: number): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, length);
}

/** Whether an `Accept-Encoding` header value accepts zstd (q=0 means it does not). */
export function acceptsZstd(header: string | undefined | null): boolean {
  if (!header) return false;
  for (const part of header.split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding?.trim() !== ZSTD_CODING) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}
