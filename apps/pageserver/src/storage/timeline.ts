/**
 * One timeline on the page server: the facade that wires its parts, as
 * Neon's `timeline.rs` wires `layer_manager`, the in-memory layers, the
 * read path and the remote client. Each part does one job:
 *
 *   layer-manager.ts    the layer map, layer files, readers, index.json
 *   open-layers.ts      WAL ingest into the open layer, freezing, background flush
 *   read-path.ts        vectored GetPage@LSN over memory, delta and image layers
 *   layer-residency.ts  downloads from remote storage, pins, eviction
 *   lsn-waiters.ts      reads waiting for an LSN to be ingested
 *   aux-store.ts        tablespace directory and aux-file sets
 *
 * Durability: `diskConsistentLsn` (in index.json) is the LSN below which
 * every change is in a layer file. After a restart ingest resumes there; the
 * safekeepers keep WAL until the page server reports it persisted.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type AuxFile, redo } from '@strata/core';
import { type LayerDesc, type LayerMap, layerFileName, type PageKey } from '@strata/core/layers';
import { AuxStore, tablespacesAt } from './aux-store.js';
import { LsnBeforeGcHorizon, LsnNotYetAvailable, PageNotFound } from './errors.js';
import type { InMemoryLayer } from './in-memory-layer.js';
import { LayerManager, type NewLayer } from './layer-manager.js';
import type { LayerReader } from './layer-reader.js';
import { LayerResidency } from './layer-residency.js';
import { LsnWaiters } from './lsn-waiters.js';
import { OpenLayers, type PageChangeListener } from './open-layers.js';
import { collectChains, type PageBase, type PageResult, type ReadableTimeline, type ReadStats, rebuild, spaceFlagsAt } from './read-path.js';
import type { RemoteTimeline } from './remote-timeline.js';
import { encodeMeta, type TimelineMeta } from './timeline-meta.js';

export { DEFAULT_HOT_CHAIN_BYTES, DEFAULT_HOT_CHAIN_VALUES, type PageChangeListener } from './open-layers.js';
export type { NewLayer } from './layer-manager.js';
export type { PageResult };

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

export class Timeline implements ReadableTimeline {
  private readonly files: LayerManager;
  private readonly memory: OpenLayers;
  private readonly residency: LayerResidency;
  private readonly waiters: LsnWaiters;
  private readonly aux: AuxStore;
  /**
   * A tablespace's checksum format, from its page 0; forgotten when a record may change it (not on
   * every page-0 write: a growing tablespace logs its size there all the time, and relearning meant
   * rebuilding page 0 for every read).
   */
  private readonly flagsBySpace = new Map<number, redo.SpaceFlags>();
  /** From meta.gc, kept as fields because every read checks them. */
  private gcHorizon = 0n;
  private gcRetained = new Set<bigint>();

  private constructor(
    files: LayerManager,
    private readonly options: TimelineOptions,
  ) {
    this.files = files;
    this.memory = new OpenLayers(files, (keys, lsn) => this.getPages(keys, lsn), options);
    this.memory.onSpaceFlagsChange((spaceId) => this.flagsBySpace.delete(spaceId));
    this.residency = new LayerResidency(files, options.remote, options.ancestor);
    this.waiters = new LsnWaiters(this.memory.lastRecordLsn);
    this.aux = new AuxStore(files, options.remote, options.ancestor);
    this.applyGcState();
  }

  private applyGcState(): void {
    const gc = this.files.meta.gc;
    this.gcHorizon = gc?.horizon ?? 0n;
    this.gcRetained = new Set(gc?.retained ?? []);
  }

  /** A new timeline directory; fields added to the index later (snapshots, LSN ↔ time, GC) may be left out. */
  static create(dir: string, meta: NewTimelineMeta, options: TimelineOptions = {}): Timeline {
    LayerManager.create(dir, { snapshots: [], lsnTimes: [], gc: null, ...meta });
    return Timeline.load(dir, options);
  }

  /** Reload from index.json; layer files not listed there (a crash before the index was written) are removed. */
  static load(dir: string, options: TimelineOptions = {}): Timeline {
    return new Timeline(LayerManager.load(dir, options.remote), options);
  }

  static exists(dir: string): boolean {
    return existsSync(join(dir, 'index.json'));
  }

  get dir(): string {
    return this.files.dir;
  }
  get tenantId(): string {
    return this.files.meta.tenantId;
  }
  get timelineId(): string {
    return this.files.meta.timelineId;
  }
  get pageSize(): number {
    return this.files.meta.pageSize;
  }
  get initLsn(): bigint {
    return this.files.meta.initLsn;
  }
  get ancestorLsn(): bigint | undefined {
    return this.files.meta.ancestor?.lsn;
  }
  get lastRecordLsn(): bigint {
    return this.memory.lastRecordLsn;
  }
  get diskConsistentLsn(): bigint {
    return this.files.meta.diskConsistentLsn;
  }
  get logFileSize(): bigint {
    return this.files.meta.logFileSize;
  }
  get layers(): LayerDesc[] {
    return this.files.map.all();
  }
  get metaSnapshot(): TimelineMeta {
    return this.files.meta;
  }

  // ---- the index and layer files (layer-manager.ts) ----

  /** Change snapshots, the LSN ↔ time map or the GC state, and persist the index (locally and to remote storage) unless `persist` is false. */
  patchMeta(patch: TimelineMetaPatch, persist = true): void {
    this.files.update(patch, persist);
    if (patch.gc !== undefined) this.applyGcState();
  }

  /** Swap layers in one step (compaction, GC): new files, then one index, then the old files go. */
  replaceLayers(removed: readonly LayerDesc[], added: ReadonlyArray<NewLayer>): void {
    this.files.replaceLayers(removed, added);
    for (const a of added) if (a.reader && !this.files.adoptReader(a.desc, a.reader)) a.reader.close();
    this.residency.layersChanged();
  }

  /** Where the file of layer `desc` lives. */
  layerPath(desc: LayerDesc): string {
    return this.files.layerPath(desc);
  }

  /**
   * A layer file of this timeline, downloaded first if it was evicted (compaction reads whole layers).
   * Pin the timeline before and while using it: eviction may run at any await, this one included.
   */
  async openLayer(desc: LayerDesc): Promise<LayerReader> {
    await this.residency.ensureLocal(layerFileName(desc));
    return this.reader(desc);
  }

  /** Store a whole layer built elsewhere (import, compaction) and list it in the index. */
  addLayer(desc: LayerDesc, bytes: Uint8Array, patch: Partial<TimelineMeta> = {}): void {
    this.files.addLayer(desc, bytes, patch);
  }

  /** List a layer whose file is already in place (written by a LayerWriter). */
  addWrittenLayer(desc: LayerDesc, patch: Partial<TimelineMeta> = {}): void {
    this.files.addWrittenLayer(desc, patch);
  }

  reader(desc: LayerDesc): LayerReader {
    return this.files.reader(desc);
  }

  get layerMap(): LayerMap {
    return this.files.map;
  }

  // ---- ingest and the in-memory layers (open-layers.ts) ----

  /** Fold one committed mtr in. mtrs must arrive in LSN order, starting at `lastRecordLsn`. */
  ingest(m: redo.Mtr): void {
    if (this.memory.ingest(m)) this.waiters.advance(this.memory.lastRecordLsn);
  }

  get openLayerBytes(): number {
    return this.memory.openLayerBytes;
  }
  /** Page images written into open layers because a page's chain grew long (since start). */
  get hotImages(): number {
    return this.memory.hotImages;
  }
  /** Why the last background write of a frozen layer failed (it is retried). */
  get lastFlushError(): { message: string; atMs: number } | null {
    return this.memory.lastFlushError;
  }
  /** Frozen layers waiting to be written; ingest waits above a few. */
  get frozenLayers(): number {
    return this.memory.frozenLayers;
  }
  /** Bytes held in memory by the open and frozen layers. */
  get memoryLayerBytes(): number {
    return this.memory.memoryLayerBytes;
  }

  /** Close the open layer and write it out in the background; diskConsistentLsn moves when it is listed. */
  freeze(): void {
    this.memory.freeze();
  }

  /** Resolves when no more than `max` frozen layers wait to be written: ingest's backpressure. */
  frozenAtMost(max: number): Promise<void> {
    return this.memory.frozenAtMost(max);
  }

  /** Write every in-memory layer to disk now, synchronously (branch creation, shutdown, the admin route). */
  flush(): void {
    this.memory.flush();
  }

  /** Wait for background layer writes under way (shutdown, tests). */
  flushed(): Promise<void> {
    return this.memory.flushed();
  }

  /** In-memory layers (the open one and those being written out), newest first. */
  memoryLayers(): readonly InMemoryLayer[] {
    return this.memory.memoryLayers();
  }

  /** Subscribe to the pages ingest changes (synchronously, before `lastRecordLsn` moves); returns the unsubscribe. */
  onPageChange(listener: PageChangeListener): () => void {
    return this.memory.onPageChange(listener);
  }

  // ---- waiting for ingest (lsn-waiters.ts) ----

  /** Resolve once `lsn` is ingested, or throw LsnNotYetAvailable after `timeoutMs` (or when the timeline closes, or `signal` aborts). */
  async waitForLsn(lsn: bigint, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (lsn <= this.lastRecordLsn) return;
    const t0 = Date.now();
    await this.waiters.wait(lsn, timeoutMs, signal);
    if (lsn > this.lastRecordLsn) throw new LsnNotYetAvailable(lsn, this.lastRecordLsn, Date.now() - t0);
  }

  // ---- local and remote layer files (layer-residency.ts) ----

  /** Make sure every layer a read of `key` at `lsn` needs is on local disk (downloading evicted ones). */
  prepareRead(key: PageKey, lsn: bigint): Promise<void> {
    return this.residency.prepareRead(key, lsn, (spaceId) => this.flagsBySpace.has(spaceId));
  }

  /**
   * Queue every local file of this timeline (layers, aux files) and then its
   * index for upload: after an import or branch built in a temporary
   * directory, or to re-seed an empty bucket.
   */
  /** What the remote index `remoteMeta` says is in remote storage: its layers and aux sets (after a restart). */
  markRemote(remoteMeta: TimelineMeta): void {
    const remote = this.options.remote;
    if (!remote) return;
    const auxSets = remoteMeta.auxSets.filter((lsn) => this.files.meta.auxSets.includes(lsn));
    remote.markUploaded([...remoteMeta.layers.map((n) => `layers/${n}`), ...this.aux.keysOf(auxSets)], remoteMeta.diskConsistentLsn);
  }

  scheduleFullUpload(): void {
    const remote = this.options.remote;
    if (!remote) return;
    this.residency.scheduleLayerUploads();
    this.aux.scheduleUploads();
    const meta = this.files.meta;
    remote.uploadIndex(meta, encodeMeta(meta));
  }

  /** The LSN below which everything is in remote storage (the disk-consistent LSN without remote storage). */
  get remoteConsistentLsn(): bigint {
    return this.options.remote ? this.options.remote.remoteConsistentLsn : this.files.meta.diskConsistentLsn;
  }

  /** The timeline this one branched from, for reads below the branch point. */
  get ancestorTimeline(): Timeline | undefined {
    return this.options.ancestor;
  }

  get remote(): RemoteTimeline | undefined {
    return this.options.remote;
  }

  /** Keep every local layer of this timeline (and its ancestors) on disk until the returned function is called. */
  pin(): () => void {
    return this.residency.pin();
  }

  /** Every layer of this timeline and its ancestors is on local disk: reads need no download check. */
  /** Every layer here and in the ancestors is local and open: GetPage needs no preparation. */
  isReadyToRead(): boolean {
    return this.residency.isReadyToRead();
  }

  /** Open every local layer's reader (async reads), here and in the ancestors. */
  openAllReaders(): Promise<void> {
    return this.residency.openAllReaders();
  }

  isAllLocal(): boolean {
    return this.residency.isAllLocal();
  }

  /** Download every layer of this timeline (and its ancestors) that is not on local disk. */
  ensureAllLocal(): Promise<void> {
    return this.residency.ensureAllLocal();
  }

  /** Bytes of layer files on local disk. */
  localLayerBytes(): number {
    return this.residency.localLayerBytes();
  }

  /** Evict least recently used uploaded layer files until local layers fit `budgetBytes`; returns the names evicted. */
  evictLayers(budgetBytes: number): string[] {
    return this.residency.evictLayers(budgetBytes);
  }

  /** GetPage@LSN that may wait for remote downloads. */
  async getPageAsync(key: PageKey, lsn: bigint): Promise<PageResult | undefined> {
    await this.prepareRead(key, lsn);
    return this.getPageRaw(key, lsn);
  }

  // ---- reads (read-path.ts does the work) ----

  get ancestorRead(): { timeline: Timeline; lsn: bigint } | undefined {
    const branch = this.files.meta.ancestor;
    return this.options.ancestor && branch ? { timeline: this.options.ancestor, lsn: branch.lsn } : undefined;
  }

  /** Throw LsnBeforeGcHorizon unless a read at `lsn` is still possible after GC. */
  checkReadable(lsn: bigint): void {
    if (lsn < this.gcHorizon && !this.gcRetained.has(lsn)) throw new LsnBeforeGcHorizon(lsn, this.gcHorizon);
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
   * best; the result is in the order of `keys`. `bases` (per key, optional)
   * are versions rebuilt earlier on this timeline to start from (read-path.ts).
   */
  getPages(keys: readonly PageKey[], lsn: bigint, stats?: ReadStats, bases?: ReadonlyArray<PageBase | undefined>): Array<PageResult | undefined> {
    const t0 = stats ? performance.now() : 0;
    if (lsn > this.lastRecordLsn) throw new LsnNotYetAvailable(lsn, this.lastRecordLsn, 0);
    if (lsn < this.gcHorizon) this.checkReadable(lsn);
    // Page 0 of a tablespace first: its flags say how the others are checksummed.
    let probed: Set<number> | undefined;
    for (const k of keys) {
      if (this.flagsBySpace.has(k.spaceId) || probed?.has(k.spaceId)) continue;
      this.learnFlags(k.spaceId, lsn, stats);
      (probed ??= new Set()).add(k.spaceId);
    }
    const chains = collectChains(this, keys, lsn, stats, bases);
    const t1 = stats ? performance.now() : 0;
    const out: Array<PageResult | undefined> = new Array(keys.length);
    const pageSize = this.pageSize;
    for (let i = 0; i < chains.length; i++) {
      out[i] = rebuild(chains[i]!, pageSize, redo.checksumAlgorithmOf(this.flagsBySpace.get(keys[i]!.spaceId)));
    }
    if (stats) {
      stats.collectMs += t1 - t0;
      stats.applyMs += performance.now() - t1;
    }
    return out;
  }

  getPage(key: PageKey, lsn: bigint): PageResult {
    const r = this.getPageRaw(key, lsn);
    if (!r) throw new PageNotFound(key.spaceId, key.pageNo, lsn);
    return r;
  }

  /** A space's checksum format, from its page 0 (flags rarely change; cached until page 0 is logged again). */
  private learnFlags(spaceId: number, lsn: bigint, stats: ReadStats | undefined): void {
    const flags = spaceFlagsAt(this, spaceId, lsn, stats);
    // Not cached while page 0 is missing: it may be written later.
    if (flags) this.flagsBySpace.set(spaceId, flags);
  }

  // ---- tablespaces and aux files (aux-store.ts) ----

  /** Tablespaces (space id → datadir path) as of `lsn`. */
  tablespacesAt(lsn: bigint): Map<number, string> {
    return tablespacesAt(this.files.meta.tablespaces, lsn);
  }

  /** The newest aux-file set at or below `lsn` (directory), from this timeline or its ancestor. */
  auxDirAt(lsn: bigint): string | undefined {
    return this.aux.auxDirAt(lsn);
  }

  /** Stores `files` (datadir-relative paths already checked to stay inside it) as the aux set valid from `lsn`. */
  putAuxSet(lsn: bigint, files: readonly AuxFile[]): number {
    return this.aux.putAuxSet(lsn, files);
  }

  /** Background layer writes stop (one in flight lists nothing), waiters wake, layer files close. */
  close(): void {
    this.memory.close();
    this.waiters.close();
    this.files.close();
  }
}
