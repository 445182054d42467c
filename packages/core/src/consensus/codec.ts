/**
 * Binary wire format of the consensus messages.
 *
 * Frame: u32 length (of what follows), u8 tag, then the fields in declaration
 * order, big-endian. bigint (Lsn, Term) as u64, NodeId and Generation as u32,
 * booleans as u8 0/1, hex ids as u8 length + ASCII, byte strings as u32
 * length + bytes, term histories as u32 count + (u64 term, u64 lsn)*,
 * configurations as u32 generation, u16 count + u32 ids, u8 hasNew
 * [, u16 count + u32 ids].
 *
 * Decoding trusts nothing: every read is bounds-checked and anything that
 * is not exactly one well-formed message raises CorruptFrame. Every u64 on
 * the wire is a term or an LSN and must be below U64_VALUE_LIMIT (2^62),
 * every generation below GENERATION_LIMIT (2^31): values near the top of
 * their range would overflow the arithmetic of whoever reads them (types.ts).
 * Configurations are decoded as they come (at most 64 IDs a set): whether
 * one is usable is the acceptor's question (quorum.ts configurationError),
 * answered with a typed Reject rather than a closed connection.
 */
import { readU32, readU64, readU16, writeU16, writeU32, writeU64 } from '../bytes.js';
import { assert, AssertionError } from '../assert.js';
import { CorruptFrame } from '../errors.js';
import { REJECT_REASONS, type AppendRequest, type Message, type MessageType, type RejectReason } from './messages.js';
import { GENERATION_LIMIT, U64_VALUE_LIMIT, type Configuration, type TermHistory, type TermLsn } from './types.js';

/** Largest frame body accepted (tag + fields): 16 MiB of WAL plus headers. */
export const FRAME_BYTES_MAX = 16 * 1024 * 1024 + 4096;
export const FRAME_HEADER_BYTES = 4;
const ID_CHARS_MAX = 64;
const MEMBERS_MAX = 64;
const HISTORY_ENTRIES_MAX = 1_000_000;
const U64_MAX = (1n << 64n) - 1n;

const TAGS: Readonly<Record<MessageType, number>> = {
  Greeting: 1,
  VoteRequest: 2,
  ProposerElected: 3,
  AppendRequest: 4,
  ReadWalRequest: 5,
  MembershipSwitchRequest: 6,
  TermBumpRequest: 7,
  GreetingResponse: 65,
  VoteResponse: 66,
  AppendResponse: 67,
  ReadWalResponse: 68,
  MembershipSwitchResponse: 69,
  TermBumpResponse: 70,
  Reject: 71,
};
const TYPE_BY_TAG = new Map<number, MessageType>(
  (Object.entries(TAGS) as [MessageType, number][]).map(([t, n]) => [n, t]),
);

class Writer {
  private buf = new Uint8Array(256);
  private len = FRAME_HEADER_BYTES;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  u8(v: number): void {
    assert(Number.isInteger(v) && v >= 0 && v <= 0xff, `u8 out of range: ${v}`);
    this.reserve(1);
    this.buf[this.len++] = v;
  }
  u16(v: number): void {
    assert(Number.isInteger(v) && v >= 0 && v <= 0xffff, `u16 out of range: ${v}`);
    this.reserve(2);
    writeU16(this.buf, this.len, v);
    this.len += 2;
  }
  u32(v: number): void {
    assert(Number.isInteger(v) && v >= 0 && v <= 0xffffffff, `u32 out of range: ${v}`);
    this.reserve(4);
    writeU32(this.buf, this.len, v);
    this.len += 4;
  }
  u64(v: bigint): void {
    assert(v >= 0n && v <= U64_MAX, `u64 out of range: ${v}`);
    this.reserve(8);
    writeU64(this.buf, this.len, v);
    this.len += 8;
  }
  bool(v: boolean): void {
    this.u8(v ? 1 : 0);
  }
  hexId(s: string): void {
    assert(s.length <= ID_CHARS_MAX && /^[0-9a-f]*$/.test(s), `bad hex id: ${s}`);
    this.u8(s.length);
    this.reserve(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.len++] = s.charCodeAt(i);
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  history(h: TermHistory): void {
    this.u32(h.length);
    for (const e of h) {
      this.u64(e.term);
      this.u64(e.lsn);
    }
  }
  ids(ids: readonly number[]): void {
    assert(ids.length <= MEMBERS_MAX, `too many members: ${ids.length}`);
    this.u16(ids.length);
    for (const id of ids) this.u32(id);
  }
  conf(c: Configuration): void {
    this.u32(c.generation);
    this.ids(c.members);
    this.bool(c.newMembers !== undefined);
    if (c.newMembers !== undefined) this.ids(c.newMembers);
  }
  /** The frame so far, its length prefix counting `tailBytes` more that the caller sends right after it. */
  finish(tailBytes = 0): Uint8Array {
    const bodyLen = this.len - FRAME_HEADER_BYTES + tailBytes;
    assert(bodyLen <= FRAME_BYTES_MAX, `frame too large: ${bodyLen}`);
    writeU32(this.buf, 0, bodyLen);
    return this.buf.slice(0, this.len);
  }
}

class Reader {
  private off: number;
  constructor(
    private readonly buf: Uint8Array,
    start: number,
    private readonly end: number,
    /** false: byte fields are views into `buf` (its owner never writes to it again). */
    private readonly copyBytes = true,
  ) {
    this.off = start;
  }
  private need(n: number, what: string): void {
    if (this.off + n > this.end) throw new CorruptFrame(`truncated reading ${what} at offset ${this.off}`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.off++]!;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = readU16(this.buf, this.off);
    this.off += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = readU32(this.buf, this.off);
    this.off += 4;
    return v;
  }
  /** A term or an LSN: every u64 of this codec is one, and each is below U64_VALUE_LIMIT. */
  u64(what: string): bigint {
    this.need(8, what);
    const v = readU64(this.buf, this.off);
    if (v >= U64_VALUE_LIMIT) throw new CorruptFrame(`${what} ${v} is not below 2^62`);
    this.off += 8;
    return v;
  }
  generation(what: string): number {
    const v = this.u32(what);
    if (v >= GENERATION_LIMIT) throw new CorruptFrame(`${what} ${v} is not below 2^31`);
    return v;
  }
  bool(what: string): boolean {
    const v = this.u8(what);
    if (v > 1) throw new CorruptFrame(`${what}: boolean byte ${v}`);
    return v === 1;
  }
  hexId(what: string): string {
    const n = this.u8(what);
    if (n > ID_CHARS_MAX) throw new CorruptFrame(`${what}: id of ${n} characters`);
    this.need(n, what);
    let s = '';
    for (let i = 0; i < n; i++) {
      const c = this.buf[this.off++]!;
      const isHex = (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66);
      if (!isHex) throw new CorruptFrame(`${what}: non-hex byte ${c}`);
      s += String.fromCharCode(c);
    }
    return s;
  }
  bytes(what: string): Uint8Array {
    const n = this.u32(what);
    this.need(n, what);
    const b = this.copyBytes ? this.buf.slice(this.off, this.off + n) : this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return b;
  }
  history(what: string): TermHistory {
    const n = this.u32(what);
    if (n > HISTORY_ENTRIES_MAX) throw new CorruptFrame(`${what}: ${n} entries`);
    this.need(n * 16, what);
    const out: TermLsn[] = [];
    for (let i = 0; i < n; i++) {
      const term = this.u64(what);
      const lsn = this.u64(what);
      const prev = out[out.length - 1];
      if (prev !== undefined && (term <= prev.term || lsn < prev.lsn)) {
        throw new CorruptFrame(`${what}: entries not ascending at ${i}`);
      }
      out.push({ term, lsn });
    }
    return out;
  }
  ids(what: string): number[] {
    const n = this.u16(what);
    if (n > MEMBERS_MAX) throw new CorruptFrame(`${what}: ${n} members`);
    // Duplicates, zeros and empty sets decode: the acceptor refuses them with a typed Reject.
    this.need(n * 4, what);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(this.u32(what));
    return out;
  }
  conf(what: string): Configuration {
    const generation = this.generation(`${what}.generation`);
    const members = this.ids(`${what}.members`);
    const hasNew = this.bool(`${what}.hasNew`);
    if (!hasNew) return { generation, members };
    return { generation, members, newMembers: this.ids(`${what}.newMembers`) };
  }
  done(): void {
    if (this.off !== this.end) throw new CorruptFrame(`${this.end - this.off} trailing bytes`);
  }
}

/** Encode one message as a complete frame (length prefix included). */
export function encodeMessage(m: Message): Uint8Array {
  const w = new Writer();
  w.u8(TAGS[m.type]);
  w.hexId(m.tenantId);
  w.hexId(m.timelineId);
  w.u32(m.generation);
  switch (m.type) {
    case 'Greeting':
      w.u32(m.proposerId);
      w.bool(m.conf !== null);
      if (m.conf !== null) w.conf(m.conf);
      break;
    case 'GreetingResponse':
      w.u32(m.nodeId);
      w.conf(m.conf);
      w.u64(m.term);
      break;
    case 'VoteRequest':
    case 'TermBumpRequest':
      w.u64(m.term);
      break;
    case 'VoteResponse':
      w.u32(m.nodeId);
      w.u64(m.term);
      w.bool(m.voteGiven);
      w.u64(m.flushLsn);
      w.history(m.termHistory);
      w.u64(m.commitLsn);
      break;
    case 'ProposerElected':
      w.u64(m.term);
      w.u64(m.startStreamingAt);
      w.history(m.termHistory);
      break;
    case 'AppendRequest':
      assert(m.endLsn - m.beginLsn === BigInt(m.data.length), 'AppendRequest data length != endLsn - beginLsn');
      w.u64(m.term);
      w.u64(m.beginLsn);
      w.u64(m.endLsn);
      w.u64(m.commitLsn);
      w.bytes(m.data);
      break;
    case 'AppendResponse':
      w.u32(m.nodeId);
      w.u64(m.term);
      w.u64(m.flushLsn);
      w.u64(m.commitLsn);
      break;
    case 'ReadWalRequest':
      w.u64(m.term);
      w.u64(m.beginLsn);
      w.u64(m.endLsn);
      break;
    case 'ReadWalResponse':
      w.u32(m.nodeId);
      w.u64(m.term);
      w.u64(m.beginLsn);
      w.u64(m.endLsn);
      w.bool(m.ok);
      w.bytes(m.data);
      break;
    case 'MembershipSwitchRequest':
      w.conf(m.conf);
      break;
    case 'MembershipSwitchResponse':
      w.u32(m.nodeId);
      w.conf(m.conf);
      w.u64(m.term);
      w.u64(m.lastLogTerm);
      w.u64(m.flushLsn);
      w.u64(m.commitLsn);
      break;
    case 'TermBumpResponse':
      w.u32(m.nodeId);
      w.u64(m.term);
      break;
    case 'Reject':
      w.u32(m.nodeId);
      w.u64(m.term);
      w.u8(REJECT_REASONS.indexOf(m.reason));
      w.u64(m.lsn);
      break;
  }
  return w.finish();
}

/**
 * An AppendRequest's frame as two parts: everything up to and including the
 * data's length field, and the data itself. Sent back to back (one writev)
 * they are exactly `encodeMessage(m)`, without copying the WAL into a frame.
 */
export function encodeAppendRequestParts(m: AppendRequest): [head: Uint8Array, data: Uint8Array] {
  assert(m.endLsn - m.beginLsn === BigInt(m.data.length), 'AppendRequest data length != endLsn - beginLsn');
  const w = new Writer();
  w.u8(TAGS[m.type]);
  w.hexId(m.tenantId);
  w.hexId(m.timelineId);
  w.u32(m.generation);
  w.u64(m.term);
  w.u64(m.beginLsn);
  w.u64(m.endLsn);
  w.u64(m.commitLsn);
  w.u32(m.data.length);
  return [w.finish(m.data.length), m.data];
}

/**
 * Length of the complete frame starting at `offset`, or null when fewer than
 * 4 bytes are available. Raises CorruptFrame for an empty or oversized
 * length, so a stream reader never buffers a garbage length's worth of bytes.
 */
export function frameLength(buf: Uint8Array, offset = 0): number | null {
  if (buf.length - offset < FRAME_HEADER_BYTES) return null;
  const bodyLen = readU32(buf, offset);
  if (bodyLen === 0) throw new CorruptFrame('empty frame');
  if (bodyLen > FRAME_BYTES_MAX) throw new CorruptFrame(`frame of ${bodyLen} bytes exceeds ${FRAME_BYTES_MAX}`);
  return FRAME_HEADER_BYTES + bodyLen;
}

/**
 * Decode the next frame of a byte stream: the message and the offset after
 * it, or null if the frame is not complete yet.
 */
export function readFrame(buf: Uint8Array, offset = 0): { message: Message; next: number } | null {
  const total = frameLength(buf, offset);
  if (total === null || buf.length - offset < total) return null;
  return { message: decodeBody(buf, offset + FRAME_HEADER_BYTES, offset + total), next: offset + total };
}

/** Decode a buffer that must hold exactly one frame. */
export function decodeMessage(frame: Uint8Array): Message {
  const total = frameLength(frame, 0);
  if (total === null) throw new CorruptFrame(`truncated length prefix (${frame.length} bytes)`);
  if (frame.length < total) throw new CorruptFrame(`truncated frame: ${frame.length} of ${total} bytes`);
  if (frame.length > total) throw new CorruptFrame(`${frame.length - total} bytes after the frame`);
  return decodeBody(frame, FRAME_HEADER_BYTES, total);
}

function decodeBody(buf: Uint8Array, start: number, end: number, copyBytes = true): Message {
  const r = new Reader(buf, start, end, copyBytes);
  const tag = r.u8('tag');
  const type = TYPE_BY_TAG.get(tag);
  if (type === undefined) throw new CorruptFrame(`unknown message tag ${tag}`);
  const tenantId = r.hexId('tenantId');
  const timelineId = r.hexId('timelineId');
  const generation = r.generation('generation');
  const h = { tenantId, timelineId, generation };
  let m: Message;
  switch (type) {
    case 'Greeting': {
      const proposerId = r.u32('proposerId');
      const conf = r.bool('hasConf') ? r.conf('conf') : null;
      m = { type, ...h, proposerId, conf };
      break;
    }
    case 'GreetingResponse':
      m = { type, ...h, nodeId: r.u32('nodeId'), conf: r.conf('conf'), term: r.u64('term') };
      break;
    case 'VoteRequest':
    case 'TermBumpRequest':
      m = { type, ...h, term: r.u64('term') };
      break;
    case 'VoteResponse':
      m = {
        type,
        ...h,
        nodeId: r.u32('nodeId'),
        term: r.u64('term'),
        voteGiven: r.bool('voteGiven'),
        flushLsn: r.u64('flushLsn'),
        termHistory: r.history('termHistory'),
        commitLsn: r.u64('commitLsn'),
      };
      break;
    case 'ProposerElected':
      m = {
        type,
        ...h,
        term: r.u64('term'),
        startStreamingAt: r.u64('startStreamingAt'),
        termHistory: r.history('termHistory'),
      };
      break;
    case 'AppendRequest': {
      const term = r.u64('term');
      const beginLsn = r.u64('beginLsn');
      const endLsn = r.u64('endLsn');
      const commitLsn = r.u64('commitLsn');
      const data = r.bytes('data');
      if (endLsn < beginLsn || endLsn - beginLsn !== BigInt(data.length)) {
        throw new CorruptFrame(`AppendRequest [${beginLsn}, ${endLsn}) carries ${data.length} bytes`);
      }
      m = { type, ...h, term, beginLsn, endLsn, commitLsn, data };
      break;
    }
    case 'AppendResponse':
      m = {
        type,
        ...h,
        nodeId: r.u32('nodeId'),
        term: r.u64('term'),
        flushLsn: r.u64('flushLsn'),
        commitLsn: r.u64('commitLsn'),
      };
      break;
    case 'ReadWalRequest': {
      const term = r.u64('term');
      const beginLsn = r.u64('beginLsn');
      const endLsn = r.u64('endLsn');
      if (endLsn < beginLsn) throw new CorruptFrame(`ReadWalRequest [${beginLsn}, ${endLsn}) is reversed`);
      m = { type, ...h, term, beginLsn, endLsn };
      break;
    }
    case 'ReadWalResponse': {
      const nodeId = r.u32('nodeId');
      const term = r.u64('term');
      const beginLsn = r.u64('beginLsn');
      const endLsn = r.u64('endLsn');
      const ok = r.bool('ok');
      const data = r.bytes('data');
      const wantLen = ok ? endLsn - beginLsn : 0n;
      if (endLsn < beginLsn || BigInt(data.length) !== wantLen) {
        throw new CorruptFrame(`ReadWalResponse [${beginLsn}, ${endLsn}) ok=${ok} carries ${data.length} bytes`);
      }
      m = { type, ...h, nodeId, term, beginLsn, endLsn, ok, data };
      break;
    }
    case 'MembershipSwitchRequest':
      m = { type, ...h, conf: r.conf('conf') };
      break;
    case 'MembershipSwitchResponse':
      m = {
        type,
        ...h,
        nodeId: r.u32('nodeId'),
        conf: r.conf('conf'),
        term: r.u64('term'),
        lastLogTerm: r.u64('lastLogTerm'),
        flushLsn: r.u64('flushLsn'),
        commitLsn: r.u64('commitLsn'),
      };
      break;
    case 'TermBumpResponse':
      m = { type, ...h, nodeId: r.u32('nodeId'), term: r.u64('term') };
      break;
    case 'Reject': {
      const nodeId = r.u32('nodeId');
      const term = r.u64('term');
      const code = r.u8('reason');
      const reason: RejectReason | undefined = REJECT_REASONS[code];
      if (reason === undefined) throw new CorruptFrame(`unknown reject reason ${code}`);
      m = { type, ...h, nodeId, term, reason, lsn: r.u64('lsn') };
      break;
    }
  }
  r.done();
  return m;
}

/** Decode a body of whole frames, back to back (one HTTP exchange); a partial tail is corrupt. */
export function decodeFrames(buf: Uint8Array): Message[] {
  const out: Message[] = [];
  let off = 0;
  while (off < buf.length) {
    const f = readFrame(buf, off);
    if (f === null) throw new CorruptFrame(`truncated frame at byte ${off} of ${buf.length}`);
    out.push(f.message);
    off = f.next;
  }
  return out;
}

/** Concatenate encoded frames into one body. */
export function encodeFrames(messages: readonly Message[]): Uint8Array {
  const frames = messages.map(encodeMessage);
  const body = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let off = 0;
  for (const f of frames) {
    body.set(f, off);
    off += f.length;
  }
  return body;
}

/** The HTTP `Upgrade` token of the proposer ↔ safekeeper stream: frames of this codec both ways. */
export const CONSENSUS_STREAM_PROTOCOL = 'strata-consensus/1';

/**
 * Tag of a frame that wraps one compressed frame: u8 tag, u32 length of the
 * frame once decompressed (its own length prefix included), the compressed
 * bytes. The shells bring the compressor (zstd): core stays pure.
 */
export const COMPRESSED_FRAME_TAG = 0x7f;
const COMPRESSED_HEAD_BYTES = FRAME_HEADER_BYTES + 1 + 4;

/** Decompress exactly `rawBytes` or throw. */
export type Decompress = (compressed: Uint8Array, rawBytes: number) => Uint8Array;

/** `frame` (a complete one) wrapped compressed, or `frame` itself when compressing does not make it smaller. */
export function encodeCompressedFrame(frame: Uint8Array, compress: (raw: Uint8Array) => Uint8Array): Uint8Array {
  assert(frameLength(frame, 0) === frame.length, 'encodeCompressedFrame takes one complete frame');
  assert(frame[FRAME_HEADER_BYTES] !== COMPRESSED_FRAME_TAG, 'a compressed frame is not compressed again');
  const packed = compress(frame);
  if (COMPRESSED_HEAD_BYTES + packed.length >= frame.length) return frame;
  const out = new Uint8Array(COMPRESSED_HEAD_BYTES + packed.length);
  writeU32(out, 0, out.length - FRAME_HEADER_BYTES);
  out[FRAME_HEADER_BYTES] = COMPRESSED_FRAME_TAG;
  writeU32(out, FRAME_HEADER_BYTES + 1, frame.length);
  out.set(packed, COMPRESSED_HEAD_BYTES);
  return out;
}

/**
 * Cuts a byte stream (one connection, in order) into messages. Every chunk
 * is hostile: a length prefix is checked as soon as its 4 bytes are in (so a
 * garbage length never makes the reader wait for, or buffer, more than one
 * frame of at most `frameBytesMax`), and each frame must decode to exactly
 * one message; anything else raises CorruptFrame, after which the stream is
 * unusable (the caller closes the connection). Bytes of an unfinished frame
 * are held as the chunks they came in and joined once, when it is whole.
 * The WAL of the messages it yields is a view into the chunks it was given
 * (no copy): a caller must not write into a chunk after pushing it.
 * A compressed frame (COMPRESSED_FRAME_TAG) is taken only with a
 * `decompress`, must announce a size within the bound, and must decompress
 * to exactly one frame of that size.
 */
export class FrameReader {
  private parts: Uint8Array[] = [];
  private partsBytes = 0;
  /** Bytes the unfinished frame needs in all (0 while its length prefix is incomplete). */
  private needBytes = 0;
  private failed = false;

  constructor(
    private readonly frameBytesMax: number = FRAME_BYTES_MAX,
    private readonly decompress?: Decompress,
  ) {
    assert(Number.isInteger(frameBytesMax) && frameBytesMax > 0 && frameBytesMax <= FRAME_BYTES_MAX, `frameBytesMax ${frameBytesMax}`);
  }

  /** Bytes of an unfinished frame held. */
  get buffered(): number {
    return this.partsBytes;
  }

  /** Feed one chunk; `onMessage` gets every message it completes, in order, with its frame's size. */
  push(chunk: Uint8Array, onMessage: (m: Message, frameBytes: number) => void): void {
    if (this.failed) throw new CorruptFrame('stream already failed');
    try {
      this.pushChunk(chunk, onMessage);
    } catch (e) {
      this.failed = true;
      throw e;
    }
  }

  /** The peer closed the connection: raises CorruptFrame if it stopped inside a frame. */
  end(): void {
    if (this.partsBytes > 0) throw new CorruptFrame(`connection closed inside a frame (${this.partsBytes} bytes of it received)`);
  }

  private pushChunk(chunk: Uint8Array, onMessage: (m: Message, frameBytes: number) => void): void {
    if (chunk.length === 0) return;
    let buf = chunk;
    if (this.partsBytes > 0) {
      this.parts.push(chunk);
      this.partsBytes += chunk.length;
      if (this.needBytes === 0 && this.partsBytes >= FRAME_HEADER_BYTES) this.needBytes = this.checkedLength(this.joinParts(), 0);
      if (this.needBytes === 0 || this.partsBytes < this.needBytes) return;
      buf = this.joinParts();
      this.parts = [];
      this.partsBytes = 0;
      this.needBytes = 0;
    }
    let off = 0;
    while (buf.length - off >= FRAME_HEADER_BYTES) {
      const total = this.checkedLength(buf, off);
      if (buf.length - off < total) break;
      onMessage(this.decode(buf, off, total), total);
      off += total;
    }
    if (off < buf.length) {
      const rest = buf.subarray(off);
      this.parts = [rest];
      this.partsBytes = rest.length;
      this.needBytes = rest.length >= FRAME_HEADER_BYTES ? this.checkedLength(rest, 0) : 0;
    }
  }

  private decode(buf: Uint8Array, off: number, total: number): Message {
    if (buf[off + FRAME_HEADER_BYTES] !== COMPRESSED_FRAME_TAG) return decodeBody(buf, off + FRAME_HEADER_BYTES, off + total, false);
    if (this.decompress === undefined) throw new CorruptFrame('a compressed frame on a stream that takes none');
    if (total < COMPRESSED_HEAD_BYTES) throw new CorruptFrame(`compressed frame of ${total} bytes`);
    const rawBytes = readU32(buf, off + FRAME_HEADER_BYTES + 1);
    if (rawBytes <= FRAME_HEADER_BYTES || rawBytes - FRAME_HEADER_BYTES > this.frameBytesMax) {
      throw new CorruptFrame(`compressed frame announces ${rawBytes} bytes (at most ${FRAME_HEADER_BYTES + this.frameBytesMax})`);
    }
    let raw: Uint8Array;
    try {
      raw = this.decompress(buf.subarray(off + COMPRESSED_HEAD_BYTES, off + total), rawBytes);
    } catch (e) {
      if (e instanceof AssertionError) throw e;
      throw new CorruptFrame(`compressed frame does not decompress: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (raw.length !== rawBytes) throw new CorruptFrame(`compressed frame decompressed to ${raw.length} bytes, announced ${rawBytes}`);
    // Exactly one plain frame inside (a compressed one has an unknown tag there).
    if (frameLength(raw, 0) !== raw.length) throw new CorruptFrame(`a compressed frame holds ${raw.length} bytes that are not one frame`);
    return decodeBody(raw, FRAME_HEADER_BYTES, raw.length, false);
  }

  private checkedLength(buf: Uint8Array, off: number): number {
    const total = frameLength(buf, off);
    assert(total !== null, 'a length prefix is complete');
    if (total - FRAME_HEADER_BYTES > this.frameBytesMax) throw new CorruptFrame(`frame of ${total - FRAME_HEADER_BYTES} bytes exceeds ${this.frameBytesMax}`);
    return total;
  }

  private joinParts(): Uint8Array {
    if (this.parts.length === 1) return this.parts[0]!;
    const out = new Uint8Array(this.partsBytes);
    let off = 0;
    for (const p of this.parts) {
      out.set(p, off);
      off += p.length;
    }
    this.parts = [out];
    return out;
  }
}
