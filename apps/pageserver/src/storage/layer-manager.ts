/**
 * Which layer files make up a timeline (Neon's `layer_manager`): the layer
 * map, the files under `layers/`, one open reader per file, and the index
 * (`index.json`) that lists them. Every change to the set of layers goes
 * through here, in an order that survives a crash: files first, then one
 * index naming them, then deletes. New files and indexes are queued for
 * remote storage in that same order.
 *
 * The index also carries timeline state that is not about layers (the
 * tablespace events, aux sets, snapshots, GC state); the other parts change
 * it through `update`, so there is one copy and one writer of the file.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { assert } from '@strata/core';
import { type LayerDesc, LayerMap, layerFileName, parseLayerFileName } from '@strata/core/layers';
import { LayerReader } from './layer-reader.js';
import type { RemoteTimeline } from './remote-timeline.js';
import { encodeMeta, type TimelineMeta, readMeta, writeFileAtomic, writeMeta } from './timeline-meta.js';

/** A layer to list: its bytes to write, or none when a LayerWriter already put the file at `layerPath(desc)`. */
export interface NewLayer {
  readonly desc: LayerDesc;
  readonly bytes?: Uint8Array;
  /** A reader already open on the written file (opened with async reads), to be kept once listed. */
  readonly reader?: LayerReader;
}

export class LayerManager {
  readonly map: LayerMap;
  private readonly readers = new Map<string, LayerReader>();
  /** A logical clock of reader use per layer name: eviction drops the least recently used first. */
  private accessClock = 0;
  private readonly lastAccess = new Map<string, number>();
  private current: TimelineMeta;

  private constructor(
    readonly dir: string,
    meta: TimelineMeta,
    private readonly remote: RemoteTimeline | undefined,
  ) {
    const descs: LayerDesc[] = [];
    for (const name of meta.layers) {
      const d = parseLayerFileName(name);
      assert(d !== undefined, `bad layer name ${name} in index`);
      descs.push(d);
    }
    this.map = new LayerMap(descs);
    this.current = meta;
  }

  /** Reload from index.json; layer files not listed there (a crash before the index was written) are removed. */
  static load(dir: string, remote: RemoteTimeline | undefined): LayerManager {
    const meta = readMeta(dir);
    const layersDir = join(dir, 'layers');
    mkdirSync(layersDir, { recursive: true });
    const listed = new Set(meta.layers);
    for (const f of readdirSync(layersDir)) if (!listed.has(f)) rmSync(join(layersDir, f), { force: true });
    return new LayerManager(dir, meta, remote);
  }

  /** A new timeline directory with its first index. */
  static create(dir: string, meta: TimelineMeta): void {
    mkdirSync(join(dir, 'layers'), { recursive: true });
    writeMeta(dir, meta);
  }

  get meta(): TimelineMeta {
    return this.current;
  }

  /** Change the index in memory, and write it (locally, then queued for remote storage) unless `persist` is false. */
  update(patch: Partial<TimelineMeta>, persist: boolean): void {
    this.current = { ...this.current, ...patch };
    if (persist) this.persist();
  }

  /** Write index.json locally, then queue it for remote storage behind the files it names. */
  persist(): void {
    writeMeta(this.dir, this.current);
    this.remote?.uploadIndex(this.current, encodeMeta(this.current));
  }

  /** Where the file of layer `desc` lives. */
  layerPath(desc: LayerDesc): string {
    return this.pathOf(layerFileName(desc));
  }

  pathOf(name: string): string {
    return join(this.dir, 'layers', name);
  }

  /** The open reader of a layer file (opened on first use), its use recorded for eviction. */
  reader(desc: LayerDesc): LayerReader {
    const name = layerFileName(desc);
    let r = this.readers.get(name);
    if (!r) this.readers.set(name, (r = LayerReader.open(this.pathOf(name))));
    this.lastAccess.set(name, ++this.accessClock);
    return r;
  }

  /**
   * Open the reader of a listed layer file with async reads (its index is
   * checked at open: tens of MiB for a big delta), so the synchronous read
   * pass that follows does not stall the event loop opening it.
   */
  async openReaderAsync(name: string): Promise<void> {
    if (this.readers.has(name) || !this.isListed(name)) return;
    const r = await LayerReader.openAsync(this.pathOf(name));
    // Another read opened it meanwhile, or compaction unlisted it: keep one reader of listed files only.
    if (this.readers.has(name) || !this.isListed(name)) {
      r.close();
      return;
    }
    this.readers.set(name, r);
  }

  /** Take `reader` (opened on the file before it was listed) as the reader of listed layer `desc`, unless one is open already. */
  adoptReader(desc: LayerDesc, reader: LayerReader): boolean {
    const name = layerFileName(desc);
    if (this.readers.has(name) || !this.isListed(name)) return false;
    this.readers.set(name, reader);
    return true;
  }

  /** Every listed layer has its reader open. */
  allReadersOpen(): boolean {
    return this.readers.size >= this.map.size;
  }

  /** Whether the index lists the layer file `name` (compaction and GC unlist what they replace). */
  isListed(name: string): boolean {
    const d = parseLayerFileName(name);
    return d !== undefined && this.map.has(d);
  }

  hasReader(name: string): boolean {
    return this.readers.has(name);
  }

  /** When a layer's reader was last used (0: never since start). */
  lastAccessOf(name: string): number {
    return this.lastAccess.get(name) ?? 0;
  }

  /** Close the reader of a file about to go from local disk (eviction); the next read opens it again. */
  closeReader(name: string): void {
    this.readers.get(name)?.close();
    this.readers.delete(name);
  }

  /**
   * Swap layers in one step (compaction, GC): write the new files, then one
   * index that lists the new and not the old, then delete the old files
   * (locally now, remotely after that index is uploaded). A crash before the
   * index leaves unlisted new files, which load() removes; after it, old
   * files that load() removes too.
   */
  replaceLayers(removed: readonly LayerDesc[], added: ReadonlyArray<NewLayer>): void {
    const removedNames = removed.map(layerFileName);
    const addedNames = added.map((a) => layerFileName(a.desc));
    for (const n of removedNames) assert(this.current.layers.includes(n), `replacing ${n}, which is not in the index`);
    for (const n of addedNames) assert(!removedNames.includes(n) && !this.current.layers.includes(n), `layer ${n} added twice`);
    for (const a of added) {
      const name = layerFileName(a.desc);
      const path = this.pathOf(name);
      if (a.bytes) writeFileAtomic(path, a.bytes);
      else assert(existsSync(path), `layer ${name} was not written`);
      this.remote?.uploadFile(`layers/${name}`, path);
    }
    for (const d of removed) this.map.remove(d);
    for (const a of added) this.map.insert(a.desc);
    const gone = new Set(removedNames);
    this.update({ layers: [...this.current.layers.filter((n) => !gone.has(n)), ...addedNames] }, true);
    for (const name of removedNames) {
      this.closeReader(name);
      this.lastAccess.delete(name);
      rmSync(this.pathOf(name), { force: true });
      this.remote?.deleteFile(`layers/${name}`);
    }
  }

  /** Store a whole layer built elsewhere (import, compaction) and list it in the index. */
  addLayer(desc: LayerDesc, bytes: Uint8Array, patch: Partial<TimelineMeta> = {}): void {
    writeFileAtomic(this.layerPath(desc), bytes);
    this.addWrittenLayer(desc, patch);
  }

  /** List a layer whose file is already in place (written by a LayerWriter), with `patch` in the same index write. */
  addWrittenLayer(desc: LayerDesc, patch: Partial<TimelineMeta> = {}): void {
    const name = layerFileName(desc);
    const path = this.pathOf(name);
    this.remote?.uploadFile(`layers/${name}`, path);
    this.map.insert(desc);
    this.update({ ...patch, layers: [...this.current.layers.filter((n) => n !== name), name] }, true);
  }

  close(): void {
    for (const r of this.readers.values()) r.close();
    this.readers.clear();
  }
}
