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
  type PageValue,
  parseLayerFileName,
  reconstructPage,
} from '@strata/core/layers';
import { LsnBeforeGcHorizon, LsnNotYetAvailable, PageNotFound } from './errors.js';
import { InMemoryLayer } from './in-memory-layer.js';
import { LayerReader } from './layer-reader.js';
import type { RemoteTimeline } from './remote-timeline.js';
import { encodeMeta, type TablespaceEvent, type TimelineMeta, readMeta, writeFileAtomic, writeMeta } from './timeline-meta.js';

/** The parts of the index that admin routes and background work (snapshots, LSN ↔ time, GC) change. */
export type TimelineMetaPatch = Partial<Pick<TimelineMeta, 'snapshots' | 'lsnTimes' | 'gc'>>;
export type NewTimelineMeta = Omit<TimelineMeta, keyof TimelineMetaPatch> & TimelineMetaPatch;

export interface TimelineOptions {
  /** Freeze the open layer into a delta layer file once it holds this many bytes. */
  readonly checkpointBytes?: number;
  /** The ancestor, for reads below the branch point. */
  readonly ancestor?: Timeline;
  /** The timeline's copy in remote storage: every new layer and index is uploaded; evicted layers come back from here. */
  readonly remote?: RemoteTimeline;
}

export interface PageResult {
  readonly page: Uint8Array;
  /** FIL_PAGE_LSN of the returned page. */
  readonly lsn: bigint;
}

type Waiter = { lsn: bigint; resolve: () => void };

/** Told of every page an ingested mtr changes, with the mtr's start LSN (the memory page cache closes its open versions). */
export type PageChangeListener = (spaceId: number, pageNo: number, startLsn: bigint) => void;

export class Timeline {
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
  replaceLayers(removed: readonly LayerDesc[], added: ReadonlyArray<{ desc: LayerDesc; bytes: Uint8Array }>): void {
    const removedNames = removed.map(layerFileName);
    const addedNames = added.map((a) => layerFileName(a.desc));
    for (const n of removedNames) assert(this.meta.layers.includes(n), `replacing ${n}, which is not in the index`);
    for (const n of addedNames) assert(!removedNames.includes(n) && !this.meta.layers.includes(n), `layer ${n} added twice`);
    for (const a of added) {
      const name = layerFileName(a.desc);
      const path = join(this.dir, 'layers', name);
      writeFileAtomic(path, a.bytes);
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

  /** A layer file of this timeline, downloaded first if it was evicted (compaction reads whole layers). */
  async openLayer(desc: LayerDesc): Promise<LayerReader> {
    await this.ensureLocal(layerFileName(desc));
    return this.reader(desc);
  }

  /** Store a whole layer built elsewhere (import, compaction) and list it in the index. */
  addLayer(desc: LayerDesc, bytes: Uint8Array, patch: Partial<TimelineMeta> = {}): void {
    const name = layerFileName(desc);
    const path = join(this.dir, 'layers', name);
    writeFileAtomic(path, bytes);
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
    if (perPage) {
      for (const { key, records } of perPage.values()) {
        this.open.put(key, { startLsn: m.startLsn, endLsn: m.endLsn, records });
        for (const l of this.pageChangeListeners) l(key.spaceId, key.pageNo, m.startLsn);
      }
    }
    if (events.length) this.meta = { ...this.meta, tablespaces: [...this.meta.tablespaces, ...events] };
    this.open.advance(m.endLsn);
    this.lastRecord = m.endLsn;
    this.wake();
    if (this.open.sizeBytes >= (this.options.checkpointBytes ?? 64 << 20)) this.flush();
  }

  /** Freeze the open layer into a delta layer file and advance diskConsistentLsn. */
  flush(): void {
    const layer = this.open;
    if (layer.endLsn === layer.startLsn) return;
    const patch = { diskConsistentLsn: layer.endLsn, tablespaces: this.meta.tablespaces };
    if (layer.entryCount > 0) {
      const desc: LayerDesc = { kind: 'delta', keyStart: KEY_MIN, keyEnd: KEY_MAX, lsnStart: layer.startLsn, lsnEnd: layer.endLsn };
      this.addLayer(desc, encodeLayer(desc, layer.sortedEntries()), patch);
    } else {
      this.meta = { ...this.meta, ...patch };
      this.persistMeta();
    }
    this.open = new InMemoryLayer(layer.endLsn);
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

  private reader(desc: LayerDesc): LayerReader {
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

  /**
   * The page as of `lsn` (an mtr end LSN already ingested), or undefined if
   * it does not exist then (never written, or freed).
   */
  getPageRaw(key: PageKey, lsn: bigint): PageResult | undefined {
    if (lsn > this.lastRecord) throw new LsnNotYetAvailable(lsn, this.lastRecord, 0);
    if (lsn < this.gcHorizon) this.checkReadable(lsn);
    const plan = this.map.plan(key, lsn);
    let image: { page: Uint8Array; lsn: bigint } | undefined;
    if (plan.image) {
      const v = this.reader(plan.image).read(key, plan.image.lsnStart, plan.image.lsnEnd)[0];
      if (v?.kind === 'image') image = { page: v.page, lsn: v.lsn };
    }
    // An image layer holds every page of its key range as of its LSN, so the
    // deltas to apply start at the layer's LSN (a merged delta may reach
    // below it), and a page the layer lacks did not exist then: no fall
    // through to the ancestor.
    const floor = plan.image ? plan.image.lsnStart : this.meta.initLsn;
    if (!plan.image && this.options.ancestor && this.meta.ancestor) {
      const base = this.options.ancestor.getPageRaw(key, this.meta.ancestor.lsn);
      if (base) image = { page: base.page, lsn: this.meta.ancestor.lsn };
    }
    const values: PageValue[] = [];
    for (const d of plan.deltas) values.push(...this.reader(d).read(key, floor, lsn));
    if (this.open.startLsn < lsn) values.push(...this.open.read(key, floor > this.open.startLsn ? floor : this.open.startLsn, lsn));
    const changes: redo.PageChange[] = [];
    for (const v of values) if (v.kind === 'delta') changes.push(v.change);
    changes.sort((a, b) => (a.startLsn < b.startLsn ? -1 : a.startLsn > b.startLsn ? 1 : 0));
    const r = reconstructPage(image, changes, this.meta.pageSize, this.algorithmFor(key, lsn, image, changes));
    return r.kind === 'page' ? { page: r.page, lsn: r.lsn } : undefined;
  }

  getPage(key: PageKey, lsn: bigint): PageResult {
    const r = this.getPageRaw(key, lsn);
    if (!r) throw new PageNotFound(key.spaceId, key.pageNo, lsn);
    return r;
  }

  /** A space's checksum format, from its page 0 (flags rarely change; cached until page 0 is logged again). */
  private algorithmFor(key: PageKey, lsn: bigint, image: { page: Uint8Array; lsn: bigint } | undefined, changes: redo.PageChange[]): redo.ChecksumAlgorithm {
    const cached = this.flagsBySpace.get(key.spaceId);
    if (cached) return cached.fullCrc32 ? 'full_crc32' : 'crc32';
    let flags: redo.SpaceFlags | undefined;
    if (key.pageNo === 0) {
      // Rebuild page 0 unstamped to learn its own flags.
      const probe = reconstructPage(image, changes, this.meta.pageSize, 'full_crc32');
      if (probe.kind === 'page') flags = redo.decodeSpaceFlags(redo.readFspHeader(probe.page).flags);
    } else {
      const p0 = this.getPageRaw({ spaceId: key.spaceId, pageNo: 0 }, lsn);
      if (p0) flags = redo.decodeSpaceFlags(redo.readFspHeader(p0.page).flags);
    }
    if (!flags) return 'full_crc32';
    this.flagsBySpace.set(key.spaceId, flags);
    return flags.fullCrc32 ? 'full_crc32' : 'crc32';
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

  close(): void {
    for (const r of this.readers.values()) r.close();
    this.readers.clear();
  }

  static exists(dir: string): boolean {
    return existsSync(join(dir, 'index.json'));
  }
}
