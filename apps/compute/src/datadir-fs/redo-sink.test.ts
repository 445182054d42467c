/**
 * The redo sink fed the way MariaDB writes through the FUSE datadir: whole
 * 4 KiB blocks rewritten as they fill, a 0 byte after the last mtr and
 * garbage behind it (stale, CRC-valid mtrs included), wrap-around at the end
 * of the file. The proposer is an in-memory stand-in with commits on demand.
 */
import { describe, expect, it } from 'vitest';
import { redo } from '@strata/core';
import type { ComputeError } from '../errors.js';
import type { ShipperProposer } from '../shipper.js';
import { RedoSink } from './redo-sink.js';

const START = 100_000n;
const FILE_BYTES = 64n * 1024n;
const BLOCK = 4096;

class MemoryProposer implements ShipperProposer {
  status = 'elected';
  commitLsn: bigint;
  endLsn: bigint;
  readonly appended: Array<{ beginLsn: bigint; data: Uint8Array }> = [];
  private waiters: Array<{ lsn: bigint; resolve: () => void }> = [];
  constructor(start: bigint) {
    this.commitLsn = start;
    this.endLsn = start;
  }
  append(beginLsn: bigint, data: Uint8Array): void {
    expect(beginLsn).toBe(this.endLsn);
    this.appended.push({ beginLsn, data });
    this.endLsn += BigInt(data.length);
  }
  commitAll(): void {
    this.commitLsn = this.endLsn;
    const ready = this.waiters.filter((w) => w.lsn <= this.commitLsn);
    this.waiters = this.waiters.filter((w) => w.lsn > this.commitLsn);
    for (const w of ready) w.resolve();
  }
  waitCommitted(lsn: bigint, timeoutMs: number): Promise<void> {
    if (lsn <= this.commitLsn) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = { lsn, resolve };
      this.waiters.push(w);
      setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error('timeout'));
      }, timeoutMs);
    });
  }
}

/** A log file in memory, written by whole blocks like MariaDB's log writer. */
class LogWriter {
  readonly file = new Uint8Array(Number(FILE_BYTES));
  readonly g: redo.LogGeometry = { firstLsn: START, fileSize: FILE_BYTES };
  end: bigint;
  constructor(readonly sink: () => RedoSink) {
    this.file.set(redo.buildFreshLogHead({ lsn: START, fileSize: FILE_BYTES }));
    this.end = START + 16n;
  }
  /** Append `mtrs` after the end and write the blocks they touch, the last one with a 0 and then garbage. */
  write(bytes: Uint8Array, garbage: Uint8Array = new Uint8Array(0)): void {
    const from = this.end;
    const stream = new Uint8Array([...bytes, 0, ...garbage]);
    for (let i = 0; i < stream.length; i++) this.file[redo.lsnToOffset(this.g, from + BigInt(i))] = stream[i]!;
    this.end += BigInt(bytes.length);
    // Whole blocks from the one holding `from` to the one holding the new end, split at the file's end.
    let off = Math.floor(redo.lsnToOffset(this.g, from) / BLOCK) * BLOCK;
    let left = Math.ceil((redo.lsnToOffset(this.g, from) - off + bytes.length + 1) / BLOCK) * BLOCK;
    while (left > 0) {
      const n = Math.min(left, Number(FILE_BYTES) - off);
      this.sink().onWrite(off, n);
      left -= n;
      off = redo.LOG_START_OFFSET;
    }
  }
}

function mtr(tag: bigint, seq = 1): Uint8Array {
  return redo.encodeFileCheckpointMtr(tag, seq);
}

function setup(): { p: MemoryProposer; w: LogWriter; s: RedoSink; fatal: ComputeError[] } {
  const p = new MemoryProposer(START);
  const fatal: ComputeError[] = [];
  const box: { s?: RedoSink } = {};
  const w = new LogWriter(() => box.s!);
  const s = new RedoSink({
    startLsn: START,
    pageSize: 16384,
    geometry: w.g,
    proposer: p,
    readFile: (off, len) => w.file.slice(off, off + len),
    onFatal: (e) => fatal.push(e),
    commitWaitSliceMs: 20,
  });
  box.s = s;
  return { p, w, s, fatal };
}

function shipped(p: MemoryProposer): Uint8Array {
  const out = new Uint8Array(Number(p.endLsn - START));
  for (const a of p.appended) out.set(a.data, Number(a.beginLsn - START));
  return out;
}

describe('RedoSink', () => {
  it('appends each whole mtr as its write arrives, the fresh log\'s own first', () => {
    const { p, w, s } = setup();
    w.write(new Uint8Array([...mtr(1n), ...mtr(2n)]));
    expect(p.endLsn).toBe(START + 48n);
    w.write(mtr(3n));
    expect(s.writtenLsn).toBe(START + 64n);
    expect(shipped(p).subarray(16)).toEqual(new Uint8Array([...mtr(1n), ...mtr(2n), ...mtr(3n)]));
    expect(s.stats().mtrs).toBe(4);
  });

  it('never ships the garbage behind the end, even valid stale mtrs', () => {
    const { p, w } = setup();
    w.write(mtr(1n), new Uint8Array([...mtr(7n), ...mtr(8n)]).subarray(1));
    // The 0 after mtr 1 ends the log; the stale copies behind it are not redo.
    w.write(new Uint8Array(0), mtr(7n));
    expect(p.endLsn).toBe(START + 32n);
    w.write(mtr(2n));
    expect(shipped(p).subarray(16)).toEqual(new Uint8Array([...mtr(1n), ...mtr(2n)]));
  });

  it('follows the log around the end of the file', () => {
    const { p, w, s, fatal } = setup();
    const capacity = Number(FILE_BYTES) - redo.LOG_START_OFFSET;
    let n = 0n;
    while (w.end < START + BigInt(capacity) + 200n) {
      // The second pass over the file has the other sequence bit.
      const seq = redo.sequenceBit(w.g, w.end + 15n);
      w.write(mtr(++n, seq));
      p.commitAll();
    }
    expect(fatal).toEqual([]);
    expect(s.writtenLsn).toBe(w.end);
    expect(p.endLsn).toBe(w.end);
  });

  it('an fsync waits until the quorum committed everything written before it', async () => {
    const { p, w, s } = setup();
    w.write(mtr(1n));
    let done = false;
    const f = s.waitDurable().then(() => {
      done = true;
    });
    // Several slices pass while the quorum is away: the fsync keeps waiting, and says so.
    await new Promise((r) => setTimeout(r, 70));
    expect(done).toBe(false);
    expect(s.commitsWaiting).toBe(1);
    expect(s.stats().commitWaitMs).toBeGreaterThanOrEqual(50);
    p.commitAll();
    await f;
    expect(done).toBe(true);
    expect(s.commitsWaiting).toBe(0);
    // Nothing new written: the next fsync returns at once.
    await s.waitDurable();
  });

  it('an fsync also waits for the barrier begun with it (aux files changed before it being stored)', async () => {
    const { p, w, s } = setup();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    s.barrier = () => held;
    w.write(mtr(1n));
    p.commitAll();
    let done = false;
    const f = s.waitDurable().then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    release();
    await f;
    expect(done).toBe(true);
  });

  it('a new proposer after a membership change gets what its quorum lacks', () => {
    const { p, w, s } = setup();
    w.write(mtr(1n));
    p.commitAll();
    w.write(mtr(2n));
    s.pause();
    w.write(mtr(3n));
    const q = new MemoryProposer(START + 32n);
    s.replaceProposer(q, START + 32n);
    expect(q.endLsn).toBe(START + 64n);
  });
});
