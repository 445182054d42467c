import { describe, expect, it } from 'vitest';
import { CorruptFrame } from '../errors.js';
import { encodeEnd, encodeError, encodeHello, encodeKeepalive, encodeWal, WalStreamDecoder, type WalStreamFrame } from './wal-stream-codec.js';

const history = [
  { term: 1n, lsn: 100n },
  { term: 3n, lsn: 150n },
];
const liveHello = (startLsn = 100n, commitLsn = 200n) => encodeHello({ startLsn, commitLsn, flushLsn: 300n, endLsn: null, termHistory: history });
const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Every frame of `wire`, fed in chunks of `chunkBytes`. */
function decodeAll(wire: Uint8Array, chunkBytes: number, startLsn = 100n): WalStreamFrame[] {
  const d = new WalStreamDecoder({ startLsn });
  const out: WalStreamFrame[] = [];
  for (let at = 0; at < wire.length; at += chunkBytes) {
    d.push(wire.subarray(at, at + chunkBytes));
    for (let f = d.next(); f; f = d.next()) out.push(f);
  }
  expect(d.bufferedBytes).toBe(0);
  return out;
}

describe('WAL stream codec', () => {
  it('round-trips every kind of frame, whatever the chunking', () => {
    const wal1 = bytes(60);
    const wal2 = bytes(40, 9);
    const wire = concat([liveHello(), encodeWal(100n, 200n, wal1), encodeKeepalive(200n, 300n), encodeWal(160n, 250n, wal2), encodeError('NOT_A_MEMBER', 'gone ✗')]);
    for (const chunk of [1, 3, 17, 64, wire.length]) {
      const frames = decodeAll(wire, chunk);
      expect(frames.map((f) => f.kind)).toEqual(['hello', 'wal', 'keepalive', 'wal', 'error']);
      expect(frames[0]).toEqual({ kind: 'hello', startLsn: 100n, commitLsn: 200n, flushLsn: 300n, endLsn: null, termHistory: history });
      expect(frames[1]).toMatchObject({ startLsn: 100n, commitLsn: 200n, bytes: wal1 });
      expect(frames[3]).toMatchObject({ startLsn: 160n, commitLsn: 250n, bytes: wal2 });
      expect(frames[4]).toEqual({ kind: 'error', code: 'NOT_A_MEMBER', message: 'gone ✗' });
    }
  });

  it('a bounded stream ends with END at its end LSN', () => {
    const wire = concat([encodeHello({ startLsn: 100n, commitLsn: 120n, flushLsn: 300n, endLsn: 150n, termHistory: history }), encodeWal(100n, 120n, bytes(50)), encodeEnd(150n)]);
    const frames = decodeAll(wire, 8);
    expect(frames.at(-1)).toEqual({ kind: 'end', endLsn: 150n });
  });

  it('a frame that lies in one chunk is a view of it, not a copy', () => {
    const wire = concat([liveHello(), encodeWal(100n, 200n, bytes(60))]);
    const d = new WalStreamDecoder({ startLsn: 100n });
    d.push(wire);
    d.next();
    const f = d.next();
    expect(f?.kind === 'wal' && f.bytes.buffer).toBe(wire.buffer);
  });

  it('an error before HELLO is allowed (the sender refused at once)', () => {
    expect(decodeAll(encodeError('LSN_OUT_OF_RANGE', 'x'), 5)).toEqual([{ kind: 'error', code: 'LSN_OUT_OF_RANGE', message: 'x' }]);
  });

  // Each case: the stream a hostile or broken sender sends, and what the decoder says.
  const rules: [string, Uint8Array[], RegExp][] = [
    ['begins with HELLO', [encodeKeepalive(1n, 2n)], /begins with keepalive/],
    ['HELLO starts where the reader asked', [liveHello(99n)], /starts at 99, asked for 100/],
    ['one HELLO', [liveHello(), liveHello()], /second WAL stream HELLO/],
    ['WAL is contiguous', [liveHello(), encodeWal(101n, 200n, bytes(5))], /at 101, expected 100/],
    ['a live stream sends committed WAL only', [liveHello(), encodeWal(100n, 200n, bytes(101))], /beyond the commit LSN 200/],
    ['commit LSNs never go back', [liveHello(), encodeKeepalive(150n, 300n)], /going back from 200 to 150/],
    ['a bounded stream stops at its end', [encodeHello({ startLsn: 100n, commitLsn: 100n, flushLsn: 300n, endLsn: 120n, termHistory: [] }), encodeWal(100n, 100n, bytes(21))], /beyond the stream's end 120/],
    ['END only where the stream is', [encodeHello({ startLsn: 100n, commitLsn: 100n, flushLsn: 300n, endLsn: 120n, termHistory: [] }), encodeEnd(120n)], /END at 120, but the stream is at 100/],
    ['no END in a live stream', [liveHello(), encodeEnd(100n)], /END in a live/],
    ['nothing after ERROR', [liveHello(), encodeError('X', 'y'), encodeKeepalive(200n, 300n)], /after END or ERROR/],
  ];
  it.each(rules)('rule: %s', (_, frames, message) => {
    expect(() => decodeAll(concat(frames), 7)).toThrow(message);
  });

  it('refuses malformed frames with CorruptFrame: oversized, unknown kind, short, bad version, bad history, bad JSON', () => {
    const cases: [Uint8Array, RegExp][] = [
      [Uint8Array.of(0x7f, 0, 0, 0, 2), /exceeds/],
      [Uint8Array.of(0, 0, 0, 1, 9), /unknown kind 9/],
      [Uint8Array.of(0, 0, 0, 0), /without a kind/],
      [Uint8Array.of(0, 0, 0, 3, 3, 0, 0), /KEEPALIVE of 2 bytes/],
      [Uint8Array.of(0, 0, 0, 17, 2, ...new Uint8Array(16)), /WAL frame of 16 bytes/],
      [Uint8Array.of(0, 0, 0, 3, 5, 0x7b, 0x78), /not JSON/],
    ];
    const badVersion = liveHello();
    badVersion[5] = 2;
    cases.push([badVersion, /version 2/]);
    const badHistory = encodeHello({ startLsn: 100n, commitLsn: 100n, flushLsn: 100n, endLsn: null, termHistory: [{ term: 3n, lsn: 1n }, { term: 2n, lsn: 5n }] });
    cases.push([badHistory, /not ascending/]);
    const badCount = liveHello();
    badCount[5 + 36] = 9; // N no longer matches the frame's length
    cases.push([badCount, /with \d+ history entries/]);
    for (const [wire, message] of cases) {
      const d = new WalStreamDecoder({ startLsn: 100n });
      d.push(wire);
      let err: unknown;
      try {
        d.next();
      } catch (e) {
        err = e;
      }
      expect(err, String(message)).toBeInstanceOf(CorruptFrame);
      expect((err as Error).message).toMatch(message);
    }
  });

  it('refuses random garbage with CorruptFrame or waits for more, never anything else', () => {
    let seed = 42;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 2_000; i++) {
      const good = concat([liveHello(), encodeWal(100n, 200n, bytes(30)), encodeKeepalive(210n, 300n)]);
      const bad = good.slice();
      for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) bad[Math.floor(rnd() * bad.length)] = Math.floor(rnd() * 256);
      const d = new WalStreamDecoder({ startLsn: 100n, frameBytesMax: 4096 });
      d.push(bad);
      try {
        while (d.next());
      } catch (e) {
        expect(e).toBeInstanceOf(CorruptFrame);
      }
    }
  });
});
