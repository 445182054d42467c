import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { redo } from '@strata/core';
import { layerFileName, type PageKey } from '@strata/core/layers';
import { LSN, SPACE } from '../seed-timeline.test-util.js';
import { LayerManager } from './layer-manager.js';
import { CARRIED_CHAIN_WEIGHT } from './in-memory-layer.js';
import { OpenLayers } from './open-layers.js';
import { collectChains, type ReadableTimeline, rebuild } from './read-path.js';
import { fileMtr, seededDir, straightReplay, turns, writeMtr } from './synthetic-wal.test-util.js';
import { readMeta } from './timeline-meta.js';

interface Harness {
  readonly files: LayerManager;
  readonly mem: OpenLayers;
  read(pageNo: number, lsn: bigint): Uint8Array | undefined;
}

/** A layer manager and open layers over the seeded timeline, reading through the real read path (the seeded space is crc32). */
function harness(timelineDir: string, opts: ConstructorParameters<typeof OpenLayers>[2] = {}): Harness {
  const files = LayerManager.load(timelineDir, undefined);
  const readable: ReadableTimeline = {
    initLsn: files.meta.initLsn,
    pageSize: files.meta.pageSize,
    layerMap: files.map,
    // Called only after `mem` exists (reads happen after construction).
    memoryLayers: () => mem.memoryLayers(),
    reader: (d) => files.reader(d),
    ancestorRead: undefined,
  };
  const readPages = (keys: readonly PageKey[], lsn: bigint) => collectChains(readable, keys, lsn).map((c) => rebuild(c, files.meta.pageSize, 'crc32'));
  const mem = new OpenLayers(files, readPages, opts);
  return { files, mem, read: (pageNo, lsn) => readPages([{ spaceId: SPACE, pageNo }], lsn)[0]?.page };
}

function listedExist(h: Harness): boolean {
  return h.files.meta.layers.every((n) => existsSync(h.files.pathOf(n)));
}

describe('OpenLayers', () => {
  let dataDir: string;
  let timelineDir: string;
  beforeEach(() => ({ dataDir, timelineDir } = seededDir('strata-open-layers-')));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('ingests mtrs in order, skips ones it has, and refuses a gap', () => {
    const h = harness(timelineDir);
    expect(h.mem.lastRecordLsn).toBe(LSN);
    expect(h.mem.ingest(writeMtr(0, 1))).toBe(true);
    expect(h.mem.ingest(writeMtr(0, 1))).toBe(false);
    expect(() => h.mem.ingest(writeMtr(2, 1))).toThrow(/ingest gap/);
    expect(h.mem.lastRecordLsn).toBe(writeMtr(0, 1).endLsn);
    h.mem.close();
    h.files.close();
  });

  it('an mtr touching many pages (past the linear search) keeps each page\'s records, in order', () => {
    const h = harness(timelineDir);
    const start = LSN;
    const records: redo.PageRecord[] = [];
    // 40 pages of space 7, each written twice, interleaved: record order within a page must hold.
    for (let round = 0; round < 2; round++) {
      for (let p = 0; p < 40; p++) records.push({ type: 'WRITE', spaceId: 7, pageNo: p, offset: 300 + round, data: new Uint8Array([p, round]) });
    }
    h.mem.ingest({ startLsn: start, endLsn: start + 500n, records } as redo.Mtr);
    const [m] = h.mem.memoryLayers();
    for (let p = 0; p < 40; p++) {
      const vals = m!.read({ spaceId: 7, pageNo: p }, 0n, start + 1n);
      expect(vals.length).toBe(1);
      const v = vals[0]!;
      expect(v.kind === 'delta' ? v.change.records.map((r) => (r.type === 'WRITE' ? [...r.data] : [])) : []).toEqual([
        [p, 0],
        [p, 1],
      ]);
    }
    h.mem.close();
    h.files.close();
  });

  it('freezes at the checkpoint size of WAL span even when the values are small (the upload lag bound is in WAL bytes)', () => {
    const h = harness(timelineDir, { checkpointBytes: 64 << 10 });
    const rec: redo.PageRecord = { type: 'WRITE', spaceId: SPACE, pageNo: 1, offset: 200, data: new Uint8Array(4) };
    // Two small changes spanning 40 KiB of WAL each: the second crosses 64 KiB of WAL.
    h.mem.ingest({ startLsn: LSN, endLsn: LSN + 40_000n, records: [rec] } as redo.Mtr);
    expect(h.mem.frozenLayers).toBe(0);
    h.mem.ingest({ startLsn: LSN + 40_000n, endLsn: LSN + 80_000n, records: [rec] } as redo.Mtr);
    expect(h.mem.frozenLayers).toBe(1);
    h.mem.close();
    h.files.close();
  });

  it('tells page-change listeners of every page an mtr changes, until they unsubscribe', () => {
    const h = harness(timelineDir);
    const seen: string[] = [];
    const off = h.mem.onPageChange((s, p, lsn) => seen.push(`${s}:${p}@${lsn}`));
    h.mem.ingest(writeMtr(0, 3));
    off();
    h.mem.ingest(writeMtr(1, 3));
    expect(seen).toEqual([`${SPACE}:3@${LSN}`]);
    h.mem.close();
    h.files.close();
  });

  it('a frozen layer is written in the background, read from memory meanwhile, and then listed with diskConsistentLsn', async () => {
    const h = harness(timelineDir);
    const mtrs = Array.from({ length: 300 }, (_, i) => writeMtr(i, 1 + (i % 3)));
    for (const m of mtrs) h.mem.ingest(m);
    const end = mtrs[299]!.endLsn;
    h.mem.freeze();
    expect(h.mem.frozenLayers).toBe(1);
    expect(h.mem.memoryLayers()).toHaveLength(2);
    expect(h.mem.openLayerBytes).toBe(0);
    expect(h.mem.memoryLayerBytes).toBeGreaterThan(0);
    expect(Buffer.compare(h.read(1, end)!, straightReplay(1, mtrs, 300))).toBe(0);
    await h.mem.flushed();
    expect(h.mem.frozenLayers).toBe(0);
    expect(h.mem.lastFlushError).toBeNull();
    expect(readMeta(timelineDir).diskConsistentLsn).toBe(end);
    expect(h.files.map.all().filter((d) => d.kind === 'delta')).toHaveLength(1);
    // From the file now, the same page.
    expect(Buffer.compare(h.read(1, end)!, straightReplay(1, mtrs, 300))).toBe(0);
    expect(readdirSync(join(timelineDir, 'layers')).filter((f) => f.endsWith('.writing') || f.endsWith('.tmp'))).toEqual([]);
    h.mem.close();
    h.files.close();
  });

  it('freezes by itself at checkpointBytes, and frozenAtMost waits until the writes catch up', async () => {
    const h = harness(timelineDir, { checkpointBytes: 8 << 10 });
    for (let i = 0; i < 2_000; i++) h.mem.ingest(writeMtr(i, 1 + (i % 3)));
    expect(h.mem.frozenLayers).toBeGreaterThan(1);
    await h.mem.frozenAtMost(0);
    expect(h.mem.frozenLayers).toBe(0);
    await h.mem.flushed();
    expect(listedExist(h)).toBe(true);
    h.mem.close();
    h.files.close();
  });

  it('flush writes every in-memory layer synchronously and moves diskConsistentLsn to the last record', () => {
    const h = harness(timelineDir);
    for (let i = 0; i < 100; i++) h.mem.ingest(writeMtr(i, 1));
    h.mem.flush();
    expect(h.mem.frozenLayers).toBe(0);
    expect(readMeta(timelineDir).diskConsistentLsn).toBe(h.mem.lastRecordLsn);
    expect(listedExist(h)).toBe(true);
    // Nothing new: a flush lists nothing.
    const layers = h.files.meta.layers.length;
    h.mem.flush();
    expect(h.files.meta.layers).toHaveLength(layers);
    h.mem.close();
    h.files.close();
  });

  it('[REGRESSION] a flush() at any point of a background write never loses the layer file it lists', async () => {
    const h = harness(timelineDir, { checkpointBytes: 1 << 30 });
    let i = 0;
    // Each round freezes, lets the background write get `k` event-loop turns in (so the flush lands
    // in every stage: values, finish, rename, directory fsync), then flushes synchronously.
    for (let k = 0; k < 120; k++) {
      for (let j = 0; j < 50; j++) h.mem.ingest(writeMtr(i++, 1 + (j % 3)));
      h.mem.freeze();
      await turns(k % 40);
      h.mem.flush();
      await h.mem.flushed();
      expect(listedExist(h), `round ${k}`).toBe(true);
    }
    expect(readMeta(timelineDir).diskConsistentLsn).toBe(h.mem.lastRecordLsn);
    h.mem.close();
    h.files.close();
    // And a restart reads every page from the files.
    const again = harness(timelineDir);
    expect(again.read(1, again.mem.lastRecordLsn)).toBeDefined();
    again.files.close();
  }, 60_000);

  it('close stops a background write: nothing is listed and no file is left once it ends', async () => {
    const h = harness(timelineDir);
    for (let i = 0; i < 3_000; i++) h.mem.ingest(writeMtr(i, 1 + (i % 3)));
    const before = readMeta(timelineDir);
    h.mem.freeze();
    await turns(2);
    h.mem.close();
    await h.mem.flushed();
    expect(readMeta(timelineDir)).toEqual(before);
    h.files.close();
    // Whatever the write left is unlisted, and load removes it.
    LayerManager.load(timelineDir, undefined).close();
    expect(readdirSync(join(timelineDir, 'layers'))).toEqual(before.layers);
  });

  it('a failing write is retried, shown in lastFlushError meanwhile, and cleared once it succeeds', async () => {
    const h = harness(timelineDir);
    for (let i = 0; i < 100; i++) h.mem.ingest(writeMtr(i, 1));
    const layersDir = join(timelineDir, 'layers');
    const aside = join(timelineDir, 'layers-aside');
    renameSync(layersDir, aside);
    h.mem.freeze();
    const deadline = Date.now() + 5_000;
    while (!h.mem.lastFlushError && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(h.mem.lastFlushError?.message).toMatch(/ENOENT/);
    expect(h.mem.frozenLayers).toBe(1);
    renameSync(aside, layersDir);
    await h.mem.flushed();
    expect(h.mem.lastFlushError).toBeNull();
    expect(h.mem.frozenLayers).toBe(0);
    expect(listedExist(h)).toBe(true);
    h.mem.close();
    h.files.close();
  });

  it('images a hot page in the open layer so its chain stays bounded, with the page unchanged', () => {
    const h = harness(timelineDir, { hotChainValues: 16 });
    const mtrs = Array.from({ length: 200 }, (_, i) => writeMtr(i, 1));
    for (const m of mtrs) h.mem.ingest(m);
    expect(h.mem.hotImages).toBe(Math.floor(200 / 16));
    const lsn = mtrs[199]!.endLsn;
    const readable: ReadableTimeline = { initLsn: LSN, pageSize: h.files.meta.pageSize, layerMap: h.files.map, memoryLayers: () => h.mem.memoryLayers(), reader: (d) => h.files.reader(d), ancestorRead: undefined };
    const [chain] = collectChains(readable, [{ spaceId: SPACE, pageNo: 1 }], lsn);
    expect(chain!.values.length).toBeLessThanOrEqual(16 + 1);
    for (const at of [1, 16, 17, 100, 200]) expect(Buffer.compare(h.read(1, mtrs[at - 1]!.endLsn)!, straightReplay(1, mtrs, at)), `after ${at}`).toBe(0);
    h.mem.close();
    h.files.close();
  });

  it('counts a page\'s chain across a freeze, so a page changed a little in every layer is imaged too', () => {
    const h = harness(timelineDir, { hotChainValues: 16 });
    const mtrs = Array.from({ length: 60 }, (_, i) => writeMtr(i, 1));
    // 12 changes per open layer: never 16 within one. Earlier layers' values count a quarter: the third
    // layer reaches 16 at its 10th change (10 + 24 / 4), with at most 16 / CARRIED_CHAIN_WEIGHT values along the chain.
    for (let i = 0; i < 60; i++) {
      h.mem.ingest(mtrs[i]!);
      if (i % 12 === 11) h.mem.freeze();
    }
    expect(h.mem.hotImages).toBe(1);
    const readable: ReadableTimeline = { initLsn: LSN, pageSize: h.files.meta.pageSize, layerMap: h.files.map, memoryLayers: () => h.mem.memoryLayers(), reader: (d) => h.files.reader(d), ancestorRead: undefined };
    const [chain] = collectChains(readable, [{ spaceId: SPACE, pageNo: 1 }], mtrs[59]!.endLsn);
    expect(chain!.values.length).toBeLessThanOrEqual(16 / CARRIED_CHAIN_WEIGHT + 1);
    for (const at of [10, 16, 30, 49, 60]) expect(Buffer.compare(h.read(1, mtrs[at - 1]!.endLsn)!, straightReplay(1, mtrs, at)), `after ${at}`).toBe(0);
    h.mem.close();
    h.files.close();
  });

  it('tablespace events are kept in the index and persisted with the layer that holds them', () => {
    const h = harness(timelineDir);
    h.mem.ingest(fileMtr(0, 'FILE_CREATE', 9, './db/new.ibd'));
    expect(h.files.meta.tablespaces.at(-1)).toMatchObject({ kind: 'create', spaceId: 9, path: 'db/new.ibd' });
    expect(readMeta(timelineDir).tablespaces).toHaveLength(1);
    h.mem.flush();
    expect(readMeta(timelineDir).tablespaces.at(-1)).toMatchObject({ kind: 'create', spaceId: 9 });
    // An mtr without page values: no layer file, the LSN still moves.
    expect(h.files.meta.layers.filter((n) => n !== layerFileName(h.files.map.all()[0]!))).toEqual([]);
    expect(readMeta(timelineDir).diskConsistentLsn).toBe(h.mem.lastRecordLsn);
    h.mem.close();
    h.files.close();
  });

  it('after a restart, replayed tablespace events the index already holds are not logged twice', () => {
    const h = harness(timelineDir);
    h.mem.ingest(fileMtr(0, 'FILE_CREATE', 9, 'db/new.ibd'));
    // Any index write (a snapshot, an LSN-time point) persists the event before its layer is written.
    h.files.persist();
    h.mem.close();
    h.files.close();
    const again = harness(timelineDir);
    expect(again.mem.lastRecordLsn).toBe(LSN);
    again.mem.ingest(fileMtr(0, 'FILE_CREATE', 9, 'db/new.ibd'));
    again.mem.ingest(fileMtr(1, 'FILE_DELETE', 9, 'db/new.ibd'));
    expect(again.files.meta.tablespaces.map((e) => `${e.kind}:${e.spaceId}`)).toEqual([`create:${SPACE}`, 'create:9', 'delete:9']);
    again.mem.close();
    again.files.close();
  });
});
