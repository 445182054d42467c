import { describe, expect, it } from 'vitest';
import { writeU32 } from '../bytes.js';
import { CorruptFrame } from '../errors.js';
import { COMPRESSED_FRAME_TAG, encodeAppendRequestParts, encodeCompressedFrame, encodeFrames, encodeMessage, FRAME_BYTES_MAX, FrameReader } from './codec.js';
import type { AppendRequest, Message } from './messages.js';

const h = { tenantId: 'deadbeef00112233deadbeef00112233', timelineId: '0123456789abcdef0123456789abcdef', generation: 7 };
const append = (beginLsn: bigint, n: number): AppendRequest => ({
  type: 'AppendRequest',
  ...h,
  term: 3n,
  beginLsn,
  endLsn: beginLsn + BigInt(n),
  commitLsn: 0n,
  data: new Uint8Array(n).fill(n & 0xff),
});
const stream: Message[] = [
  { type: 'Greeting', ...h, proposerId: 9, conf: null },
  append(100n, 5),
  append(105n, 70_000),
  { type: 'AppendResponse', ...h, nodeId: 2, term: 3n, flushLsn: 70_105n, commitLsn: 105n },
  append(70_105n, 0),
];

function readAll(reader: FrameReader, chunks: Uint8Array[]): Message[] {
  const out: Message[] = [];
  for (const c of chunks) reader.push(c, (m) => out.push(m));
  return out;
}

function cut(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; o += size) out.push(bytes.subarray(o, o + size));
  return out;
}

describe('FrameReader (the consensus stream, every byte hostile)', () => {
  it('yields the same messages however the stream is cut into chunks', () => {
    const bytes = encodeFrames(stream);
    for (const size of [1, 3, 4, 5, 17, 4096, 65_536, bytes.length]) {
      const reader = new FrameReader();
      expect(readAll(reader, cut(bytes, size)), `chunks of ${size}`).toEqual(stream);
      expect(reader.buffered).toBe(0);
      expect(() => reader.end()).not.toThrow();
    }
  });

  it('an AppendRequest in two parts (head, data) is byte for byte its frame', () => {
    for (const m of [append(100n, 0), append(100n, 5), append(105n, 70_000)]) {
      const [head, data] = encodeAppendRequestParts(m);
      expect(data).toBe(m.data);
      expect(new Uint8Array([...head, ...data])).toEqual(encodeMessage(m));
    }
  });

  it('reports each frame with its size', () => {
    const sizes: number[] = [];
    new FrameReader().push(encodeFrames(stream), (_m, n) => sizes.push(n));
    expect(sizes).toEqual(stream.map((m) => encodeMessage(m).length));
  });

  it('a connection closed inside a frame is CorruptFrame; so is one closed inside the length prefix', () => {
    const frame = encodeMessage(append(1n, 100));
    for (const keep of [2, 4, 50, frame.length - 1]) {
      const reader = new FrameReader();
      expect(readAll(reader, [frame.subarray(0, keep)])).toEqual([]);
      expect(reader.buffered).toBe(keep);
      expect(() => reader.end()).toThrow(CorruptFrame);
    }
  });

  it('an oversized length is refused as soon as its 4 bytes are in, before any body is buffered', () => {
    const prefix = new Uint8Array(4);
    writeU32(prefix, 0, FRAME_BYTES_MAX + 1);
    expect(() => new FrameReader().push(prefix, () => undefined)).toThrow(CorruptFrame);
    // Split across chunks too.
    const reader = new FrameReader();
    reader.push(prefix.subarray(0, 2), () => undefined);
    expect(() => reader.push(prefix.subarray(2), () => undefined)).toThrow(/exceeds/);
    // A reader with a lower bound (the safekeeper's) uses it.
    const small = new FrameReader(1024);
    expect(() => small.push(encodeMessage(append(1n, 2000)), () => undefined)).toThrow(/exceeds 1024/);
  });

  it('an empty frame, an unknown tag and a truncated body are CorruptFrame, and the reader stays failed', () => {
    const empty = new Uint8Array(4);
    expect(() => new FrameReader().push(empty, () => undefined)).toThrow(/empty frame/);

    const unknown = encodeMessage(append(1n, 3));
    unknown[4] = 200;
    const r = new FrameReader();
    expect(() => r.push(unknown, () => undefined)).toThrow(/unknown message tag 200/);
    expect(() => r.push(encodeMessage(append(1n, 3)), () => undefined)).toThrow(CorruptFrame);

    // The length says fewer bytes than the fields need: the body is truncated.
    const short = encodeMessage(append(1n, 8));
    writeU32(short, 0, 20);
    expect(() => new FrameReader().push(short.subarray(0, 24), () => undefined)).toThrow(/truncated/);
  });

  it('messages before a corrupt frame are delivered; nothing after it', () => {
    const good = encodeMessage(append(1n, 3));
    const bad = encodeMessage(append(4n, 3));
    bad[4] = 0;
    const got: Message[] = [];
    expect(() => new FrameReader().push(new Uint8Array([...good, ...bad, ...good]), (m) => got.push(m))).toThrow(CorruptFrame);
    expect(got).toHaveLength(1);
  });

  it('random garbage never escapes as anything but CorruptFrame', () => {
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const valid = encodeFrames(stream);
    for (let i = 0; i < 2000; i++) {
      const bytes = valid.slice(0, 1 + Math.floor(rnd() * valid.length));
      for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) bytes[Math.floor(rnd() * Math.min(bytes.length, 200))] = Math.floor(rnd() * 256);
      const reader = new FrameReader();
      try {
        readAll(reader, cut(bytes, 1 + Math.floor(rnd() * 300)));
        reader.end();
      } catch (e) {
        expect(e, `case ${i}`).toBeInstanceOf(CorruptFrame);
      }
    }
  });

  describe('compressed frames', () => {
    // A toy compressor (trailing zeros dropped) stands in for the shells' zstd.
    const compress = (raw: Uint8Array) => {
      let n = raw.length;
      while (n > 0 && raw[n - 1] === 0) n--;
      return raw.slice(0, n);
    };
    const decompress = (packed: Uint8Array, rawBytes: number) => {
      if (packed.length > rawBytes) throw new Error('does not fit');
      const out = new Uint8Array(rawBytes);
      out.set(packed);
      return out;
    };
    const zeros: AppendRequest = { ...append(10n, 5000), data: new Uint8Array(5000) };

    it('round-trip, mixed with plain frames; a frame that does not shrink goes plain', () => {
      const packed = encodeCompressedFrame(encodeMessage(zeros), compress);
      expect(packed[4]).toBe(COMPRESSED_FRAME_TAG);
      expect(packed.length).toBeLessThan(200);
      const plain = encodeMessage(stream[0]!);
      expect(encodeCompressedFrame(plain, compress)).toBe(plain);
      const got: Message[] = [];
      const bytes = new Uint8Array([...plain, ...packed, ...plain]);
      new FrameReader(FRAME_BYTES_MAX, decompress).push(bytes, (m) => got.push(m));
      expect(got).toEqual([stream[0], zeros, stream[0]]);
    });

    it('refused without a decompressor, beyond the bound, when it does not decompress, or holds anything but one frame', () => {
      const packed = encodeCompressedFrame(encodeMessage(zeros), compress);
      expect(() => new FrameReader().push(packed, () => undefined)).toThrow(/takes none/);
      expect(() => new FrameReader(1024, decompress).push(packed, () => undefined)).toThrow(/announces 5\d+ bytes/);
      const lying = packed.slice();
      writeU32(lying, 5, 20);
      expect(() => new FrameReader(FRAME_BYTES_MAX, decompress).push(lying, () => undefined)).toThrow(/does not decompress/);
      const short = packed.slice();
      writeU32(short, 5, 2);
      expect(() => new FrameReader(FRAME_BYTES_MAX, decompress).push(short, () => undefined)).toThrow(/announces 2 bytes/);
      // Two frames inside one compressed frame.
      const two = encodeFrames([zeros, zeros]);
      const wrapped = new Uint8Array(9 + two.length);
      writeU32(wrapped, 0, wrapped.length - 4);
      wrapped[4] = COMPRESSED_FRAME_TAG;
      writeU32(wrapped, 5, two.length);
      wrapped.set(two, 9);
      expect(() => new FrameReader(FRAME_BYTES_MAX, decompress).push(wrapped, () => undefined)).toThrow(/not one frame/);
    });
  });
});
