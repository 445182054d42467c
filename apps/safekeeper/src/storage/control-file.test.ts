import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ControlFileCorrupt } from '../errors.js';
import { tempDir } from '../app.test-util.js';
import { CONTROL_FILE_NAME, encodeControl, readControlFile, writeControlFile, type TimelineControl } from './control-file.js';

const base: TimelineControl = {
  formatVersion: 1,
  nodeId: 1,
  tenantId: '0123456789abcdef0123456789abcdef',
  timelineId: '00000000000000000000000000000001',
  conf: { generation: 1, members: [1, 2, 3] },
  term: 0n,
  termHistory: [],
  timelineStartLsn: 1000n,
  walFlushLsn: 1000n,
  commitLsn: 1000n,
  backupLsn: 1000n,
  remoteConsistentLsn: 1000n,
  peerHorizonLsn: 1000n,
  createdAt: '2026-01-02T03:04:05.000Z',
};

describe('control file', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(() => cleanup());

  it('round-trips every field, bigints as decimal strings', async () => {
    const c: TimelineControl = {
      ...base,
      term: 7n,
      termHistory: [
        { term: 3n, lsn: 1000n },
        { term: 7n, lsn: 18446744073709551615n },
      ],
      walFlushLsn: 5000n,
      commitLsn: 4000n,
      consensus: { anything: ['the owner validates it'] },
    };
    await writeControlFile(dir, c);
    expect(await readControlFile(dir)).toEqual(c);
    const text = await readFile(join(dir, CONTROL_FILE_NAME), 'utf8');
    expect(text).toContain('"18446744073709551615"');
  });

  it('a crash between the temp write and the rename leaves the old file valid', async () => {
    await writeControlFile(dir, base);
    const crash = new Error('crash before rename');
    await expect(
      writeControlFile(dir, { ...base, term: 9n }, {
        beforeRename: () => {
          throw crash;
        },
      }),
    ).rejects.toBe(crash);
    // The durable temp file is there, the control file is the old one.
    expect((await readdir(dir)).sort()).toEqual(['control.json', 'control.json.tmp']);
    expect((await readControlFile(dir)).term).toBe(0n);
    // Loading discards the leftover temp file.
    expect(await readdir(dir)).toEqual(['control.json']);
  });

  it('a torn temp file from a crash mid-write is ignored', async () => {
    await writeControlFile(dir, base);
    await writeFile(join(dir, 'control.json.tmp'), '{"formatVersion": 1, "nodeId"');
    expect(await readControlFile(dir)).toEqual(base);
  });

  it('rejects corrupt and invalid files with ControlFileCorrupt', async () => {
    await expect(readControlFile(dir)).rejects.toThrow(/missing/);
    await writeFile(join(dir, CONTROL_FILE_NAME), '{not json');
    await expect(readControlFile(dir)).rejects.toBeInstanceOf(ControlFileCorrupt);
    await writeFile(join(dir, CONTROL_FILE_NAME), encodeControl(base).replace('"term": "0"', '"term": "-1"'));
    await expect(readControlFile(dir)).rejects.toThrow(/term: must be a decimal/);
    await writeFile(join(dir, CONTROL_FILE_NAME), encodeControl(base).replace('"formatVersion": 1', '"formatVersion": 2'));
    await expect(readControlFile(dir)).rejects.toThrow(/formatVersion/);
  });

  it('refuses to write a state that breaks its invariants, keeping the old file', async () => {
    await writeControlFile(dir, base);
    await expect(writeControlFile(dir, { ...base, commitLsn: 2000n })).rejects.toThrow(/commitLsn beyond walFlushLsn/);
    await expect(
      writeControlFile(dir, { ...base, termHistory: [{ term: 2n, lsn: 1000n }, { term: 2n, lsn: 1000n }] }),
    ).rejects.toThrow(/termHistory not ascending/);
    await expect(writeControlFile(dir, { ...base, conf: { generation: 1, members: [1, 1] } })).rejects.toThrow(/distinct/);
    expect(await readControlFile(dir)).toEqual(base);
  });
});
