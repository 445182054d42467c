import { describe, expect, it } from 'vitest';
import { readU32, writeU32 } from '../bytes.js';
import { CorruptRedo, UnsupportedRedoFormat } from '../errors.js';
import { crc32c } from './crc32c.js';
import {
  buildFreshLogHead,
  LOG_START_OFFSET,
  lsnToOffset,
  parseLogFileHead,
  parseLogHeader,
  rewriteCheckpoints,
  sequenceBit,
} from './log-file.js';
import { LogScanner, memoryLogSource, scanLog } from './log-scan.js';
import { collect, fixtureLog, fixtureMtrs } from './fixture-log.test-util.js';

describe('CRC-32C', () => {
  it('matches the standard check value', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });
  it('continues across split buffers', () => {
    const b = new TextEncoder().encode('The quick brown fox jumps over the lazy dog');
    expect(crc32c(b, 10, b.length, crc32c(b, 0, 10))).toBe(crc32c(b));
  });
});

describe('log header', () => {
  it('rejects a header whose CRC does not match', () => {
    const f = fixtureLog();
    f[20] = f[20]! ^ 1;
    expect(() => parseLogHeader(f)).toThrow(CorruptRedo);
  });
  it('refuses encrypted logs as unsupported, not corrupt', () => {
    const f = fixtureLog();
    writeU32(f, 0, 0xf09f979d);
    expect(() => parseLogHeader(f)).toThrow(UnsupportedRedoFormat);
    const g = fixtureLog();
    writeU32(g, 48, 1);
    writeU32(g, 508, crc32c(g, 0, 508));
    expect(() => parseLogHeader(g)).toThrow(/encryption/);
  });
  it('refuses pre-10.8 formats with a clear reason', () => {
    const f = fixtureLog();
    writeU32(f, 0, 0x50485953);
    expect(() => parseLogHeader(f)).toThrow(/pre-10.8/);
  });
});

describe('checkpoint blocks', () => {
  it('picks the valid block with the larger checkpoint', () => {
    const head = parseLogFileHead(fixtureLog(), 8388608n);
    expect(head.checkpoint.checkpointLsn).toBe(55500n);
  });
  it('falls back to the other block when the newer one is corrupt', () => {
    const f = fixtureLog();
    f[8192 + 3] = f[8192 + 3]! ^ 0xff;
    expect(parseLogFileHead(f, 8388608n).checkpoint.checkpointLsn).toBe(55402n);
  });
  it('fails with CorruptRedo when neither block is valid', () => {
    const f = fixtureLog();
    f[4096 + 40] = 1;
    f[8192 + 40] = 1;
    expect(() => parseLogFileHead(f, 8388608n)).toThrow(/no valid checkpoint/);
  });
});

describe('circular geometry', () => {
  const g = { firstLsn: 12288n, fileSize: 12288n + 1000n };
  it('maps LSNs onto the record area and wraps', () => {
    expect(lsnToOffset(g, 12288n)).toBe(LOG_START_OFFSET);
    expect(lsnToOffset(g, 12288n + 999n)).toBe(LOG_START_OFFSET + 999);
    expect(lsnToOffset(g, 12288n + 1000n)).toBe(LOG_START_OFFSET);
  });
  it('flips the sequence bit on every pass', () => {
    expect(sequenceBit(g, 12288n)).toBe(1);
    expect(sequenceBit(g, 12288n + 1000n)).toBe(0);
    expect(sequenceBit(g, 12288n + 2000n)).toBe(1);
  });
});

/** Lay real mtrs into a small circular file starting at `firstLsn`, with correct end bytes. */
function circularLog(fileSize: number, startLsn: bigint, mtrs: Uint8Array[], firstLsn = 12288n): Uint8Array {
  const file = new Uint8Array(fileSize);
  const head = buildFreshLogHead({ lsn: firstLsn, fileSize: BigInt(fileSize) });
  file.set(head.subarray(0, LOG_START_OFFSET));
  rewriteCheckpoints(file, startLsn, startLsn);
  const g = { firstLsn, fileSize: BigInt(fileSize) };
  let lsn = startLsn;
  for (const m of mtrs) {
    const copy = m.slice();
    const endPos = copy.length - 5;
    copy[endPos] = sequenceBit(g, lsn + BigInt(endPos));
    for (let i = 0; i < copy.length; i++) file[lsnToOffset(g, lsn + BigInt(i))] = copy[i]!;
    lsn += BigInt(copy.length);
  }
  return file;
}

describe('reading a wrapped log', () => {
  it('follows mtrs across the end of the file, on the second pass', () => {
    const real = fixtureMtrs();
    const size = 12288 + 8192;
    // Start near the end of the second pass so the sequence bit is 0 and the log wraps into pass three.
    const start = 12288n + 8192n + 8192n - 3000n;
    const bytes = real.map((m) => m.bytes);
    const total = bytes.reduce((n, b) => n + b.length, 0);
    expect(total).toBeGreaterThan(3000);
    const file = circularLog(size, start, bytes);
    const { mtrs, end } = collect(scanLog(memoryLogSource(file), start));
    expect(mtrs).toHaveLength(real.length);
    expect(end.endLsn).toBe(start + BigInt(total));
    mtrs.forEach((m, i) => expect(m.records).toEqual(real[i]!.records));
  });

  it('LogScanner gives the same mtrs and end across the wrap, one next() at a time, and keeps answering undefined after the end', () => {
    const real = fixtureMtrs();
    const size = 12288 + 8192;
    const start = 12288n + 8192n + 8192n - 3000n;
    const file = circularLog(size, start, real.map((m) => m.bytes));
    const viaGenerator = collect(scanLog(memoryLogSource(file), start));
    const scanner = new LogScanner(memoryLogSource(file), start);
    expect(() => scanner.end).toThrow(/before next\(\) reached it/);
    const got: bigint[] = [];
    for (let m = scanner.next(); m; m = scanner.next()) got.push(m.endLsn);
    expect(got).toEqual(viaGenerator.mtrs.map((m) => m.endLsn));
    expect(scanner.end).toEqual(viaGenerator.end);
    expect(scanner.next()).toBeUndefined();
  });

  it('stops at stale bytes from the previous pass (wrong sequence bit)', () => {
    const real = fixtureMtrs();
    const size = 12288 + 8192;
    const start = 12288n + 8192n - 500n;
    const file = circularLog(size, start, real.slice(0, 10).map((m) => m.bytes));
    // Rewrite the 6th mtr's end byte to last pass's value: the log must end exactly there.
    const g = { firstLsn: 12288n, fileSize: BigInt(size) };
    let lsn = start;
    for (let i = 0; i < 5; i++) lsn += BigInt(real[i]!.bytes.length);
    const endAt = lsn + BigInt(real[5]!.bytes.length - 5);
    file[lsnToOffset(g, endAt)] = file[lsnToOffset(g, endAt)]! ^ 1;
    const { mtrs, end } = collect(scanLog(memoryLogSource(file), start));
    expect(mtrs).toHaveLength(5);
    expect(end.endLsn).toBe(lsn);
    expect(end.reason).toMatch(/sequence bit/);
  });
});

describe('the smallest logs', () => {
  it('reads the 12304-byte log that mariabackup --prepare leaves (head + one FILE_CHECKPOINT mtr)', () => {
    const lsn = 123456n;
    const full = buildFreshLogHead({ lsn, fileSize: 1n << 20n });
    const file = full.slice(0, LOG_START_OFFSET + 16);
    const source = memoryLogSource(file);
    const { mtrs, end } = collect(scanLog(source, lsn));
    expect(mtrs.map((m) => m.records)).toEqual([[{ type: 'FILE_CHECKPOINT', checkpointLsn: lsn }]]);
    expect(end.endLsn).toBe(lsn + 16n);
    expect(() => parseLogFileHead(file.slice(0, LOG_START_OFFSET + 15), BigInt(LOG_START_OFFSET + 15))).toThrow(/too small/);
  });
});

describe('fresh log file', () => {
  it('holds a checkpoint at its LSN and exactly one FILE_CHECKPOINT mtr', () => {
    const lsn = 987654321n;
    const fileSize = 1n << 20n;
    const file = new Uint8Array(Number(fileSize));
    file.set(buildFreshLogHead({ lsn, fileSize }));
    const source = memoryLogSource(file);
    expect(source.head.checkpoint.checkpointLsn).toBe(lsn);
    expect(source.head.header.firstLsn).toBe(lsn);
    const { mtrs, end } = collect(scanLog(source, lsn));
    expect(mtrs).toHaveLength(1);
    expect(mtrs[0]!.records).toEqual([{ type: 'FILE_CHECKPOINT', checkpointLsn: lsn }]);
    expect(end.endLsn).toBe(lsn + 16n);
    expect(readU32(file, 508)).toBe(crc32c(file, 0, 508));
  });
});
