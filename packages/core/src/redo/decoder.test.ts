import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StrataError } from '../errors.js';
import { MtrDecoder } from './decoder.js';
import { memoryLogSource, scanLog } from './log-scan.js';
import { collect, fixtureLog, fixtureMtrs } from './fixture-log.test-util.js';

const START = 50841n;
const END = 55516n;

function stream(): Uint8Array {
  return fixtureLog().slice(Number(START), Number(END) + 64);
}

describe('incremental decoder', () => {
  it('gives the same mtrs whatever the chunking, keeping partial tails', () => {
    const expected = fixtureMtrs();
    const bytes = stream();
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 60 }), (sizes) => {
        const d = new MtrDecoder({ startLsn: START });
        const got = [];
        let pos = 0;
        let i = 0;
        while (pos < bytes.length) {
          const n = sizes[i++ % sizes.length]!;
          d.push(bytes.subarray(pos, pos + n));
          pos += n;
          for (let m = d.next(); m; m = d.next()) got.push(m);
        }
        expect(got.map((m) => m.startLsn)).toEqual(expected.map((m) => m.startLsn));
        expect(d.lsn).toBe(END);
        expect(d.endReason).toBeDefined();
      }),
      { numRuns: 200 },
    );
  });

  it('byte-at-a-time feeding never yields a partial mtr', () => {
    const bytes = stream();
    const d = new MtrDecoder({ startLsn: START });
    let count = 0;
    for (let i = 0; i < bytes.length; i++) {
      d.push(bytes.subarray(i, i + 1));
      for (let m = d.next(); m; m = d.next()) {
        count++;
        expect(m.endLsn - m.startLsn).toBe(BigInt(m.bytes.length));
      }
    }
    expect(count).toBe(110);
  });

  it('waits on a torn tail and resumes when the source is re-read', () => {
    const bytes = stream();
    const first = fixtureMtrs()[0]!;
    const d = new MtrDecoder({ startLsn: START });
    // A tail whose CRC is not written yet reads as the end of the log...
    const torn = bytes.slice(0, first.bytes.length);
    torn[torn.length - 1] = torn[torn.length - 1]! ^ 0xff;
    d.push(torn);
    expect(d.next()).toBeUndefined();
    expect(d.endReason).toMatch(/CRC/);
    // ...and the tailer re-reads from the decoder's LSN once the writer finished the block.
    d.discardPending();
    d.push(bytes.subarray(0, first.bytes.length));
    expect(d.next()?.endLsn).toBe(first.endLsn);
  });

  it('nextStrict turns an end of log into CorruptRedo naming the LSN', () => {
    const bytes = stream().slice(0, 200);
    bytes[100] = bytes[100]! ^ 0x55;
    const d = new MtrDecoder({ startLsn: START });
    d.push(bytes);
    expect(() => {
      while (d.nextStrict());
    }).toThrow(/corrupt redo at LSN 50841/);
  });
});

describe('random corruption of a real log', () => {
  it('never crashes or hangs: a typed error or a clean end, and only intact mtrs before the damage', () => {
    const pristine = fixtureLog();
    const expected = fixtureMtrs();
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.integer({ min: Number(START), max: Number(END) + 16 }), xor: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 8 }),
        (flips) => {
          const file = pristine.slice();
          for (const f of flips) file[f.at] = (file[f.at]! ^ f.xor) & 0xff;
          const firstDamage = BigInt(Math.min(...flips.map((f) => f.at)));
          try {
            const { mtrs, end } = collect(scanLog(memoryLogSource(file), START));
            expect(end.endLsn).toBeLessThanOrEqual(END + 8n * 1024n * 1024n);
            // Every mtr that ends before the first damaged byte is exactly the original.
            for (const [i, m] of mtrs.entries()) {
              if (m.endLsn <= firstDamage) expect(m.bytes).toEqual(expected[i]!.bytes);
            }
          } catch (e) {
            expect(e).toBeInstanceOf(StrataError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('truncation anywhere ends the log at the last whole mtr', () => {
    const pristine = fixtureLog();
    const expected = fixtureMtrs();
    fc.assert(
      fc.property(fc.integer({ min: Number(START), max: Number(END) }), (cut) => {
        const file = pristine.slice();
        file.fill(0, cut);
        const { mtrs, end } = collect(scanLog(memoryLogSource(file), START));
        const whole = expected.filter((m) => m.endLsn <= BigInt(cut));
        expect(mtrs.length).toBe(whole.length);
        expect(end.endLsn).toBe(whole.at(-1)?.endLsn ?? START);
      }),
      { numRuns: 300 },
    );
  });
});
