import { describe, expect, it } from 'vitest';
import { writeU32 } from '../bytes.js';
import { CorruptFrame } from '../errors.js';
import { FRAME_BYTES_MAX, decodeMessage, encodeMessage, frameLength, readFrame } from './codec.js';
import type { Message } from './messages.js';

const h = { tenantId: 'deadbeef00112233deadbeef00112233', timelineId: '0123456789abcdef0123456789abcdef', generation: 7 };
const conf = { generation: 7, members: [1, 2, 3] };
const joint = { generation: 8, members: [1, 2, 3], newMembers: [1, 2, 4] };
const history = [
  { term: 1n, lsn: 100n },
  { term: 3n, lsn: 250n },
  { term: 4n, lsn: 250n },
];

const samples: Message[] = [
  { type: 'Greeting', ...h, proposerId: 9, conf: null },
  { type: 'Greeting', ...h, proposerId: 9, conf: joint },
  { type: 'GreetingResponse', ...h, nodeId: 2, conf, term: 5n },
  { type: 'VoteRequest', ...h, term: 6n },
  {
    type: 'VoteResponse',
    ...h,
    nodeId: 3,
    term: 6n,
    voteGiven: true,
    flushLsn: 300n,
    termHistory: history,
    commitLsn: 200n,
  },
  { type: 'ProposerElected', ...h, term: 6n, startStreamingAt: 260n, termHistory: history },
  {
    type: 'AppendRequest',
    ...h,
    term: 6n,
    beginLsn: 300n,
    endLsn: 305n,
    commitLsn: 290n,
    data: new Uint8Array([1, 2, 3, 4, 5]),
  },
  { type: 'AppendRequest', ...h, term: 6n, beginLsn: 305n, endLsn: 305n, commitLsn: 305n, data: new Uint8Array() },
  { type: 'AppendResponse', ...h, nodeId: 1, term: 6n, flushLsn: 305n, commitLsn: 300n },
  { type: 'ReadWalRequest', ...h, term: 6n, beginLsn: 100n, endLsn: 300n },
  {
    type: 'ReadWalResponse',
    ...h,
    nodeId: 2,
    term: 6n,
    beginLsn: 100n,
    endLsn: 103n,
    ok: true,
    data: new Uint8Array([9, 9, 9]),
  },
  { type: 'ReadWalResponse', ...h, nodeId: 2, term: 6n, beginLsn: 100n, endLsn: 300n, ok: false, data: new Uint8Array() },
  { type: 'MembershipSwitchRequest', ...h, conf: joint },
  {
    type: 'MembershipSwitchResponse',
    ...h,
    nodeId: 4,
    conf: joint,
    term: 6n,
    lastLogTerm: 4n,
    flushLsn: 305n,
    commitLsn: 300n,
  },
  { type: 'TermBumpRequest', ...h, term: 7n },
  { type: 'TermBumpResponse', ...h, nodeId: 4, term: 7n },
  { type: 'Reject', ...h, nodeId: 1, term: 6n, reason: 'lsnGap', lsn: 305n },
  { type: 'VoteRequest', ...h, term: (1n << 62n) - 1n },
];

function expectCorrupt(f: () => unknown): void {
  expect(f).toThrow(CorruptFrame);
}

describe('codec round trip', () => {
  it.each(samples.map((m, i) => [`${i} ${m.type}`, m] as const))('decode(encode(m)) == m: %s', (_, m) => {
    const frame = encodeMessage(m);
    expect(frameLength(frame)).toBe(frame.length);
    expect(decodeMessage(frame)).toEqual(m);
  });

  it('reads back-to-back frames from one stream buffer and waits for incomplete ones', () => {
    const frames = samples.map(encodeMessage);
    const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of frames) {
      stream.set(f, at);
      at += f.length;
    }
    const out: Message[] = [];
    let off = 0;
    for (;;) {
      const r = readFrame(stream, off);
      if (r === null) break;
      out.push(r.message);
      off = r.next;
    }
    expect(off).toBe(stream.length);
    expect(out).toEqual(samples);
    expect(readFrame(stream.subarray(0, frames[0]!.length - 1))).toBeNull();
    expect(readFrame(stream.subarray(0, 3))).toBeNull();
  });
});

describe('codec rejects bad frames with CorruptFrame', () => {
  it('truncated frames, at every cut point', () => {
    for (const m of samples) {
      const frame = encodeMessage(m);
      for (let cut = 0; cut < frame.length; cut++) expectCorrupt(() => decodeMessage(frame.subarray(0, cut)));
    }
  });

  it('a length prefix shorter than the fields (truncated body inside a whole frame)', () => {
    const frame = encodeMessage(samples[4]!);
    const short = frame.slice(0, frame.length - 3);
    writeU32(short, 0, short.length - 4);
    expectCorrupt(() => decodeMessage(short));
  });

  it('trailing bytes after the fields, and bytes after the frame', () => {
    const frame = encodeMessage(samples[3]!);
    const longer = new Uint8Array(frame.length + 2);
    longer.set(frame);
    expectCorrupt(() => decodeMessage(longer));
    writeU32(longer, 0, longer.length - 4);
    expectCorrupt(() => decodeMessage(longer));
  });

  it('oversized and empty length prefixes, before buffering the body', () => {
    const big = new Uint8Array(8);
    writeU32(big, 0, FRAME_BYTES_MAX + 1);
    expectCorrupt(() => frameLength(big));
    expectCorrupt(() => readFrame(big));
    expectCorrupt(() => decodeMessage(new Uint8Array(4)));
  });

  it('unknown tag, bad hex id, bad boolean, unknown reject reason', () => {
    const base = encodeMessage(samples[3]!);
    const badTag = base.slice();
    badTag[4] = 200;
    expectCorrupt(() => decodeMessage(badTag));
    const badId = base.slice();
    badId[6] = 'G'.charCodeAt(0);
    expectCorrupt(() => decodeMessage(badId));

    const vr = encodeMessage(samples[4]!);
    const idLen = 1 + 32 + 1 + 32;
    const voteGivenOff = 4 + 1 + idLen + 4 + 4 + 8;
    expect(vr[voteGivenOff]).toBe(1);
    const badBool = vr.slice();
    badBool[voteGivenOff] = 2;
    expectCorrupt(() => decodeMessage(badBool));

    const rej = encodeMessage(samples[16]!);
    const badReason = rej.slice();
    badReason[rej.length - 9] = 99;
    expectCorrupt(() => decodeMessage(badReason));
  });

  it('an AppendRequest whose LSN range disagrees with its data length', () => {
    const frame = encodeMessage(samples[6]!);
    const bad = frame.slice();
    // endLsn is the third u64 after the header: bump its low byte.
    const endOff = 4 + 1 + 66 + 4 + 8 + 8;
    bad[endOff + 7] = bad[endOff + 7]! + 1;
    expectCorrupt(() => decodeMessage(bad));
  });

  it('a term history that is not ascending', () => {
    const m: Message = { type: 'ProposerElected', ...h, term: 6n, startStreamingAt: 0n, termHistory: history };
    const frame = encodeMessage(m);
    const bad = frame.slice();
    // Second entry's term (offset after header + term + start + count + first entry) set to 0.
    const secondTermOff = 4 + 1 + 66 + 4 + 8 + 8 + 4 + 16;
    bad.fill(0, secondTermOff, secondTermOff + 8);
    expectCorrupt(() => decodeMessage(bad));
  });

  it('random garbage never escapes as anything but CorruptFrame', () => {
    let x = 0x9e3779b9;
    const next = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x >>> 0;
    };
    for (let i = 0; i < 2000; i++) {
      const len = next() % 120;
      const b = new Uint8Array(len);
      for (let j = 0; j < len; j++) b[j] = next() & 0xff;
      if (len >= 4) writeU32(b, 0, Math.max(1, len - 4));
      if (len >= 5) b[4] = [1, 2, 3, 4, 5, 6, 7, 65, 66, 67, 68, 69, 70, 71][next() % 14]!;
      try {
        decodeMessage(b);
      } catch (e) {
        expect(e).toBeInstanceOf(CorruptFrame);
      }
    }
  });

  it('refuses to encode a message whose data length disagrees with its range (a bug, not input)', () => {
    const m = { ...(samples[6] as Extract<Message, { type: 'AppendRequest' }>), endLsn: 400n };
    expect(() => encodeMessage(m)).toThrow(/assertion failed/);
  });
});

describe('codec bounds: terms, LSNs and generations near the top of their range are corrupt input', () => {
  const top = (1n << 64n) - 1n;
  it.each([
    ['TermBumpRequest 2^64-1', { type: 'TermBumpRequest', ...h, term: top }],
    ['VoteRequest 2^62', { type: 'VoteRequest', ...h, term: 1n << 62n }],
    ['AppendRequest near 2^64', { type: 'AppendRequest', ...h, term: 6n, beginLsn: top - 3n, endLsn: top, commitLsn: 0n, data: new Uint8Array(3) }],
    ['ProposerElected history LSN 2^63', { type: 'ProposerElected', ...h, term: 6n, startStreamingAt: 0n, termHistory: [{ term: 6n, lsn: 1n << 63n }] }],
    ['Reject lsn 2^64-1', { type: 'Reject', ...h, nodeId: 1, term: 1n, reason: 'lsnGap', lsn: top }],
    ['generation 2^31', { type: 'VoteRequest', ...h, generation: 2 ** 31, term: 1n }],
    ['conf generation 2^32-1', { type: 'MembershipSwitchRequest', ...h, conf: { generation: 0xffffffff, members: [1] } }],
  ] as [string, Message][])('%s', (_, m) => {
    expectCorrupt(() => decodeMessage(encodeMessage(m)));
  });
  it('the largest values below the bounds decode', () => {
    const m: Message = { type: 'TermBumpRequest', ...h, generation: 2 ** 31 - 1, term: (1n << 62n) - 1n };
    expect(decodeMessage(encodeMessage(m))).toEqual(m);
  });
  it('configurations decode as they come: an empty or duplicate member set is the acceptor\'s to refuse (typed Reject)', () => {
    for (const conf of [{ generation: 9, members: [] }, { generation: 9, members: [1, 1] }, { generation: 9, members: [0] }]) {
      const m: Message = { type: 'MembershipSwitchRequest', ...h, conf };
      expect(decodeMessage(encodeMessage(m))).toEqual(m);
    }
  });
});

describe('decodeFrames', () => {
  it('round-trips several frames back to back and rejects a partial tail', async () => {
    const { decodeFrames, encodeFrames } = await import('./codec.js');
    const msgs = [
      { type: 'VoteRequest' as const, tenantId: 'aa', timelineId: 'bb', generation: 1, term: 5n },
      { type: 'VoteRequest' as const, tenantId: 'aa', timelineId: 'bb', generation: 1, term: 6n },
    ];
    const body = encodeFrames(msgs);
    expect(decodeFrames(body)).toEqual(msgs);
    expect(() => decodeFrames(body.subarray(0, body.length - 1))).toThrow(/truncated frame/);
    expect(decodeFrames(new Uint8Array())).toEqual([]);
  });
});
