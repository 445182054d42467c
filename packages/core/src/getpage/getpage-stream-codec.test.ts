import { describe, expect, it } from 'vitest';
import { CorruptFrame } from '../errors.js';
import { encodeGetPageResponse, GetPageStatus, type GetPageItem } from './getpage-codec.js';
import {
  decodeReplyFrame,
  decodeRequestFrame,
  encodeErrorFrame,
  encodeRequestFrame,
  FRAME_HEAD_BYTES,
  FrameSplitter,
  writeReplyFrameHead,
} from './getpage-stream-codec.js';

const reqs = [
  { spaceId: 5, pageNo: 1, lsn: 1000n },
  { spaceId: 0xffffffff, pageNo: 2, lsn: (1n << 64n) - 1n },
];

function replyFrame(tag: number, items: GetPageItem[], pageSize: number): Buffer {
  const body = encodeGetPageResponse(items, pageSize);
  const frame = Buffer.alloc(FRAME_HEAD_BYTES + body.length);
  frame.set(body, FRAME_HEAD_BYTES);
  writeReplyFrameHead(frame, tag, items.length);
  return frame;
}

describe('GetPage stream frames', () => {
  it('round-trips a request frame: length, tag, waitMs, then the HTTP body layout', () => {
    const f = encodeRequestFrame(7, 250, reqs);
    expect(f.length).toBe(12 + 32);
    expect(new DataView(f.buffer).getUint32(0)).toBe(40);
    const d = decodeRequestFrame(f, 10);
    expect(d.tag).toBe(7);
    expect(d.waitMs).toBe(250);
    expect(d.requests).toEqual(f.subarray(12));
  });

  it('refuses request frames without requests, with ragged requests, or over the batch limit', () => {
    const frame = (n: number) => {
      const b = new Uint8Array(12 + n);
      new DataView(b.buffer).setUint32(0, 8 + n);
      return b;
    };
    expect(() => decodeRequestFrame(frame(0), 10)).toThrow(CorruptFrame);
    expect(() => decodeRequestFrame(frame(17), 10)).toThrow(/multiple of 16/);
    expect(() => decodeRequestFrame(frame(16 * 11), 10)).toThrow(/exceeds 10/);
    expect(() => encodeRequestFrame(1, 0, [])).toThrow(/empty/);
  });

  it('round-trips reply frames, with pages as views into the frame', () => {
    const page = new Uint8Array(512).fill(4);
    const items: GetPageItem[] = [
      { status: GetPageStatus.OK, lsn: 42n, page },
      { status: GetPageStatus.NOT_YET_AVAILABLE, lsn: 99n },
    ];
    const frame = new Uint8Array(replyFrame(3, items, 512));
    const r = decodeReplyFrame(frame, 512);
    expect(r).toEqual({ kind: 'pages', tag: 3, items });
    if (r.kind === 'pages' && r.items[0]?.status === GetPageStatus.OK) expect(r.items[0].page.buffer).toBe(frame.buffer);
  });

  it('carries a whole-batch error as JSON', () => {
    expect(decodeReplyFrame(encodeErrorFrame(9, 'TIMELINE_NOT_FOUND', 'gone'), 512)).toEqual({ kind: 'error', tag: 9, code: 'TIMELINE_NOT_FOUND', message: 'gone' });
    // Escaped to ASCII on the wire, so core needs no text codec; any UTF-8 reader reads the same JSON.
    const frame = encodeErrorFrame(1, 'CORRUPT_PAGE', 'page «7» 😀\n');
    expect(frame.subarray(FRAME_HEAD_BYTES).every((b) => b < 0x80)).toBe(true);
    expect(decodeReplyFrame(frame, 512)).toEqual({ kind: 'error', tag: 1, code: 'CORRUPT_PAGE', message: 'page «7» 😀\n' });
  });

  it('splits a byte stream into frames however it is chunked', () => {
    const frames = [replyFrame(1, [{ status: GetPageStatus.OK, lsn: 1n, page: new Uint8Array(512).fill(1) }], 512), Buffer.from(encodeRequestFrame(2, 0, reqs)), replyFrame(3, [], 512)];
    const all = Buffer.concat(frames);
    for (const size of [1, 3, 13, 100, all.length]) {
      const s = new FrameSplitter(1 << 20);
      const got: Buffer[] = [];
      for (let o = 0; o < all.length; o += size) s.push(all.subarray(o, o + size), (f) => got.push(Buffer.from(f)));
      expect(got).toEqual(frames);
      expect(s.buffered).toBe(0);
    }
  });

  it('refuses a frame longer than its limit before buffering it', () => {
    const s = new FrameSplitter(64);
    const b = Buffer.alloc(8);
    b.writeUInt32BE(1000, 0);
    expect(() => s.push(b, () => undefined)).toThrow(/exceeds 64/);
  });
});
