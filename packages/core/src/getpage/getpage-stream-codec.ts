/**
 * The pipelined GetPage stream (binary, big-endian). A client opens it with
 * `GET /v1/tenants/T/timelines/TL/getpage/stream` and
 * `Connection: Upgrade`, `Upgrade: strata-getpage/1`; the page server
 * answers `101 Switching Protocols` with `x-strata-page-size`, and from then
 * on the TCP connection carries frames both ways, each prefixed by its
 * length, so a client keeps many batches in flight without a request line
 * and headers per batch (neon's compute talks to its page server over one
 * long-lived libpq CopyBoth stream the same way).
 *
 * Request frame:  u32 length of the rest, u32 tag, u32 waitMs, N × 16 bytes (as the HTTP body).
 * Reply frame:    u32 length of the rest, u32 tag, u32 N, N items (as the HTTP reply body).
 * Error frame:    u32 length of the rest, u32 tag, u32 0xffffffff, JSON {code, message} in ASCII
 *                 (other characters escaped as \uXXXX, so it is UTF-8 too).
 *
 * Replies come in request order; the tag (the client's choice) is echoed so
 * a client can check the pairing.
 */
import { assert } from '../assert.js';
import { readU32 } from '../bytes.js';
import { CorruptFrame } from '../errors.js';
import { decodeGetPageResponse, encodeGetPageRequests, GETPAGE_REQUEST_BYTES, type GetPageItem, type GetPageRequest } from './getpage-codec.js';

export const GETPAGE_STREAM_PROTOCOL = 'strata-getpage/1';
export const FRAME_LENGTH_BYTES = 4;
/** Length, tag, waitMs (request) or count (reply). */
export const FRAME_HEAD_BYTES = 12;
export const ERROR_FRAME_COUNT = 0xffff_ffff;
const U32_MAX = 0xffff_ffff;

export function encodeRequestFrame(tag: number, waitMs: number, reqs: readonly GetPageRequest[]): Uint8Array {
  assert(reqs.length > 0, 'an empty GetPage batch');
  assert(Number.isInteger(tag) && tag >= 0 && tag <= U32_MAX, `tag ${tag}`);
  assert(Number.isInteger(waitMs) && waitMs >= 0 && waitMs <= U32_MAX, `waitMs ${waitMs}`);
  const body = encodeGetPageRequests(reqs);
  const out = new Uint8Array(FRAME_HEAD_BYTES + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, out.length - FRAME_LENGTH_BYTES);
  v.setUint32(4, tag);
  v.setUint32(8, waitMs);
  out.set(body, FRAME_HEAD_BYTES);
  return out;
}

export interface RequestFrame {
  readonly tag: number;
  readonly waitMs: number;
  /** N × 16 bytes of requests, a view into the received bytes. */
  readonly requests: Uint8Array;
}

/** A whole request frame (length prefix included) → its parts; refuses empty, ragged and oversized batches. */
export function decodeRequestFrame(frame: Uint8Array, batchMax: number): RequestFrame {
  if (frame.length < FRAME_HEAD_BYTES) throw new CorruptFrame(`GetPage stream frame of ${frame.length} bytes is shorter than its head`);
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  assert(v.getUint32(0) === frame.length - FRAME_LENGTH_BYTES, 'frame length prefix');
  const requests = frame.subarray(FRAME_HEAD_BYTES);
  if (requests.length === 0) throw new CorruptFrame('GetPage stream frame without requests');
  if (requests.length % GETPAGE_REQUEST_BYTES !== 0) throw new CorruptFrame(`GetPage stream frame with ${requests.length} request bytes, not a multiple of ${GETPAGE_REQUEST_BYTES}`);
  if (requests.length / GETPAGE_REQUEST_BYTES > batchMax) throw new CorruptFrame(`GetPage batch of ${requests.length / GETPAGE_REQUEST_BYTES} pages exceeds ${batchMax}`);
  return { tag: v.getUint32(4), waitMs: v.getUint32(8), requests };
}

/** Fill in the head of a reply whose items were written from FRAME_HEAD_BYTES on (GetPageService.serve's headBytes). */
export function writeReplyFrameHead(frame: Uint8Array, tag: number, count: number): void {
  writeReplyFrameHeadOfLength(frame, frame.length, tag, count);
}

/** The head of a reply frame `length` bytes long in all, written at the start of `head` (the rest of the frame is elsewhere). */
export function writeReplyFrameHeadOfLength(head: Uint8Array, length: number, tag: number, count: number): void {
  assert(head.length >= FRAME_HEAD_BYTES && length >= FRAME_HEAD_BYTES, 'reply frame shorter than its head');
  assert(length - FRAME_LENGTH_BYTES <= U32_MAX, `reply frame of ${length} bytes`);
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  v.setUint32(0, length - FRAME_LENGTH_BYTES);
  v.setUint32(4, tag);
  v.setUint32(8, count);
}

export function encodeErrorFrame(tag: number, code: string, message: string): Uint8Array {
  const json = asciiBytes(JSON.stringify({ code, message }).replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`));
  const out = new Uint8Array(FRAME_HEAD_BYTES + json.length);
  writeReplyFrameHead(out, tag, ERROR_FRAME_COUNT);
  out.set(json, FRAME_HEAD_BYTES);
  return out;
}

export type ReplyFrame =
  | { readonly kind: 'pages'; readonly tag: number; readonly items: GetPageItem[] }
  | { readonly kind: 'error'; readonly tag: number; readonly code: string; readonly message: string };

/** A whole reply frame → its items (pages are views into `frame`, not copies) or its error. */
export function decodeReplyFrame(frame: Uint8Array, pageSize: number): ReplyFrame {
  if (frame.length < FRAME_HEAD_BYTES) throw new CorruptFrame(`GetPage reply frame of ${frame.length} bytes is shorter than its head`);
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (v.getUint32(0) !== frame.length - FRAME_LENGTH_BYTES) throw new CorruptFrame('GetPage reply frame length prefix does not match');
  const tag = v.getUint32(4);
  const count = v.getUint32(8);
  const body = frame.subarray(FRAME_HEAD_BYTES);
  if (count === ERROR_FRAME_COUNT) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(asciiString(body));
    } catch {
      throw new CorruptFrame('GetPage error frame is not JSON');
    }
    const p = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
    return { kind: 'error', tag, code: typeof p['code'] === 'string' ? p['code'] : 'UNKNOWN', message: typeof p['message'] === 'string' ? p['message'] : '' };
  }
  return { kind: 'pages', tag, items: decodeGetPageResponse(body, count, pageSize) };
}

/**
 * Cuts a byte stream into whole frames (length prefix included). A frame
 * inside one chunk is a view of it; only one split across chunks is copied.
 */
export class FrameSplitter {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Bytes the unfinished frame needs in all (its length prefix alone while that is incomplete). */
  private needBytes = 0;

  constructor(private readonly frameBytesMax: number) {}

  /** Feed a chunk; calls `onFrame` for every frame it completes, in order. */
  push(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    let buf = chunk;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      // A large reply arrives in many chunks: join them once, when the frame is whole, not on every chunk.
      if (this.pendingBytes < this.needBytes) return;
      buf = concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let o = 0;
    while (buf.length - o >= FRAME_LENGTH_BYTES) {
      const len = readU32(buf, o);
      if (len + FRAME_LENGTH_BYTES > this.frameBytesMax) throw new CorruptFrame(`GetPage stream frame of ${len} bytes exceeds ${this.frameBytesMax}`);
      const end = o + FRAME_LENGTH_BYTES + len;
      if (end > buf.length) break;
      onFrame(buf.subarray(o, end));
      o = end;
    }
    if (o < buf.length) {
      const rest = buf.subarray(o);
      this.pending = [rest];
      this.pendingBytes = rest.length;
      this.needBytes = rest.length >= FRAME_LENGTH_BYTES ? FRAME_LENGTH_BYTES + readU32(rest, 0) : FRAME_LENGTH_BYTES;
    }
  }

  /** Bytes of an unfinished frame held. */
  get buffered(): number {
    return this.pendingBytes;
  }
}

function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function asciiString(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) {
    if (b[i]! > 0x7e) throw new CorruptFrame('GetPage error frame is not ASCII JSON');
    s += String.fromCharCode(b[i]!);
  }
  return s;
}

function concat(parts: readonly Uint8Array[], bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  assert(o === bytes, 'joined frame size');
  return out;
}
