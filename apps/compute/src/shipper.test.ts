/**
 * The shipper against a real file that a test writes the way MariaDB does:
 * a fresh log (writeFreshLog), then mtrs appended in place, the last one in
 * two writes (a torn tail that must wait), a checkpoint moved past redo that
 * the file no longer holds (must stop, never skip). The proposer is an
 * in-memory stand-in that records appends and commits on demand.
 */
import { mkdtempSync, openSync, readSync, closeSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redo } from '@strata/core';
import { writeFreshLog } from '@strata/datadir';
import type { ComputeError } from './errors.js';
import { type FlushedLsnGate, RedoShipper, type ShipperProposer } from './shipper.js';

const START = 100_000n;
const FILE_BYTES = 1n << 20n;

class MemoryProposer implements ShipperProposer {
  status = 'elected';
  commitLsn: bigint;
  endLsn: bigint;
  readonly appended: Array<{ beginLsn: bigint; data: Uint8Array }> = [];
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
  }
  waitCommitted(lsn: bigint): Promise<void> {
    this.commitAll();
    return lsn <= this.commitLsn ? Promise.resolve() : Promise.reject(new Error('not committed'));
  }
}

let dir: string;
let logPath: string;

/** Write `bytes` at the file position of `lsn` (no wrap in these tests). */
function writeAt(lsn: bigint, bytes: Uint8Array): void {
  const fd = openSync(logPath, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, redo.lsnToOffset({ firstLsn: START, fileSize: FILE_BYTES }, lsn));
  } finally {
    closeSync(fd);
  }
}

function setCheckpoint(lsn: bigint): void {
  const fd = openSync(logPath, 'r+');
  try {
    const head = new Uint8Array(redo.LOG_START_OFFSET);
    readSync(fd, head, 0, head.length, 0);
    redo.rewriteCheckpoints(head, lsn, lsn);
    writeSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
}

/** A valid 16-byte mtr (FILE_CHECKPOINT) for the first pass over the file. */
function mtr(tag: bigint): Uint8Array {
  return redo.encodeFileCheckpointMtr(tag, 1);
}

const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-shipper-'));
  logPath = join(dir, 'ib_logfile0');
  writeFreshLog(logPath, START, FILE_BYTES);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function shipper(p: MemoryProposer, fatal: ComputeError[] = []): RedoShipper {
  return new RedoShipper({ logPath, startLsn: START, pageSize: 16384, proposer: p, pollMs: 2, onFatal: (e) => fatal.push(e) });
}

describe('RedoShipper', () => {
  it('ships whole mtrs as they appear, waits for a torn tail, stamps and measures them', async () => {
    const p = new MemoryProposer(START);
    const s = shipper(p);
    s.start();
    await tick();
    // The fresh log's own FILE_CHECKPOINT mtr at START is the first thing shipped.
    expect(p.endLsn).toBe(START + 16n);
    writeAt(START + 16n, new Uint8Array([...mtr(1n), ...mtr(2n)]));
    const torn = mtr(3n);
    writeAt(START + 48n, torn.subarray(0, 9));
    await tick();
    expect(p.endLsn).toBe(START + 48n);
    writeAt(START + 57n, torn.subarray(9));
    await tick();
    expect(p.endLsn).toBe(START + 64n);
    const bytes = new Uint8Array(Number(p.endLsn - START));
    for (const a of p.appended) bytes.set(a.data, Number(a.beginLsn - START));
    expect(bytes.subarray(16)).toEqual(new Uint8Array([...mtr(1n), ...mtr(2n), ...torn]));
    expect(s.stats().lagBytes).toBe(64n);
    p.commitAll();
    await tick();
    const st = s.stats();
    expect(st.lagBytes).toBe(0n);
    expect(st.mtrs).toBe(4);
    expect(s.stamps().at(-1)?.lsn).toBe(START + 64n);
    expect(await s.drain(1000)).toBe(START + 64n);
    s.close();
  });

  it('with a flushed-LSN gate, ships nothing past what MariaDB has flushed, and the rest once it has', async () => {
    let flushed = START + 16n;
    const listeners: Array<() => void> = [];
    let refreshes = 0;
    const gate: FlushedLsnGate = { current: () => flushed, refresh: () => void refreshes++, onChange: (fn) => void listeners.push(fn) };
    const p = new MemoryProposer(START);
    const s = new RedoShipper({ logPath, startLsn: START, pageSize: 16384, proposer: p, pollMs: 2, onFatal: () => undefined, flushedLsn: gate });
    s.start();
    // Two valid mtrs past the flushed LSN: what a read racing the write of the last block can decode from its garbage.
    writeAt(START + 16n, new Uint8Array([...mtr(1n), ...mtr(2n)]));
    await tick();
    expect(p.endLsn).toBe(START + 16n);
    expect(refreshes).toBeGreaterThan(0);
    expect(s.stats().gatedRounds).toBeGreaterThan(0);
    flushed = START + 32n;
    for (const fn of listeners) fn();
    await tick();
    expect(p.endLsn).toBe(START + 32n);
    flushed = START + 48n;
    for (const fn of listeners) fn();
    await tick();
    expect(p.endLsn).toBe(START + 48n);
    s.close();
  });

  it('stops with CheckpointOvertookShipper when the checkpoint passes redo the file no longer holds', async () => {
    const p = new MemoryProposer(START);
    const fatal: ComputeError[] = [];
    const s = shipper(p, fatal);
    s.start();
    await tick();
    writeAt(START + 16n, mtr(1n));
    await tick();
    expect(p.endLsn).toBe(START + 32n);
    // The server wrote more and checkpointed past it, but those bytes are gone (overwritten by a later pass: wrong sequence bit).
    writeAt(START + 32n, redo.encodeFileCheckpointMtr(5n, 0));
    setCheckpoint(START + 64n);
    await tick();
    expect(fatal.map((e) => e.code)).toEqual(['CheckpointOvertookShipper']);
    expect(p.endLsn).toBe(START + 32n);
    await expect(s.drain(100)).rejects.toMatchObject({ code: 'CheckpointOvertookShipper' });
    s.close();
  });

  it('a checkpoint ahead of the shipper is fine while the file still holds the redo', async () => {
    const p = new MemoryProposer(START);
    const fatal: ComputeError[] = [];
    writeAt(START + 16n, new Uint8Array([...mtr(1n), ...mtr(2n)]));
    setCheckpoint(START + 48n);
    const s = shipper(p, fatal);
    s.start();
    await tick();
    expect(fatal).toEqual([]);
    expect(p.endLsn).toBe(START + 48n);
    s.close();
  });

  it('stops with RedoLogChanged when the file no longer holds the mtr it shipped (a stale block was read)', async () => {
    const p = new MemoryProposer(START);
    const fatal: ComputeError[] = [];
    const s = shipper(p, fatal);
    s.start();
    await tick();
    writeAt(START + 16n, mtr(1n));
    await tick();
    expect(p.endLsn).toBe(START + 32n);
    // What was shipped at START + 16 is replaced by another valid mtr: the shipper must not go on from there.
    writeAt(START + 16n, mtr(9n));
    await tick();
    expect(fatal.map((e) => e.code)).toEqual(['RedoLogChanged']);
    expect(fatal[0]?.message).toMatch(/no longer holds the mtr shipped at LSN 100016/);
    s.close();
  });

  it('a torn first read (new bytes, then a stale valid mtr of the old block\'s garbage) is read again, never shipped', async () => {
    const p = new MemoryProposer(START);
    const fatal: ComputeError[] = [];
    let tearNext = false;
    const stale = mtr(7n);
    const s = new RedoShipper({
      logPath,
      startLsn: START,
      pageSize: 16384,
      proposer: p,
      pollMs: 2,
      onFatal: (e) => fatal.push(e),
      pread: (fd, buf, offset, length, position) => {
        const got = readSync(fd, buf, offset, length, position);
        if (tearNext && got >= 16) {
          // The read raced MariaDB's pwrite of this block: it saw the old version's garbage, a stale CRC-valid mtr.
          tearNext = false;
          buf.set(stale, offset);
        }
        return got;
      },
    });
    s.start();
    await tick();
    writeAt(START + 16n, mtr(1n));
    await tick();
    expect(p.endLsn).toBe(START + 32n);
    tearNext = true;
    writeAt(START + 32n, mtr(2n));
    await tick();
    await tick();
    expect(fatal.map((e) => e.message)).toEqual([]);
    expect(p.endLsn).toBe(START + 48n);
    const shipped = Buffer.concat(p.appended.map((a) => a.data));
    expect(shipped.subarray(32, 48).equals(Buffer.from(mtr(2n)))).toBe(true);
    expect(s.stats().tornReads).toBe(1);
    s.close();
  });
});
