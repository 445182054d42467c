import { describe, expect, it } from 'vitest';
import { fixtureMtrs } from './fixture-log.test-util.js';
import { crc32c } from './crc32c.js';
import { findEndOfWal, MtrStreamCheck, mtrCut, mtrRecordsError, wholeMtrsError } from './wal-tail.js';

const START = 50841n;
const mtrs = fixtureMtrs();
const stream = (() => {
  const total = mtrs.reduce((a, m) => a + m.bytes.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const m of mtrs) {
    out.set(m.bytes, off);
    off += m.bytes.length;
  }
  return out;
})();
const END = START + BigInt(stream.length);
/** Offsets (from START) of the mtr boundaries. */
const boundaries = mtrs.map((m) => Number(m.startLsn - START));

/** The last boundary at or below `off`. */
const boundaryBelow = (off: number) => [...boundaries, stream.length].filter((b) => b <= off).pop()!;

/** A deterministic xorshift, so that a failure names its seed. */
function splits(seed: number, n: number, maxPiece: number): number[] {
  let x = seed >>> 0 || 1;
  const out: number[] = [];
  let at = 0;
  while (at < n) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    at = Math.min(n, at + 1 + ((x >>> 0) % maxPiece));
    out.push(at);
  }
  return out;
}

describe('findEndOfWal', () => {
  it('a whole stream of valid mtrs is WAL to its end', () => {
    expect(mtrs.length).toBeGreaterThan(10);
    expect(findEndOfWal(stream, START)).toEqual({ wholeEndLsn: END, endLsn: END, tornReason: undefined });
  });

  it('a write cut inside an mtr keeps the valid prefix: the last whole mtr ends below it', () => {
    const mid = boundaries[5]! + 3;
    const r = findEndOfWal(stream.subarray(0, mid), START);
    expect(r.endLsn).toBe(START + BigInt(mid));
    expect(r.wholeEndLsn).toBe(START + BigInt(boundaries[5]!));
    expect(r.tornReason).toBeUndefined();
  });

  it('a complete mtr with a wrong CRC is torn: WAL ends before it', () => {
    const bad = stream.slice();
    const victim = boundaries.length - 2;
    bad[boundaries[victim]! + 2]! ^= 0x40;
    const r = findEndOfWal(bad, START);
    expect(r.endLsn).toBe(START + BigInt(boundaries[victim]!));
    expect(r.wholeEndLsn).toBe(r.endLsn);
    expect(r.tornReason).toMatch(/CRC-32C mismatch|cannot start|length/);
  });

  it('zeros after the last mtr (an extended file never written) are not WAL', () => {
    const padded = new Uint8Array(stream.length + 4096);
    padded.set(stream);
    const r = findEndOfWal(padded, START);
    expect(r.endLsn).toBe(END);
    expect(r.tornReason).toMatch(/cannot start an mtr/);
  });

  it('an empty tail ends where it starts', () => {
    expect(findEndOfWal(new Uint8Array(0), 7n)).toEqual({ wholeEndLsn: 7n, endLsn: 7n, tornReason: undefined });
  });
});

describe('MtrStreamCheck', () => {
  it('pushed in pieces of any size, it agrees with the one-shot scan at every cut (seeds 1..40)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      for (const crc of ['all', 'edges'] as const) {
        const check = new MtrStreamCheck(START, crc);
        let prev = 0;
        for (const at of splits(seed, stream.length, seed % 2 ? 64 : 3000)) {
          expect(check.push(stream.subarray(prev, at)), `seed ${seed} ${crc}`).toBe(true);
          prev = at;
          expect(check.endLsn, `seed ${seed}`).toBe(START + BigInt(at));
          expect(check.wholeEndLsn, `seed ${seed}`).toBe(START + BigInt(boundaryBelow(at)));
        }
      }
    }
  });

  it("'edges' catches a discontinuity between two pushes: a cut mtr followed by a fresh one", () => {
    const check = new MtrStreamCheck(START, 'edges');
    const cut = boundaries[8]! + 5;
    expect(check.push(stream.subarray(0, cut))).toBe(true);
    // The next push starts over at a boundary instead of continuing the cut mtr.
    expect(check.push(stream.subarray(boundaries[3]!))).toBe(false);
    expect(check.ok).toBe(false);
    expect(check.endLsn).toBe(START + BigInt(boundaries[8]!));
    expect(check.reason).toMatch(/at LSN/);
    // Torn stays torn.
    expect(check.push(stream)).toBe(false);
  });

  it("'edges' refuses bytes that are not redo", () => {
    const noise = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff);
    const check = new MtrStreamCheck(1000n, 'edges');
    expect(check.push(noise)).toBe(false);
    expect(check.endLsn).toBe(1000n);
  });
});

describe('wholeMtrsError: what a safekeeper takes as an append', () => {
  it('whole CRC-valid mtrs that end with the bytes are valid, and no bytes are too', () => {
    expect(wholeMtrsError(stream)).toBeUndefined();
    expect(wholeMtrsError(stream, boundaries[3]!, boundaries[9]!)).toBeUndefined();
    expect(wholeMtrsError(new Uint8Array(0))).toBeUndefined();
  });
  it('refuses bytes that end inside an mtr, or start inside one', () => {
    const b = boundaries[5]!;
    expect(wholeMtrsError(stream, 0, b + 3)).toMatch(/cut by the end/);
    expect(wholeMtrsError(stream, b + 1, stream.length)).toBeDefined();
  });
  it('refuses a wrong CRC anywhere, not only at the edges', () => {
    const bad = stream.slice();
    // Inside the body of the mtr in the middle: its framing holds, its CRC does not.
    const mid = boundaries[Math.floor(boundaries.length / 2)]!;
    bad[mid + 1] = bad[mid + 1]! ^ 0x01;
    expect(wholeMtrsError(bad)).toMatch(/CRC-32C mismatch|cannot start|length/);
  });
  it('refuses garbage (64 bytes of 0xAB)', () => {
    expect(wholeMtrsError(new Uint8Array(64).fill(0xab))).toBeDefined();
  });
  it('with a record check, refuses a CRC-valid mtr whose records the page server cannot parse', () => {
    // A WRITE whose one byte is all of its page identifier: framing and CRC hold, the space id does not.
    const hostile = withCrc([0x31, 0x00]);
    expect(wholeMtrsError(hostile)).toBeUndefined();
    expect(mtrRecordsError(hostile, 16384)).toMatch(/space id/);
    expect(wholeMtrsError(hostile, 0, hostile.length, { pageSize: 16384 })).toMatch(/space id.* in the mtr at byte 0/);
    // After real mtrs, the offset names the bad one.
    const both = new Uint8Array(stream.length + hostile.length);
    both.set(stream);
    both.set(hostile, stream.length);
    expect(wholeMtrsError(both, 0, both.length, { pageSize: 16384 })).toContain(`at byte ${stream.length}`);
    expect(wholeMtrsError(stream, 0, stream.length, { pageSize: 16384 })).toBeUndefined();
  });
  it('the record check bounds offsets by the page size it is given', () => {
    // WRITE to space 1 page 3 at offset 0x2000 + 4 bytes: inside a 16 KiB page, past a 4 KiB one.
    const write = withCrc([0x37, 0x01, 0x03, 0xa0, 0x00, 0x01, 0x02, 0x03]);
    expect(mtrRecordsError(write, 16384)).toBeUndefined();
    expect(mtrRecordsError(write, 4096)).toMatch(/offset|overruns|beyond/);
  });
});

/** `body` framed as one mtr: end byte 0x01 and its CRC-32C. */
function withCrc(body: number[]): Uint8Array {
  const out = new Uint8Array(body.length + 5);
  out.set(body);
  out[body.length] = 0x01;
  const crc = crc32c(out, 0, body.length);
  new DataView(out.buffer).setUint32(body.length + 1, crc);
  return out;
}

describe('mtrCut: where a proposer may end an append', () => {
  it('cuts at the last mtr end within the byte budget', () => {
    for (const max of [1, 50, 300, 1000, stream.length]) {
      const cut = mtrCut(stream, 0, stream.length, max);
      expect(boundaries.concat(stream.length)).toContain(cut);
      expect(cut).toBeGreaterThan(0);
      // Within the budget, unless the first mtr alone exceeds it.
      if (cut > boundaries[1]!) expect(cut).toBeLessThanOrEqual(max);
      expect(wholeMtrsError(stream, 0, cut)).toBeUndefined();
    }
  });
  it('stops before an mtr that the bytes end inside of (start when there is none)', () => {
    const b = boundaries[4]!;
    expect(mtrCut(stream, 0, b + 2, stream.length)).toBe(b);
    expect(mtrCut(stream, b, b + 2, stream.length)).toBe(b);
  });
  it('says -1 for bytes that are not redo', () => {
    expect(mtrCut(new Uint8Array(64), 0, 64, 32)).toBe(-1);
  });
});
