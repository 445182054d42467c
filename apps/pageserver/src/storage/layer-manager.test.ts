import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeLayer, encodePageValue, type LayerDesc, layerFileName } from '@strata/core/layers';
import { LSN, page, SPACE } from '../seed-timeline.test-util.js';
import { LayerManager } from './layer-manager.js';
import { seededDir } from './synthetic-wal.test-util.js';
import { readMeta } from './timeline-meta.js';

/** An image layer of page 1 of the seeded space at `lsn`, and its bytes. */
function imageLayer(lsn: bigint, fill: number): { desc: LayerDesc; bytes: Uint8Array } {
  const desc: LayerDesc = { kind: 'image', keyStart: { spaceId: SPACE, pageNo: 1 }, keyEnd: { spaceId: SPACE, pageNo: 2 }, lsnStart: lsn, lsnEnd: lsn + 1n };
  const p = page(1).fill(fill, 200, 300);
  return { desc, bytes: encodeLayer(desc, [{ key: { spaceId: SPACE, pageNo: 1 }, lsn, value: encodePageValue({ kind: 'image', lsn, page: p }) }]) };
}

describe('LayerManager', () => {
  let dataDir: string;
  let timelineDir: string;
  beforeEach(() => ({ dataDir, timelineDir } = seededDir('strata-layer-manager-')));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('load removes layer files the index does not list (a crash between writing a file and the index)', () => {
    const layersDir = join(timelineDir, 'layers');
    const listed = readdirSync(layersDir);
    expect(listed).toHaveLength(1);
    writeFileSync(join(layersDir, 'stray-layer'), 'x');
    writeFileSync(join(layersDir, `${listed[0]}.writing`), 'x');
    const lm = LayerManager.load(timelineDir, undefined);
    expect(readdirSync(layersDir)).toEqual(listed);
    expect(lm.map.all().map(layerFileName)).toEqual(listed);
    lm.close();
  });

  it('replaceLayers writes the new files, then one index with the new and not the old, then deletes the old', () => {
    const lm = LayerManager.load(timelineDir, undefined);
    const a = imageLayer(LSN + 10n, 0xaa);
    lm.addLayer(a.desc, a.bytes);
    const readerA = lm.reader(a.desc);
    const b = imageLayer(LSN + 20n, 0xbb);
    lm.replaceLayers([a.desc], [b]);
    expect(existsSync(lm.layerPath(a.desc))).toBe(false);
    expect(existsSync(lm.layerPath(b.desc))).toBe(true);
    // The removed layer's reader is closed, not left holding a deleted file.
    expect(readerA.fd).toBe(-1);
    const names = readMeta(timelineDir).layers;
    expect(names).toContain(layerFileName(b.desc));
    expect(names).not.toContain(layerFileName(a.desc));
    expect(lm.map.all().map(layerFileName).sort()).toEqual([...names].sort());
    lm.close();
    // What a restart sees is the same set.
    const again = LayerManager.load(timelineDir, undefined);
    expect(again.map.all().map(layerFileName).sort()).toEqual([...names].sort());
    expect(again.reader(b.desc).entryCount).toBe(1);
    again.close();
  });

  it('refuses to replace a layer it does not list, or to list one twice', () => {
    const lm = LayerManager.load(timelineDir, undefined);
    const a = imageLayer(LSN + 10n, 1);
    expect(() => lm.replaceLayers([a.desc], [])).toThrow(/not in the index/);
    lm.addLayer(a.desc, a.bytes);
    expect(() => lm.replaceLayers([], [a])).toThrow(/added twice/);
    // A layer "already written" by a LayerWriter must be there.
    expect(() => lm.replaceLayers([], [{ desc: imageLayer(LSN + 30n, 2).desc }])).toThrow(/was not written/);
    lm.close();
  });

  it('addWrittenLayer lists a file in place together with a patch, in one index write', () => {
    const lm = LayerManager.load(timelineDir, undefined);
    const a = imageLayer(LSN + 10n, 3);
    writeFileSync(lm.layerPath(a.desc), a.bytes);
    lm.addWrittenLayer(a.desc, { diskConsistentLsn: LSN + 11n });
    const meta = readMeta(timelineDir);
    expect(meta.diskConsistentLsn).toBe(LSN + 11n);
    expect(meta.layers).toContain(layerFileName(a.desc));
    lm.close();
  });

  it('update without persist changes memory only; persist writes it', () => {
    const lm = LayerManager.load(timelineDir, undefined);
    lm.update({ lsnTimes: [{ lsn: LSN, timeMs: 1 }] }, false);
    expect(lm.meta.lsnTimes).toHaveLength(1);
    expect(readMeta(timelineDir).lsnTimes).toHaveLength(0);
    lm.persist();
    expect(readMeta(timelineDir).lsnTimes).toHaveLength(1);
    lm.close();
  });

  it('keeps one reader per file and records its use for eviction order', () => {
    const lm = LayerManager.load(timelineDir, undefined);
    const a = imageLayer(LSN + 10n, 4);
    const b = imageLayer(LSN + 20n, 5);
    lm.addLayer(a.desc, a.bytes);
    lm.addLayer(b.desc, b.bytes);
    const ra = lm.reader(a.desc);
    lm.reader(b.desc);
    expect(lm.reader(a.desc)).toBe(ra);
    const na = layerFileName(a.desc);
    const nb = layerFileName(b.desc);
    expect(lm.lastAccessOf(na)).toBeGreaterThan(lm.lastAccessOf(nb));
    expect(lm.lastAccessOf('never-read')).toBe(0);
    lm.closeReader(na);
    expect(lm.hasReader(na)).toBe(false);
    expect(ra.fd).toBe(-1);
    expect(lm.reader(a.desc)).not.toBe(ra);
    lm.close();
  });
});
