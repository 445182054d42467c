/**
 * The WAL stream (binary, big-endian): how a safekeeper pushes WAL to a page
 * server (committed WAL, as it commits) or to a peer (peer recovery: stored
 * WAL up to a bound), as neon's `send_wal.rs` does over a replication
 * connection. The reader opens it with one GET; the reply body is a sequence
 * of frames, each prefixed by its length, for as long as the connection lives:
 *
 *   u32 length of the rest, u8 kind, then by kind:
 *   HELLO     u8 version, u64 startLsn, u64 commitLsn, u64 flushLsn,
 *             u64 endLsn (NO_END_LSN: a live stream), u32 N, N × (u64 term, u64 lsn)
 *   WAL       u64 startLsn, u64 commitLsn, the bytes [startLsn, startLsn + n)
 *   KEEPALIVE u64 commitLsn, u64 flushLsn (nothing new to send)
 *   END       u64 endLsn (a bounded stream is complete)
 *   ERROR     JSON {code, message} in ASCII (other characters escaped as \uXXXX)
 *
 * `WalStreamDecoder` cuts a byte stream into frames and checks that they are
 * a stream the sender could have sent (hello first, WAL contiguous from the
 * start asked for, commit LSNs never going back, a live stream sending only
 * committed bytes, a bounded one stopping at its end). The bytes come from
 * the network: every violation is a CorruptFrame, never an assertion.
 */
import { assert } from '../assert.js';
import { readU32, readU64, writeU32, writeU64 } from '../bytes.js';
import type { TermHistory, TermLsn } from '../consensus/types.js';
import { CorruptFrame } from '../errors.js';

export const WAL_STREAM_VERSION = 1;
export const WAL_STREAM_CONTENT_TYPE = 'application/x-strata-wal-stream';
/** In HELLO: the stream has no end (it follows the commit LSN). */
export const NO_END_LSN = 0xffff_ffff_ffff_ffffn;
const LENGTH_BYTES = 4;
const HEAD_BYTES = LENGTH_BYTES + 1;
const HELLO_FIXED_BYTES = 1 + 8 * 4 + 4;
const WAL_FIXED_BYTES = 16;
/** Default bound on one frame a reader accepts (a sender's WAL chunk plus its head must fit). */
export const WAL_STREAM_FRAME_BYTES_MAX = 4 * 1024 * 1024 + 64;

const KIND = { hello: 1, wal: 2, keepalive: 3, end: 4, error: 5 } as const;

export interface WalStreamHello {
  readonly kind: 'hello';
  readonly startLsn: bigint;
  readonly commitLsn: bigint;
  readonly flushLsn: bigint;
  /** null: a live stream. */
  readonly endLsn: bigint | null;
  readonly termHistory: TermHistory;
}

export type WalStreamFrame =
  | WalStreamHello
  | { readonly kind: 'wal'; readonly startLsn: bigint; readonly commitLsn: bigint; readonly bytes: Uint8Array }
  | { readonly kind: 'keepalive'; readonly commitLsn: bigint; readonly flushLsn: bigint }
  | { readonly kind: 'end'; readonly endLsn: bigint }
  | { readonly kind: 'error'; readonly code: string; readonly message: string };

function frame(kind: number, bodyBytes: number): { out: Uint8Array; at: number } {
  const out = new Uint8Array(HEAD_BYTES + bodyBytes);
  writeU32(out, 0, out.length - LENGTH_BYTES);
  out[LENGTH_BYTES] = kind;
  return { out, at: HEAD_BYTES };
}

const u64 = (v: bigint, what: string) => assert(v >= 0n && v <= NO_END_LSN, `${what} ${v} is not a u64`);

export function encodeHello(h: Omit<WalStreamHello, 'kind'>): Uint8Array {
  for (const [v, what] of [[h.startLsn, 'startLsn'], [h.commitLsn, 'commitLsn'], [h.flushLsn, 'flushLsn']] as const) u64(v, what);
  assert(h.endLsn === null || (h.endLsn >= h.startLsn && h.endLsn < NO_END_LSN), `endLsn ${h.endLsn}`);
  const { out, at } = frame(KIND.hello, HELLO_FIXED_BYTES + 16 * h.termHistory.length);
  out[at] = WAL_STREAM_VERSION;
  writeU64(out, at + 1, h.startLsn);
  writeU64(out, at + 9, h.commitLsn);
  writeU64(out, at + 17, h.flushLsn);
  writeU64(out, at + 25, h.endLsn ?? NO_END_LSN);
  writeU32(out, at + 33, h.termHistory.length);
  let o = at + HELLO_FIXED_BYTES;
  for (const e of h.termHistory) {
    writeU64(out, o, e.term);
    writeU64(out, o + 8, e.lsn);
    o += 16;
  }
  return out;
}

/** A WAL frame around `bytes` (copied once, into the frame). */
export function encodeWal(startLsn: bigint, commitLsn: bigint, bytes: Uint8Array): Uint8Array {
  assert(bytes.length > 0, 'an empty WAL frame');
  u64(startLsn + BigInt(bytes.length), 'WAL end');
  u64(commitLsn, 'commitLsn');
  const { out, at } = frame(KIND.wal, WAL_FIXED_BYTES + bytes.length);
  writeU64(out, at, startLsn);
  writeU64(out, at + 8, commitLsn);
  out.set(bytes, at + WAL_FIXED_BYTES);
  return out;
}

export function encodeKeepalive(commitLsn: bigint, flushLsn: bigint): Uint8Array {
  u64(commitLsn, 'commitLsn');
  u64(flushLsn, 'flushLsn');
  const { out, at } = frame(KIND.keepalive, 16);
  writeU64(out, at, commitLsn);
  writeU64(out, at + 8, flushLsn);
  return out;
}

export function encodeEnd(endLsn: bigint): Uint8Array {
  u64(endLsn, 'endLsn');
  const { out, at } = frame(KIND.end, 8);
  writeU64(out, at, endLsn);
  return out;
}

export function encodeError(code: string, message: string): Uint8Array {
  const json = JSON.stringify({ code, message }).replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const { out, at } = frame(KIND.error, json.length);
  for (let i = 0; i < json.length; i++) out[at + i] = json.charCodeAt(i);
  return out;
}

/** One whole frame body (after the length prefix) → its fields; shape checks only. */
function decodeBody(body: Uint8Array): WalStreamFrame {
  if (body.length < 1) throw new CorruptFrame('WAL stream frame without a kind');
  const kind = body[0]!;
  const n = body.length - 1;
  switch (kind) {
    case KIND.hello: {
      if (n < HELLO_FIXED_BYTES) throw new CorruptFrame(`WAL stream HELLO of ${n} bytes`);
      if (body[1] !== WAL_STREAM_VERSION) throw new CorruptFrame(`WAL stream version ${body[1]}, expected ${WAL_STREAM_VERSION}`);
      const count = readU32(body, 34);
      if (n !== HELLO_FIXED_BYTES + 16 * count) throw new CorruptFrame(`WAL stream HELLO of ${n} bytes with ${count} history entries`);
      const termHistory: TermLsn[] = [];
      for (let i = 0, o = 1 + HELLO_FIXED_BYTES; i < count; i++, o += 16) {
        const e = { term: readU64(body, o), lsn: readU64(body, o + 8) };
        const prev = termHistory[termHistory.length - 1];
        if (prev && (e.term <= prev.term || e.lsn < prev.lsn)) throw new CorruptFrame('WAL stream HELLO with a term history that is not ascending');
        termHistory.push(e);
      }
      const endLsn = readU64(body, 26);
      return { kind: 'hello', startLsn: readU64(body, 2), commitLsn: readU64(body, 10), flushLsn: readU64(body, 18), endLsn: endLsn === NO_END_LSN ? null : endLsn, termHistory };
    }
    case KIND.wal:
      if (n <= WAL_FIXED_BYTES) throw new CorruptFrame(`WAL stream WAL frame of ${n} bytes`);
      return { kind: 'wal', startLsn: readU64(body, 1), commitLsn: readU64(body, 9), bytes: body.subarray(1 + WAL_FIXED_BYTES) };
    case KIND.keepalive:
      if (n !== 16) throw new CorruptFrame(`WAL stream KEEPALIVE of ${n} bytes`);
      return { kind: 'keepalive', commitLsn: readU64(body, 1), flushLsn: readU64(body, 9) };
    case KIND.end:
      if (n !== 8) throw new CorruptFrame(`WAL stream END of ${n} bytes`);
      return { kind: 'end', endLsn: readU64(body, 1) };
    case KIND.error: {
      let parsed: unknown;
      try {
        parsed = JSON.parse(String.fromCharCode(...body.subarray(1, Math.min(body.length, 1 + 16_384))));
      } catch {
        throw new CorruptFrame('WAL stream ERROR frame is not JSON');
      }
      const p = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
      return { kind: 'error', code: typeof p['code'] === 'string' ? p['code'] : 'UNKNOWN', message: typeof p['message'] === 'string' ? p['message'] : '' };
    }
    default:
      throw new CorruptFrame(`WAL stream frame of unknown kind ${kind}`);
  }
}

export interface WalStreamDecoderOptions {
  /** The LSN the stream was asked to start at: HELLO must say so, and the first WAL frame starts there. */
  readonly startLsn: bigint;
  readonly frameBytesMax?: number;
}

/**
 * Frames out of a byte stream, checked against the stream's rules. Pull:
 * `push` chunks as they arrive, take frames with `next` (so a reader that
 * must wait stops taking frames, and stops reading its socket).
 */
export class WalStreamDecoder {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** The head of `pending[0]` already consumed. */
  private offset = 0;
  private readonly frameBytesMax: number;
  private hello: WalStreamHello | undefined;
  private position: bigint;
  private commit = 0n;
  private finished = false;

  constructor(o: WalStreamDecoderOptions) {
    this.position = o.startLsn;
    this.frameBytesMax = o.frameBytesMax ?? WAL_STREAM_FRAME_BYTES_MAX;
    assert(this.frameBytesMax >= HEAD_BYTES + HELLO_FIXED_BYTES, `frameBytesMax ${this.frameBytesMax}`);
  }

  /** The LSN the next WAL byte must have: the end of what was received. */
  get nextLsn(): bigint {
    return this.position;
  }

  /** The highest commit LSN the sender announced (0 before HELLO). */
  get commitLsn(): bigint {
    return this.commit;
  }

  /** True once END or ERROR came: nothing may follow. */
  get done(): boolean {
    return this.finished;
  }

  /** Bytes received but not yet taken as frames. */
  get bufferedBytes(): number {
    return this.pendingBytes - this.offset;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
  }

  /** The next whole frame, or undefined until more bytes come. Throws CorruptFrame on anything a sender would not send. */
  next(): WalStreamFrame | undefined {
    if (this.bufferedBytes < LENGTH_BYTES) return undefined;
    const length = this.peekLength();
    if (length + LENGTH_BYTES > this.frameBytesMax) throw new CorruptFrame(`WAL stream frame of ${length} bytes exceeds ${this.frameBytesMax}`);
    if (this.bufferedBytes < LENGTH_BYTES + length) return undefined;
    if (this.finished) throw new CorruptFrame('WAL stream frame after END or ERROR');
    return this.check(decodeBody(this.take(LENGTH_BYTES + length).subarray(LENGTH_BYTES)));
  }

  private peekLength(): number {
    const first = this.pending[0]!;
    if (first.length - this.offset >= LENGTH_BYTES) return readU32(first, this.offset);
    const head = new Uint8Array(LENGTH_BYTES);
    let got = 0;
    for (let i = 0, o = this.offset; got < LENGTH_BYTES; i++, o = 0) {
      const c = this.pending[i]!;
      const n = Math.min(c.length - o, LENGTH_BYTES - got);
      head.set(c.subarray(o, o + n), got);
      got += n;
    }
    return readU32(head, 0);
  }

  /** `n` bytes off the front: a view when they lie in one chunk, else joined once. */
  private take(n: number): Uint8Array {
    const first = this.pending[0]!;
    if (first.length - this.offset >= n) {
      const out = first.subarray(this.offset, this.offset + n);
      this.offset += n;
      if (this.offset === first.length) this.dropFirst();
      return out;
    }
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const c = this.pending[0]!;
      const k = Math.min(c.length - this.offset, n - got);
      out.set(c.subarray(this.offset, this.offset + k), got);
      got += k;
      this.offset += k;
      if (this.offset === c.length) this.dropFirst();
    }
    return out;
  }

  private dropFirst(): void {
    this.pendingBytes -= this.pending.shift()!.length;
    this.offset = 0;
  }

  private check(f: WalStreamFrame): WalStreamFrame {
    if (!this.hello) {
      if (f.kind === 'error') {
        this.finished = true;
        return f;
      }
      if (f.kind !== 'hello') throw new CorruptFrame(`WAL stream begins with ${f.kind}, not HELLO`);
      if (f.startLsn !== this.position) throw new CorruptFrame(`WAL stream starts at ${f.startLsn}, asked for ${this.position}`);
      if (f.endLsn !== null && f.endLsn > f.flushLsn) throw new CorruptFrame(`WAL stream ends at ${f.endLsn}, beyond the sender's flush LSN ${f.flushLsn}`);
      if (f.commitLsn > f.flushLsn) throw new CorruptFrame(`WAL stream HELLO with commit ${f.commitLsn} beyond flush ${f.flushLsn}`);
      this.hello = f;
      this.commit = f.commitLsn;
      return f;
    }
    const end = this.hello.endLsn;
    switch (f.kind) {
      case 'hello':
        throw new CorruptFrame('a second WAL stream HELLO');
      case 'wal': {
        if (f.startLsn !== this.position) throw new CorruptFrame(`WAL frame at ${f.startLsn}, expected ${this.position}`);
        this.raiseCommit(f.commitLsn);
        const to = f.startLsn + BigInt(f.bytes.length);
        if (end === null && to > this.commit) throw new CorruptFrame(`WAL frame up to ${to} beyond the commit LSN ${this.commit} of a live stream`);
        if (end !== null && to > end) throw new CorruptFrame(`WAL frame up to ${to} beyond the stream's end ${end}`);
        this.position = to;
        return f;
      }
      case 'keepalive':
        if (f.commitLsn > f.flushLsn) throw new CorruptFrame(`KEEPALIVE with commit ${f.commitLsn} beyond flush ${f.flushLsn}`);
        this.raiseCommit(f.commitLsn);
        return f;
      case 'end':
        if (end === null) throw new CorruptFrame('END in a live WAL stream');
        if (f.endLsn !== this.position || f.endLsn !== end) throw new CorruptFrame(`END at ${f.endLsn}, but the stream is at ${this.position} of ${end}`);
        this.finished = true;
        return f;
      case 'error':
        this.finished = true;
        return f;
    }
  }

  private raiseCommit(lsn: bigint): void {
    if (lsn < this.commit) throw new CorruptFrame(`commit LSN going back from ${this.commit} to ${lsn}`);
    this.commit = lsn;
  }
}
