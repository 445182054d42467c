/**
 * The in-memory side of a timeline (Neon's open and frozen in-memory
 * layers): WAL ingest goes into the open layer; a full open layer is frozen
 * and written to a delta layer file in the background, while reads keep
 * finding its values in memory until the file is listed. Hot pages get an
 * image in the open layer, so no page's chain grows without bound.
 *
 * Durability: `diskConsistentLsn` moves only when a frozen layer's file is
 * listed in the index; after a restart ingest resumes there.
 */
import { renameSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { assert, redo } from '@strata/core';
import { encodeLayer, KEY_MAX, KEY_MIN, type LayerDesc, type PageKey } from '@strata/core/layers';
import { InMemoryLayer } from './in-memory-layer.js';
import type { LayerManager } from './layer-manager.js';
import { LayerReader } from './layer-reader.js';
import { LayerWriter } from './layer-writer.js';
import type { PageResult } from './read-path.js';
import { type TablespaceEvent, writeFileAtomic } from './timeline-meta.js';

/**
 * A chain of 256 values (~700 records on B-tree pages) took ~1 ms to apply on
 * an idle core and 5–80 ms on the soak's busy two, above the 2 ms GetPage
 * goal; 64 keeps hot pages at a quarter of that. The images cost about the
 * same work in all (each applies the changes since the last one once), and
 * 16 KiB per 64 changes of the few pages that hot.
 */
export const DEFAULT_HOT_CHAIN_VALUES = 64;
export const DEFAULT_HOT_CHAIN_BYTES = 64 << 10;
export const DEFAULT_CHECKPOINT_BYTES = 64 << 20;

/** Told of every page an ingested mtr changes, with the mtr's start LSN (the memory page cache closes its open versions). */
export type PageChangeListener = (spaceId: number, pageNo: number, startLsn: bigint) => void;

export interface OpenLayersOptions {
  /** Freeze the open layer once it holds this many bytes, or spans this many bytes of WAL. */
  readonly checkpointBytes?: number | undefined;
  /** Image a page once this many changes (or bytes of them) are stored since its last will_init value. */
  readonly hotChainValues?: number | undefined;
  readonly hotChainBytes?: number | undefined;
}

/** Reads pages as of an ingested LSN through every layer (the timeline's vectored read). */
export type PageReader = (keys: readonly PageKey[], lsn: bigint) => Array<PageResult | undefined>;

/** Suffix of a background write's file until it is known to be still wanted (load() removes leftovers: they are unlisted). */
const WRITING_SUFFIX = '.writing';
/** Encoding is synchronous work too: a background write lets reads and ingest in after this many values. */
const VALUES_PER_SLICE = 4096;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 10_000;

function deltaDescOf(layer: InMemoryLayer): LayerDesc {
  return { kind: 'delta', keyStart: KEY_MIN, keyEnd: KEY_MAX, lsnStart: layer.startLsn, lsnEnd: layer.endLsn };
}

async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** One page's records in one mtr. */
interface PageRecords {
  readonly key: PageKey;
  readonly records: redo.PageRecord[];
}

/** Pages of one mtr searched linearly; beyond, through a map. */
const PER_PAGE_SCAN_MAX = 16;

function indexPageRecords(byPage: Map<number, Map<number, PageRecords>>, e: PageRecords): void {
  let space = byPage.get(e.key.spaceId);
  if (!space) byPage.set(e.key.spaceId, (space = new Map()));
  space.set(e.key.pageNo, e);
}

export class OpenLayers {
  private open: InMemoryLayer;
  /** Layers frozen and being written out, oldest first; still read from memory until listed. */
  private frozen: InMemoryLayer[] = [];
  private writing: Promise<void> | null = null;
  private flushWaiters: Array<() => void> = [];
  private pageChangeListeners: PageChangeListener[] = [];
  private spaceFlagsListeners: Array<(spaceId: number) => void> = [];
  private closed = false;
  /** Why the last background write of a frozen layer failed (it is retried); null after a success. */
  lastFlushError: { message: string; atMs: number } | null = null;
  /** Page images written into open layers because a page's chain grew long (since start). */
  hotImages = 0;

  constructor(
    private readonly layers: LayerManager,
    private readonly readPages: PageReader,
    private readonly options: OpenLayersOptions = {},
  ) {
    this.open = new InMemoryLayer(layers.meta.diskConsistentLsn);
  }

  /** The end LSN of the last ingested mtr. */
  get lastRecordLsn(): bigint {
    return this.open.endLsn;
  }

  get openLayerBytes(): number {
    return this.open.sizeBytes;
  }

  /** Frozen layers waiting to be written; ingest waits above a few. */
  get frozenLayers(): number {
    return this.frozen.length;
  }

  /** Bytes held in memory by the open and frozen layers. */
  get memoryLayerBytes(): number {
    let n = this.open.sizeBytes;
    for (const f of this.frozen) n += f.sizeBytes;
    return n;
  }

  /** The open layer and the frozen ones, newest first (the read path's order). */
  memoryLayers(): readonly InMemoryLayer[] {
    if (this.frozen.length === 0) return [this.open];
    const out = [this.open];
    for (let i = this.frozen.length - 1; i >= 0; i--) out.push(this.frozen[i]!);
    return out;
  }

  /** Subscribe to the pages ingest changes (synchronously, before `lastRecordLsn` moves); returns the unsubscribe. */
  onPageChange(listener: PageChangeListener): () => void {
    this.pageChangeListeners = [...this.pageChangeListeners, listener];
    return () => {
      this.pageChangeListeners = this.pageChangeListeners.filter((l) => l !== listener);
    };
  }

  /** Told (synchronously, during ingest) when a record may change a tablespace's FSP flags: page 0 reset or its flags field written, or the space created or dropped. */
  onSpaceFlagsChange(listener: (spaceId: number) => void): void {
    this.spaceFlagsListeners = [...this.spaceFlagsListeners, listener];
  }

  /** Fold one committed mtr in. mtrs must arrive in LSN order, starting at `lastRecordLsn`; returns false for one already ingested. */
  ingest(m: redo.Mtr): boolean {
    const last = this.open.endLsn;
    if (m.endLsn <= last) return false; // already have it (a resumed stream)
    assert(m.startLsn === last, `ingest gap: expected ${last}, got ${m.startLsn}`);
    // The pages of one mtr, in first-touch order: an mtr touches a handful, so a linear search beats
    // a map keyed by strings (which cost a string and a map per mtr on the ingest path).
    // Past PER_PAGE_SCAN_MAX pages (a page split, a bulk operation) a map takes over the search.
    const perPage: PageRecords[] = [];
    let byPage: Map<number, Map<number, PageRecords>> | undefined;
    let events: TablespaceEvent[] | undefined;
    for (const r of m.records) {
      if (redo.isPageRecord(r)) {
        if (r.pageNo === 0 && this.spaceFlagsListeners.length > 0 && redo.recordMayChangeSpaceFlags(r)) for (const l of this.spaceFlagsListeners) l(r.spaceId);
        let e: PageRecords | undefined;
        if (byPage) e = byPage.get(r.spaceId)?.get(r.pageNo);
        else {
          for (let i = perPage.length - 1; i >= 0; i--) {
            const c = perPage[i]!;
            if (c.key.pageNo === r.pageNo && c.key.spaceId === r.spaceId) {
              e = c;
              break;
            }
          }
        }
        if (!e) {
          perPage.push((e = { key: { spaceId: r.spaceId, pageNo: r.pageNo }, records: [] }));
          if (byPage) indexPageRecords(byPage, e);
          else if (perPage.length > PER_PAGE_SCAN_MAX) {
            byPage = new Map();
            for (const c of perPage) indexPageRecords(byPage, c);
          }
        }
        e.records.push(r);
      } else if (r.type === 'FILE_CREATE' || r.type === 'FILE_DELETE') {
        // A space id can be used again by a new tablespace.
        for (const l of this.spaceFlagsListeners) l(r.spaceId);
        (events ??= []).push({ lsn: m.endLsn, kind: r.type === 'FILE_CREATE' ? 'create' : 'delete', spaceId: r.spaceId, path: redo.normalizeDatadirPath(r.path) });
      } else if (r.type === 'FILE_RENAME') {
        (events ??= []).push({ lsn: m.endLsn, kind: 'rename', spaceId: r.spaceId, path: redo.normalizeDatadirPath(r.newPath) });
      }
    }
    let hot: PageKey[] | undefined;
    if (perPage.length > 0) {
      const valuesMax = this.options.hotChainValues ?? DEFAULT_HOT_CHAIN_VALUES;
      const bytesMax = this.options.hotChainBytes ?? DEFAULT_HOT_CHAIN_BYTES;
      for (const { key, records } of perPage) {
        const chain = this.open.put(key, { startLsn: m.startLsn, endLsn: m.endLsn, records });
        if (chain.values >= valuesMax || chain.bytes >= bytesMax) (hot ??= []).push(key);
        for (const l of this.pageChangeListeners) l(key.spaceId, key.pageNo, m.startLsn);
      }
    }
    // Persisted with the next index write (the layer that holds this mtr, at the latest). Any index
    // write persists them, so after a restart the replay above diskConsistentLsn may bring events the
    // index already has: events are appended in LSN order, so those are the ones at or below its last.
    if (events) {
      const logged = this.layers.meta.tablespaces;
      const lastLoggedLsn = logged.length > 0 ? logged[logged.length - 1]!.lsn : -1n;
      if (m.endLsn > lastLoggedLsn) this.layers.update({ tablespaces: [...logged, ...events] }, false);
    }
    this.open.advance(m.endLsn);
    if (hot) this.imageHotPages(hot, m.endLsn);
    // Frozen at the size in memory or at the same span of WAL, whichever comes first: the span is what bounds
    // remote_consistent_lsn's lag (and so the safekeepers' WAL) in WAL bytes.
    const checkpoint = this.options.checkpointBytes ?? DEFAULT_CHECKPOINT_BYTES;
    if (this.open.sizeBytes >= checkpoint || this.open.endLsn - this.open.startLsn >= BigInt(checkpoint)) this.freeze();
    return true;
  }

  /**
   * Cut the long chains of `keys` (just changed by the mtr ending at
   * `lsn`): their pages as of `lsn` go into the open layer as images, so a
   * read stops there. A page the mtr freed has no image to store; its FREE
   * record already stops reads.
   */
  private imageHotPages(keys: PageKey[], lsn: bigint): void {
    const results = this.readPages(keys, lsn);
    for (let i = 0; i < keys.length; i++) {
      const r = results[i];
      if (r) this.open.putImage(keys[i]!, lsn, r.page, r.lsn);
    }
    this.hotImages += keys.length;
  }

  /**
   * Close the open layer for writing and write it out in the background (off
   * the request path: async I/O in chunks). Reads keep finding its values in
   * memory until the file is listed; diskConsistentLsn moves then.
   */
  freeze(): void {
    if (!this.freezeOpenOnly()) return;
    this.writing ??= this.writeFrozen().finally(() => {
      this.writing = null;
      this.wakeFlushWaiters();
    });
  }

  /** The open layer joins the frozen ones without starting a background write; false if it was empty. */
  private freezeOpenOnly(): boolean {
    const layer = this.open;
    if (layer.endLsn === layer.startLsn) return false;
    this.frozen.push(layer);
    this.open = new InMemoryLayer(layer.endLsn, layer.chainsToCarry());
    return true;
  }

  /** Resolves when no more than `max` frozen layers wait to be written: ingest's backpressure. */
  async frozenAtMost(max: number): Promise<void> {
    while (this.frozen.length > max && this.writing) await new Promise<void>((r) => this.flushWaiters.push(r));
  }

  /** Wait for background layer writes under way (shutdown, tests). */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
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
      const desc = deltaDescOf(layer);
      writeFileAtomic(this.layers.layerPath(desc), encodeLayer(desc, layer.sortedEntries()));
      this.listFrozen(layer, desc);
    }
  }

  /** Background writes stop: one in flight lists nothing and leaves no file behind. */
  close(): void {
    this.closed = true;
  }

  private wakeFlushWaiters(): void {
    for (const w of this.flushWaiters.splice(0)) w();
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
        await new Promise((r) => setTimeout(r, Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(failures, 7))));
      }
      this.wakeFlushWaiters();
    }
  }

  /** Still the oldest frozen layer of an open timeline: nobody else wrote or dropped it. */
  private owns(layer: InMemoryLayer): boolean {
    return this.frozen[0] === layer && !this.closed;
  }

  /**
   * Write `layer` through a LayerWriter to a file of its own, and only move
   * it to the layer's name in the same synchronous step that checks nobody
   * else did: a flush() meanwhile writes and lists the very same name, and
   * a late rename or cleanup must never replace or delete that listed file.
   */
  private async writeLayerAsync(layer: InMemoryLayer): Promise<void> {
    if (layer.entryCount === 0) {
      if (this.frozen[0] === layer) this.listFrozen(layer, undefined);
      return;
    }
    const desc = deltaDescOf(layer);
    const path = this.layers.layerPath(desc);
    const writingPath = path + WRITING_SUFFIX;
    const w = await LayerWriter.create(writingPath, desc);
    try {
      let n = 0;
      for (const e of layer.entriesInOrder()) {
        await w.add(e.key, e.lsn, e.value);
        if (++n % VALUES_PER_SLICE === 0) await new Promise((r) => setImmediate(r));
      }
      if (!this.owns(layer)) {
        await w.abort();
        return;
      }
      await w.finish();
    } catch (e) {
      await w.abort();
      throw e;
    }
    if (!this.owns(layer)) {
      rmSync(writingPath, { force: true });
      return;
    }
    // Opened now, with async reads: the first read after listing must not check a big index on the event loop.
    const reader = await LayerReader.openAsync(writingPath);
    let adopted = false;
    try {
      if (!this.owns(layer)) {
        rmSync(writingPath, { force: true });
        return;
      }
      renameSync(writingPath, path);
      // The rename must be durable before an index names the file.
      await fsyncDir(dirname(path));
      // A flush() during the fsync wrote and listed this layer itself (same name, same entries): the file is its now.
      if (!this.owns(layer)) return;
      this.listFrozen(layer, desc);
      adopted = this.layers.adoptReader(desc, reader);
    } finally {
      if (!adopted) reader.close();
    }
  }

  /** The frozen layer `layer` (the oldest) is on disk as `desc`: list it, move diskConsistentLsn, drop it from memory. */
  private listFrozen(layer: InMemoryLayer, desc: LayerDesc | undefined): void {
    assert(this.frozen[0] === layer, 'frozen layers listed out of order');
    const patch = { diskConsistentLsn: layer.endLsn, tablespaces: this.layers.meta.tablespaces };
    if (desc) this.layers.addWrittenLayer(desc, patch);
    else this.layers.update(patch, true);
    this.frozen.shift();
  }
}
