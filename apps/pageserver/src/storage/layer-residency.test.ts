import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalFsStorage } from '@strata/remote-storage';
import { encodeLayer, encodePageValue, type LayerDesc, layerFileName } from '@strata/core/layers';
import { LSN, page, ROOT, SPACE, TENANT } from '../seed-timeline.test-util.js';
import { LayerFileMissing } from './errors.js';
import { LayerManager } from './layer-manager.js';
import { LayerResidency, type ResidentAncestor } from './layer-residency.js';
import { RemoteTimeline } from './remote-timeline.js';
import { seededDir } from './synthetic-wal.test-util.js';

/** An image layer of pages [pageNo, pageNo + 1) of the seeded space at `lsn`. */
function imageLayer(pageNo: number, lsn: bigint): { desc: LayerDesc; bytes: Uint8Array } {
  const desc: LayerDesc = { kind: 'image', keyStart: { spaceId: SPACE, pageNo }, keyEnd: { spaceId: SPACE, pageNo: pageNo + 1 }, lsnStart: lsn, lsnEnd: lsn + 1n };
  return { desc, bytes: encodeLayer(desc, [{ key: { spaceId: SPACE, pageNo }, lsn, value: encodePageValue({ kind: 'image', lsn, page: page(pageNo) }) }]) };
}

const knowsFlags = () => true;

describe('LayerResidency', () => {
  let dataDir: string;
  let timelineDir: string;
  let remoteDir: string;
  let remote: RemoteTimeline;
  let files: LayerManager;
  let residency: LayerResidency;
  const a = imageLayer(1, LSN + 10n);
  const b = imageLayer(3, LSN + 20n);

  beforeEach(async () => {
    ({ dataDir, timelineDir } = seededDir('strata-residency-'));
    remoteDir = mkdtempSync(join(tmpdir(), 'strata-residency-remote-'));
    remote = new RemoteTimeline(new LocalFsStorage(remoteDir), RemoteTimeline.prefixFor(TENANT, ROOT));
    files = LayerManager.load(timelineDir, remote);
    residency = new LayerResidency(files, remote, undefined);
    files.addLayer(a.desc, a.bytes);
    files.addLayer(b.desc, b.bytes);
    // The seeded layer was written without remote storage: a full upload sends it.
    residency.scheduleLayerUploads();
    await remote.drain();
  });
  afterEach(() => {
    files.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(remoteDir, { recursive: true, force: true });
  });

  it('evicts the least recently read uploaded layers until the budget holds, and downloads what a read needs', async () => {
    for (const n of files.meta.layers) expect(remote.isUploaded(n)).toBe(true);
    expect(residency.isAllLocal()).toBe(true);
    const total = residency.localLayerBytes();
    // Read b last: a and the seed layer are older.
    files.reader(a.desc);
    files.reader(b.desc);
    const bBytes = files.reader(b.desc).sizeBytes;
    const evicted = residency.evictLayers(bBytes);
    expect(evicted).not.toContain(layerFileName(b.desc));
    expect(evicted).toContain(layerFileName(a.desc));
    expect(residency.localLayerBytes()).toBeLessThanOrEqual(bBytes);
    expect(residency.localLayerBytes()).toBeLessThan(total);
    expect(residency.isAllLocal()).toBe(false);
    // A read of page 1 needs a (its image): downloaded; the seed layer stays evicted.
    await residency.prepareRead({ spaceId: SPACE, pageNo: 1 }, LSN + 100n, knowsFlags);
    expect(existsSync(files.layerPath(a.desc))).toBe(true);
    expect(residency.isAllLocal()).toBe(false);
    await residency.ensureAllLocal();
    expect(residency.isAllLocal()).toBe(true);
    expect(residency.localLayerBytes()).toBe(total);
  });

  it('a layer compaction replaced while a download was awaited is not fetched (remote storage no longer has it)', async () => {
    residency.evictLayers(0);
    expect(existsSync(files.layerPath(a.desc))).toBe(false);
    // Compaction swaps `a` out: its file goes locally and remotely.
    files.replaceLayers([a.desc], []);
    await remote.drain();
    await residency.ensureLocal(layerFileName(a.desc));
    expect(existsSync(files.layerPath(a.desc))).toBe(false);
    // Every listed layer still comes back.
    await residency.ensureAllLocal();
    expect(residency.isAllLocal()).toBe(true);
  });

  it('a read of a page whose checksum format is unknown brings page 0 too', async () => {
    residency.evictLayers(0);
    await residency.prepareRead({ spaceId: SPACE, pageNo: 3 }, LSN + 100n, () => false);
    expect(existsSync(files.layerPath(b.desc))).toBe(true);
    // Page 0 lives in the seeded layer.
    const seed = files.map.all().find((d) => d.lsnStart === LSN)!;
    expect(existsSync(files.layerPath(seed))).toBe(true);
    expect(existsSync(files.layerPath(a.desc))).toBe(false);
  });

  it('evicts nothing while pinned (here or through a descendant), and an unpin counts once', () => {
    const unpin = residency.pin();
    expect(residency.evictLayers(0)).toEqual([]);
    unpin();
    unpin();
    expect(residency.pinCount).toBe(0);
    const child = new LayerResidency(files, remote, { prepareRead: async () => undefined, pin: () => residency.pin(), isAllLocal: () => residency.isAllLocal(), isReadyToRead: () => residency.isReadyToRead(), openAllReaders: () => residency.openAllReaders(), ensureAllLocal: () => residency.ensureAllLocal() } satisfies ResidentAncestor);
    const unpinChild = child.pin();
    expect(residency.pinCount).toBe(1);
    expect(residency.evictLayers(0)).toEqual([]);
    unpinChild();
    expect(residency.evictLayers(0).length).toBe(files.meta.layers.length);
  });

  it('only uploaded layers are evicted', () => {
    const c = imageLayer(2, LSN + 30n);
    files.addLayer(c.desc, c.bytes);
    // Queued, not uploaded yet (the drain is not awaited).
    expect(remote.isUploaded(layerFileName(c.desc))).toBe(false);
    expect(residency.evictLayers(0)).not.toContain(layerFileName(c.desc));
    expect(existsSync(files.layerPath(c.desc))).toBe(true);
  });

  it('without remote storage nothing is evicted, and a missing layer is a LayerFileMissing', async () => {
    const local = new LayerResidency(files, undefined, undefined);
    expect(local.evictLayers(0)).toEqual([]);
    rmSync(files.layerPath(a.desc));
    expect(local.isAllLocal()).toBe(false);
    await expect(local.ensureLocal(layerFileName(a.desc))).rejects.toBeInstanceOf(LayerFileMissing);
  });
});
