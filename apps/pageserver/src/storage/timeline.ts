/**
 * One timeline on the page server: its layer files on local disk, the open
 * in-memory layer fed by WAL ingest, and GetPage@LSN over both.
 *
 * Durability: `diskConsistentLsn` (in index.json) is the LSN below which
 * every change is in a layer file. After a restart ingest resumes there; the
 * safekeepers keep WAL until the page server reports it persisted.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { listFiles } from '@strata/datadir';
import { assert, type AuxFile, isSafeRelativePath, redo } from '@strata/core';
import {
  encodeLayer,
  KEY_MAX,
  KEY_MIN,
  type LayerDesc,
  LayerMap,
  layerFileName,
  type PageKey,
  parseLayerFileName,
} from '@strata/core/layers';
import { LsnBeforeGcHorizon, LsnNotYetAvailable, PageNotFound } from './errors.js';
import { InMemoryLayer } from './in-memory-layer.js';
import { LayerReader } from './layer-reader.js';
import { LayerWriter } from './layer-writer.js';
import { collectChains, type PageResult, type ReadableTimeline, rebuild, spaceFlagsAt } from './read-path.js';
import type { RemoteTimeline } from './remote-timeline.js';
import { encodeMeta, type TablespaceEvent, type TimelineMeta, readMeta, writeFileAtomic, writeMeta } from './timeline-meta.js';

/** The parts of the index that admin routes and background work (snapshots, LSN ↔ time, GC) change. */
export type TimelineMetaPatch = Partial<Pick<TimelineMeta, 'snapshots' | 'lsnTimes' | 'gc'>>;
export type NewTimelineMeta = Omit<TimelineMeta, keyof TimelineMetaPatch> & TimelineMetaPatch;

export interface TimelineOptions {
  /** Freeze the open layer into a delta layer file once it holds this many bytes. */
  readonly checkpointBytes?: number;
  /**
   * Write an image of a page into the open layer once this many changes to it
   * have been stored since its last image or INIT/FREE (or `hotChainBytes` of
   * them): the bound on what one page's reconstruction reads per layer.
   */
  readonly hotChainValues?: number;
  readonly hotChainBytes?: number;
  /** The ancestor, for reads below the branch point. */
  readonly ancestor?: Timeline;
  /** The timeline's copy in remote storage: every new layer and index is uploaded; evicted layers come back from here. */
  readonly remote?: RemoteTimeline;
}

export type { PageResult };

export const DEFAULT_HOT_CHAIN_VALUES = 256;
export const DEFAULT_HOT_CHAIN_BYTES = 256 << 10;

type Waiter = { lsn: bigint; resolve: () => void };

/** A layer to list: its bytes to write, or none when a LayerWriter already put the file at `layerPath(desc)`. */
export interface NewLayer {
  readonly desc: LayerDesc;
  readonly bytes?: Uint8Array;
}

/** Told of every page an ingested mtr changes, with the mtr's start LSN (the memory page cache closes its open versions). */
export type PageChangeListener = (spaceId: number, pageNo: number, startLsn: bigint) => void;

export class Timeline implements ReadableTimeline {
  private readonly map: LayerMap;
  private readonly readers = new Map<string, LayerReader>();
  private open: InMemoryLayer;
  private lastRecord: bigint;
  private waiters: Waiter[] = [];
  private readonly flagsBySpace = new Map<number, redo.SpaceFlags>();
  /** From meta.gc, kept as fields because getPageRaw checks them on every read. */
  private gcHorizon = 0n;
  private gcRetained = new Set<bigint>();
  private pageChangeListeners: PageChangeListener[] = [];

  private constructor(
    readonly dir: string,
    private meta: TimelineMeta,
    private readonly options: TimelineOptions,
  ) {
    const descs: LayerDesc[] = [];
    for (const name of meta.layers) {
      const d = parseLayerFileName(name);
      assert(d !== undefined, `bad layer name ${name} in index`);
      descs.push(d);
    }
    this.map = new LayerMap(descs);
    this.open = new InMemoryLayer(meta.diskConsistentLsn);
    this.lastRecord = meta.diskConsistentLsn;
    this.applyGcState();
  }

  private applyGcState(): void {
    this.gcHorizon = this.meta.gc?.horizon ?? 0n;
    this.gcRetained = new Set(this.meta.gc?.retained ?? []);
  }

  /** A new timeline directory; fields added to the index later (snapshots, LSN ↔ time, GC) may be left out. */
  static create(dir: string, meta: NewTimelineMeta, options: TimelineOptions = {}): Timeline {
    mkdirSync(join(dir, 'layers'), { recursive: true });
    writeMeta(dir, { snapshots: [], lsnTimes: [], gc: null, ...meta });
    return Timeline.load(dir, options);
  }

  /** Reload from index.json; layer files not listed there (a crash before the index was written) are removed. */
  static load(dir: string, options: TimelineOptions = {}): Timeline {
    const meta = readMeta(dir);
    const layersDir = join(dir, 'layers');
    mkdirSync(layersDir, { recursive: true });
    const listed = new Set(meta.layers);
    for (const f of readdirSync(layersDir)) if (!listed.has(f)) rmSync(join(layersDir, f), { force: true });
    return new Timeline(dir, meta, options);
  }

  get tenantId(): string {
    return this.meta.tenantId;
  }
  get timelineId(): string {
    return this.meta.timelineId;
  }
  get pageSize(): number {
    return this.meta.pageSize;
  }
  get initLsn(): bigint {
    return this.meta.initLsn;
  }
  get ancestorLsn(): bigint | undefined {
    return this.meta.ancestor?.lsn;
  }
  get lastRecordLsn(): bigint {
    return this.lastRecord;
  }
  get diskConsistentLsn(): bigint {
    return this.meta.diskConsistentLsn;
  }
  get logFileSize(): bigint {
    return this.meta.logFileSize;
  }
  get layers(): LayerDesc[] {
    return this.map.all();
  }
  get openLayerBytes(): number {
    return this.open.sizeBytes;
  }
  get metaSnapshot(): TimelineMeta {
    return this.meta;
  }

  /** Write index.json locally, then queue it for remote storage behind the files it names. */
  private persistMeta(): void {
    writeMeta(this.dir, this.meta);
    this.options.remote?.uploadIndex(this.meta, encodeMeta(this.meta));
  }

  /** Change snapshots, the LSN ↔ time map or the GC state, and persist the index (locally and to remote storage) unless `persist` is false. */
  patchMeta(patch: TimelineMetaPatch, persist = true): void {
    this.meta = { ...this.meta, ...patch };
    if (patch.gc !== undefined) this.applyGcState();
    if (persist) this.persistMeta();
  }

  /** Throw LsnBeforeGcHorizon unless a read at `lsn` is still possible after GC. */
  checkReadable(lsn: bigint): void {
    if (lsn < this.gcHorizon && !this.gcRetained.has(lsn)) throw new LsnBeforeGcHorizon(lsn, this.gcHorizon);
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
    for (const n of removedNames) assert(this.meta.layers.includes(n), `replacing ${n}, which is not in the index`);
    for (const n of addedNames) assert(!removedNames.includes(n) && !this.meta.layers.includes(n), `layer ${n} added twice`);
    for (const a of added) {
      const name = layerFileName(a.desc);
      const path = join(this.dir, 'layers', name);
      if (a.bytes) writeFileAtomic(path, a.bytes);
      else assert(existsSync(path), `layer ${name} was not written`);
      this.options.remote?.uploadFile(`layers/${name}`, path);
    }
    for (const d of removed) this.map.remove(d);
    for (const a of added) this.map.insert(a.desc);
    const gone = new Set(removedNames);
    this.meta = { ...this.meta, layers: [...this.meta.layers.filter((n) => !gone.has(n)), ...addedNames] };
    this.persistMeta();
    for (const name of removedNames) {
      this.readers.get(name)?.close();
      this.readers.delete(name);
      this.lastAccess.delete(name);
      rmSync(join(this.dir, 'layers', name), { force: true });
      this.options.remote?.deleteFile(`layers/${name}`);
    }
    this.missingLocal = null;
  }

  /** Where the file of layer `desc` lives. */
  layerPath(desc: LayerDesc): string {
    return join(this.dir, 'layers', layerFileName(desc));
  }

  /** A layer file of this timeline, downloaded first if it was evicted (compaction reads whole layers). */
  async openLayer(desc: LayerDesc): Promise<LayerReader> {
    await this.ensureLocal(layerFileName(desc));
    return this.reader(desc);
  }

  /** Store a whole layer built elsewhere (import, compaction) and list it in the index. */
  addLayer(desc: LayerDesc, bytes: Uint8Array, patch: Partial<TimelineMeta> = {}): void {
    writeFileAtomic(this.layerPath(desc), bytes);
    this.addWrittenLayer(desc, patch);
  }

  /** List a layer whose file is already in place (written by a LayerWriter). */
  addWrittenLayer(desc: LayerDesc, patch: Partial<TimelineMeta> = {}): void {
    const name = layerFileName(desc);
    const path = join(this.dir, 'layers', name);
    this.options.remote?.uploadFile(`layers/${name}`, path);
    this.map.insert(desc);
    this.meta = { ...this.meta, ...patch, layers: [...this.meta.layers.filter((n) => n !== name), name] };
    this.persistMeta();
  }

  // ---- ingest ----

  /** Fold one committed mtr in. mtrs must arrive in LSN order, starting at `lastRecordLsn`. */
  ingest(m: redo.Mtr): void {
    if (m.endLsn <= this.lastRecord) return; // already have it (a resumed stream)
    assert(m.startLsn === this.lastRecord, `ingest gap: expected ${this.lastRecord}, got ${m.startLsn}`);
    let perPage: Map<string, { key: PageKey; records: redo.PageRecord[] }> | undefined;
    const events: TablespaceEvent[] = [];
    for (const r of m.records) {
      if (redo.isPageRecord(r)) {
        perPage ??= new Map();
        const k = `${r.spaceId}:${r.pageNo}`;
        let e = perPage.get(k);
        if (!e) perPage.set(k, (e = { key: { spaceId: r.spaceId, pageNo: r.pageNo }, records: [] }));
        e.records.push(r);
        if (r.pageNo === 0) this.flagsBySpace.delete(r.spaceId);
      } else if (r.type === 'FILE_CREATE' || r.type === 'FILE_DELETE') {
        events.push({ lsn: m.endLsn, kind: r.type === 'FILE_CREATE' ? 'create' : 'delete', spaceId: r.spaceId, path: redo.normalizeDatadirPath(r.path) });
      } else if (r.type === 'FILE_RENAME') {
        events.push({ lsn: m.endLsn, kind: 'rename', spaceId: r.spaceId, path: redo.normalizeDatadirPath(r.newPath) });
      }
    }
    let hot: PageKey[] | undefined;
    if (perPage) {
      const valuesMax = this.options.hotChainValues ?? DEFAULT_HOT_CHAIN_VALUES;
      const bytesMax = this.options.hotChainBytes ?? DEFAULT_HOT_CHAIN_BYTES;
      for (const { key, records } of perPage.values()) {
        const chain = this.open.put(key, { startLsn: m.startLsn, endLsn: m.endLsn, records });
        if (chain.values >= valuesMax || chain.bytes >= bytesMax) (hot ??= []).push(key);
        for (const l of this.pageChangeListeners) l(key.spaceId, key.pageNo, m.startLsn);
      }
    }
    if (events.length) this.meta = { ...this.meta, tablespaces: [...this.meta.tablespaces, ...events] };
    this.open.advance(m.endLsn);
    this.lastRecord = m.endLsn;
    if (hot) this.imageHotPages(hot, m.endLsn);
    this.wake();
    if (this.open.sizeBytes >= (this.options.checkpointBytes ?? 64 << 20)) this.freeze();
  }

  /**
   * Cut the long chains of `keys` (just changed by the mtr ending at
   * `lsn`): their pages as of `lsn` go into the open layer as images, so a
   * read stops there. A page the mtr freed has no image to store; its FREE
   * record already stops reads.
   */
  private imageHotPages(keys: PageKey[], lsn: bigint): void {
    const results = this.getPages(keys, lsn);
    for (let i = 0; i < keys.length; i++) {
      const r = results[i];
      if (r) this.open.putImage(keys[i]!, lsn, r.page, r.lsn);
    }
    this.hotImages += keys.length;
  }

  /** Page images written into open layers because a page's chain grew long (since start). */
  hotImages = 0;

  /** Layers frozen and being written out, oldest first; still read from memory until listed. */
  private frozen: InMemoryLayer[] = [];
  private writing: Promise<void> | null = null;
  /** Why the last background write of a frozen layer failed (it is retried). */
  lastFlushError: { message: string; atMs: number } | null = null;
  private flushWaiters: Array<() => void> = [];

  /** Frozen layers waiting to be written; ingest waits above FROZEN_LAYERS_MAX. */
  get frozenLayers(): number {
    return this.frozen.length;
  }

  /** Bytes held in memory by the open and frozen layers. */
  get memoryLayerBytes(): number {
    let n = this.open.sizeBytes;
    for (const f of this.frozen) n += f.sizeBytes;
    return n;
  }

  /**
   * Close the open layer for writing and write it out in the background (off
   * the request path: async I/O in chunks). Reads keep finding its values in
   * memory until the file is listed; diskConsistentLsn moves then.
   */
  freeze(): void {
    const layer = this.open;
    if (layer.endLsn === layer.startLsn) return;
    this.frozen.push(layer);
    this.open = new InMemoryLayer(layer.endLsn);
    this.writing ??= this.writeFrozen().finally(() => {
      this.writing = null;
      for (const w of this.flushWaiters.splice(0)) w();
    });
  }

  /** Resolves when no more than `max` frozen layers wait to be written: ingest's backpressure. */
  async frozenAtMost(max: number): Promise<void> {
    while (this.frozen.length > max && this.writing) await new Promise<void>((r) => this.flushWaiters.push(r));
  }

  private async writeFrozen(): Promise<void> {
    let failures = 0;
    while (this.frozen.length > 0 && !this.closed) {
      const layer = this.frozen[0]!;
      try {
        await this.writeLayerAsync(layer);
        failures = 0;
        this.lastFlushError = null;
      } catch (e) {
        // A full or failing disk: keep the layer in memory and retry; ingest backpressure bounds what piles up.
        failures++;
        this.lastFlushError = { message: e instanceof Error ? e.message : String(e), atMs: Date.now() };
        await new Promise((r) => setTimeout(r, Math.min(10_000, 100 * 2 ** Math.min(failures, 7))));
      }
      for (const w of this.flushWaiters.splice(0)) w();
    }
  }

  private async writeLayerAsync(layer: InMemoryLayer): Promise<void> {
    if (layer.entryCount === 0) {
      if (this.frozen[0] === layer) this.listFrozen(layer, undefined);
      return;
    }
    const desc: LayerDesc = { kind: 'delta', keyStart: KEY_MIN, keyEnd: KEY_MAX, lsnStart: layer.startLsn, lsnEnd: layer.endLsn };
    const w = await LayerWriter.create(this.layerPath(desc), desc);
    try {
      let n = 0;
      for (const e of layer.entriesInOrder()) {
        await w.add(e.key, e.lsn, e.value);
        // Encoding is synchronous work too: let reads and ingest in between.
        if (++n % 4096 === 0) await new Promise((r) => setImmediate(r));
      }
      // A synchronous flush() may have written this layer meanwhile, or the timeline was closed.
      if (this.frozen[0] !== layer || this.closed) {
        await w.abort();
        return;
      }
      await w.finish();
    } catch (e) {
      await w.abort();
      throw e;
    }
    // finish() awaited: check again before listing.
    if (this.frozen[0] === layer && !this.closed) this.listFrozen(layer, desc);
    else rmSync(this.layerPath(desc), { force: true });
  }

  /** The frozen layer `layer` (the oldest) is on disk as `desc`: list it, move diskConsistentLsn, drop it from memory. */
  private listFrozen(layer: InMemoryLayer, desc: LayerDesc | undefined): void {
    assert(this.frozen[0] === layer, 'frozen layers listed out of order');
    const patch = { diskConsistentLsn: layer.endLsn, tablespaces: this.meta.tablespaces };
    if (desc) this.addWrittenLayer(desc, patch);
    else {
      this.meta = { ...this.meta, ...patch };
      this.persistMeta();
    }
    this.frozen.shift();
  }

  /**
   * Write every frozen layer and the open one to disk now, synchronously, and
   * advance diskConsistentLsn to the last record (branch creation, shutdown,
   * the admin route). A background write in flight notices and drops its copy.
   */
  flush(): void {
    this.freezeOpenOnly();
    while (this.frozen.length > 0) {
      const layer = this.frozen[0]!;
      if (layer.entryCount === 0) {
        this.listFrozen(layer, undefined);
        continue;
      }
      const desc: LayerDesc = { kind: 'delta', keyStart: KEY_MIN, keyEnd: KEY_MAX, lsnStart: layer.startLsn, lsnEnd: layer.endLsn };
      writeFileAtomic(this.layerPath(desc), encodeLayer(desc, layer.sortedEntries()));
      this.listFrozen(layer, desc);
    }
  }

  /** The open layer joins the frozen ones without starting a background write. */
  private freezeOpenOnly(): void {
    const layer = this.open;
    if (layer.endLsn === layer.startLsn) return;
    this.frozen.push(layer);
    this.open = new InMemoryLayer(layer.endLsn);
  }

  /** Wait for background layer writes under way (shutdown, tests). */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** Resolve once `lsn` is ingested, or throw LsnNotYetAvailable after `timeoutMs`. */
  async waitForLsn(lsn: bigint, timeoutMs: number): Promise<void> {
    if (lsn <= this.lastRecord) return;
    const t0 = Date.now();
    await new Promise<void>((resolve) => {
      const w: Waiter = { lsn, resolve };
      this.waiters.push(w);
      setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve();
      }, timeoutMs).unref();
    });
    if (lsn > this.lastRecord) throw new LsnNotYetAvailable(lsn, this.lastRecord, Date.now() - t0);
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.lsn <= this.lastRecord) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  /** Subscribe to the pages ingest changes (synchronously, before `lastRecordLsn` moves); returns the unsubscribe. */
  onPageChange(listener: PageChangeListener): () => void {
    this.pageChangeListeners = [...this.pageChangeListeners, listener];
    return () => {
      this.pageChangeListeners = this.pageChangeListeners.filter((l) => l !== listener);
    };
  }

  // ---- reads ----

  private accessClock = 0;
  private readonly lastAccess = new Map<string, number>();

  reader(desc: LayerDesc): LayerReader {
    const name = layerFileName(desc);
    let r = this.readers.get(name);
    if (!r) this.readers.set(name, (r = LayerReader.open(join(this.dir, 'layers', name))));
    this.lastAccess.set(name, ++this.accessClock);
    return r;
  }

  /**
   * Make sure every layer a read of `key` at `lsn` needs is on local disk,
   * downloading evicted ones from remote storage (and the ancestor's, and
   * page 0's for the checksum format). Then the synchronous read can run.
   */
  async prepareRead(key: PageKey, lsn: bigint): Promise<void> {
    if (this.isAllLocal()) return;
    const keys = key.pageNo === 0 || this.flagsBySpace.has(key.spaceId) ? [key] : [key, { spaceId: key.spaceId, pageNo: 0 }];
    for (const k of keys) {
      const plan = this.map.plan(k, lsn);
      for (const d of plan.image ? [plan.image, ...plan.deltas] : plan.deltas) await this.ensureLocal(layerFileName(d));
      if (!plan.image && this.options.ancestor && this.meta.ancestor) await this.options.ancestor.prepareRead(k, this.meta.ancestor.lsn);
    }
  }

  private async ensureLocal(name: string): Promise<void> {
    const path = join(this.dir, 'layers', name);
    if (this.readers.has(name) || existsSync(path)) return;
    if (!this.options.remote) throw new Error(`layer ${name} of ${this.timelineId} is missing locally and there is no remote storage`);
    await this.options.remote.download(`layers/${name}`, path);
    this.missingLocal = null;
  }

  /**
   * Queue every local file of this timeline (layers, aux files) and then its
   * index for upload: after an import or branch built in a temporary
   * directory, or to re-seed an empty bucket.
   */
  scheduleFullUpload(): void {
    const remote = this.options.remote;
    if (!remote) return;
    for (const name of this.meta.layers) {
      const path = join(this.dir, 'layers', name);
      if (existsSync(path) && !remote.isUploaded(name)) remote.uploadFile(`layers/${name}`, path);
    }
    for (const lsn of this.meta.auxSets) {
      const base = join(this.dir, 'aux', lsn.toString());
      for (const rel of listFiles(base)) remote.uploadFile(`aux/${lsn}/${rel}`, join(base, rel));
    }
    remote.uploadIndex(this.meta, encodeMeta(this.meta));
  }

  /** The LSN below which everything is in remote storage (the disk-consistent LSN without remote storage). */
  get remoteConsistentLsn(): bigint {
    return this.options.remote ? this.options.remote.remoteConsistentLsn : this.meta.diskConsistentLsn;
  }

  /** The timeline this one branched from, for reads below the branch point. */
  get ancestorTimeline(): Timeline | undefined {
    return this.options.ancestor;
  }

  get remote(): RemoteTimeline | undefined {
    return this.options.remote;
  }

  private pins = 0;

  /**
   * Keep every local layer of this timeline (and its ancestors) on disk until
   * the returned function is called: a read that downloaded what it needs and
   * then reads synchronously, or a basebackup stream, must not lose a layer
   * to eviction in between.
   */
  pin(): () => void {
    this.pins++;
    const ancestorUnpin = this.options.ancestor?.pin();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.pins--;
      ancestorUnpin?.();
    };
  }

  /** Layers not on local disk (evicted, or a timeline restored from remote storage); null: not counted yet. */
  private missingLocal: number | null = null;

  /** Every layer of this timeline and its ancestors is on local disk: reads need no download check. */
  isAllLocal(): boolean {
    if (this.missingLocal === null) {
      this.missingLocal = this.meta.layers.filter((n) => !existsSync(join(this.dir, 'layers', n))).length;
    }
    return this.missingLocal === 0 && (this.options.ancestor?.isAllLocal() ?? true);
  }

  /** Download every layer of this timeline (and its ancestors) that is not on local disk. */
  async ensureAllLocal(): Promise<void> {
    for (const name of this.meta.layers) await this.ensureLocal(name);
    this.missingLocal = 0;
    await this.options.ancestor?.ensureAllLocal();
  }

  /** GetPage@LSN that may wait for remote downloads. */
  async getPageAsync(key: PageKey, lsn: bigint): Promise<PageResult | undefined> {
    await this.prepareRead(key, lsn);
    return this.getPageRaw(key, lsn);
  }

  /** Bytes of layer files on local disk. */
  localLayerBytes(): number {
    let n = 0;
    for (const name of this.meta.layers) {
      try {
        n += statSync(join(this.dir, 'layers', name)).size;
      } catch {
        // evicted
      }
    }
    return n;
  }

  /**
   * Evict least recently used layer files that are safely in remote storage
   * until local layers fit `budgetBytes`. Returns the names evicted.
   */
  evictLayers(budgetBytes: number): string[] {
    const remote = this.options.remote;
    if (!remote || this.pins > 0) return [];
    let total = this.localLayerBytes();
    const candidates = this.meta.layers
      .filter((n) => remote.isUploaded(n) && existsSync(join(this.dir, 'layers', n)))
      .sort((a, b) => (this.lastAccess.get(a) ?? 0) - (this.lastAccess.get(b) ?? 0));
    const evicted: string[] = [];
    for (const name of candidates) {
      if (total <= budgetBytes) break;
      const path = join(this.dir, 'layers', name);
      const size = statSync(path).size;
      this.readers.get(name)?.close();
      this.readers.delete(name);
      rmSync(path, { force: true });
      total -= size;
      evicted.push(name);
      this.missingLocal = null;
    }
    return evicted;
  }

  // ---- reads (read-path.ts does the work) ----

  get layerMap(): LayerMap {
    return this.map;
  }

  memoryLayers(): readonly InMemoryLayer[] {
    if (this.frozen.length === 0) return [this.open];
    const out = [this.open];
    for (let i = this.frozen.length - 1; i >= 0; i--) out.push(this.frozen[i]!);
    return out;
  }

  get ancestorRead(): { timeline: Timeline; lsn: bigint } | undefined {
    return this.options.ancestor && this.meta.ancestor ? { timeline: this.options.ancestor, lsn: this.meta.ancestor.lsn } : undefined;
  }

  /**
   * The page as of `lsn` (an mtr end LSN already ingested), or undefined if
   * it does not exist then (never written, or freed).
   */
  getPageRaw(key: PageKey, lsn: bigint): PageResult | undefined {
    return this.getPages([key], lsn)[0];
  }

  /**
   * Several pages as of one LSN, each layer visited once for all of them
   * (basebackup chunks, GetPage batches). Keys sorted by (space, page) read
   * best; the result is in the order of `keys`.
   */
  getPages(keys: readonly PageKey[], lsn: bigint): Array<PageResult | undefined> {
    if (lsn > this.lastRecord) throw new LsnNotYetAvailable(lsn, this.lastRecord, 0);
    if (lsn < this.gcHorizon) this.checkReadable(lsn);
    // Page 0 of a tablespace first: its flags say how the others are checksummed.
    let probed: Set<number> | undefined;
    for (const k of keys) {
      if (this.flagsBySpace.has(k.spaceId) || probed?.has(k.spaceId)) continue;
      this.learnFlags(k.spaceId, lsn);
      (probed ??= new Set()).add(k.spaceId);
    }
    const chains = collectChains(this, keys, lsn);
    const out: Array<PageResult | undefined> = new Array(keys.length);
    for (let i = 0; i < chains.length; i++) {
      const flags = this.flagsBySpace.get(keys[i]!.spaceId);
      out[i] = rebuild(chains[i]!, this.meta.pageSize, !flags || flags.fullCrc32 ? 'full_crc32' : 'crc32');
    }
    return out;
  }

  getPage(key: PageKey, lsn: bigint): PageResult {
    const r = this.getPageRaw(key, lsn);
    if (!r) throw new PageNotFound(key.spaceId, key.pageNo, lsn);
    return r;
  }

  /** A space's checksum format, from its page 0 (flags rarely change; cached until page 0 is logged again). */
  private learnFlags(spaceId: number, lsn: bigint): void {
    const flags = spaceFlagsAt(this, spaceId, lsn);
    // Not cached while page 0 is missing: it may be written later.
    if (flags) this.flagsBySpace.set(spaceId, flags);
  }

  /** Tablespaces (space id → datadir path) as of `lsn`. */
  tablespacesAt(lsn: bigint): Map<number, string> {
    const out = new Map<number, string>();
    for (const e of this.meta.tablespaces) {
      if (e.lsn > lsn) continue;
      if (e.kind === 'delete') out.delete(e.spaceId);
      else out.set(e.spaceId, e.path);
    }
    return out;
  }

  /** The newest aux-file set at or below `lsn` (directory), from this timeline or its ancestor. */
  auxDirAt(lsn: bigint): string | undefined {
    let best: bigint | undefined;
    for (const a of this.meta.auxSets) if (a <= lsn && (best === undefined || a > best)) best = a;
    if (best !== undefined) return join(this.dir, 'aux', best.toString());
    if (this.options.ancestor && this.meta.ancestor) return this.options.ancestor.auxDirAt(this.meta.ancestor.lsn);
    return undefined;
  }

  /**
   * Store a full set of aux files (everything in a datadir the redo log does
   * not describe: .frm, Aria system tables, ...) as of `lsn`. The compute's
   * shipper captures them; import stores the first set.
   */
  /** Stores `files` (datadir-relative paths already checked to stay inside it) as the aux set valid from `lsn`. */
  putAuxSet(lsn: bigint, files: readonly AuxFile[]): number {
    const dest = join(this.dir, 'aux', lsn.toString());
    rmSync(dest, { recursive: true, force: true });
    let n = 0;
    for (const f of files) {
      assert(isSafeRelativePath(f.path), `aux file path ${f.path} leaves the set's directory`);
      mkdirSync(dirname(join(dest, f.path)), { recursive: true });
      writeFileSync(join(dest, f.path), f.data);
      this.options.remote?.uploadFile(`aux/${lsn}/${f.path}`, join(dest, f.path));
      n++;
    }
    if (!this.meta.auxSets.includes(lsn)) {
      this.meta = { ...this.meta, auxSets: [...this.meta.auxSets, lsn].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) };
      this.persistMeta();
    }
    return n;
  }

  private closed = false;

  close(): void {
    this.closed = true;
    for (const r of this.readers.values()) r.close();
    this.readers.clear();
  }

  static exists(dir: string): boolean {
    return existsSync(join(dir, 'index.json'));
  }
}
