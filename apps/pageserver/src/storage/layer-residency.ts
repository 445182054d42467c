/**
 * Which of a timeline's layer files are on local disk (Neon's
 * `remote_timeline_client` download side and `eviction_task`): evicted
 * layers come back from remote storage before a read needs them, pins keep
 * files in place while a read or a stream uses them, and eviction drops the
 * least recently used files that are safely uploaded.
 */
import { existsSync, rmSync, statSync } from 'node:fs';
import { layerFileName, type PageKey } from '@strata/core/layers';
import { LayerFileMissing } from './errors.js';
import type { LayerManager } from './layer-manager.js';
import type { RemoteTimeline } from './remote-timeline.js';

/** What residency needs of the ancestor timeline: the same operations, one level up. */
export interface ResidentAncestor {
  prepareRead(key: PageKey, lsn: bigint): Promise<void>;
  pin(): () => void;
  isAllLocal(): boolean;
  isReadyToRead(): boolean;
  openAllReaders(): Promise<void>;
  ensureAllLocal(): Promise<void>;
}

export class LayerResidency {
  private pins = 0;
  /** Layers not on local disk (evicted, or a timeline restored from remote storage); null: not counted yet. */
  private missingLocal: number | null = null;

  constructor(
    private readonly layers: LayerManager,
    private readonly remote: RemoteTimeline | undefined,
    private readonly ancestor: ResidentAncestor | undefined,
  ) {}

  /** Pins held on this timeline (not counting its descendants'). */
  get pinCount(): number {
    return this.pins;
  }

  /** The set of layers changed in a way that may change how many are missing (a replace removed some). */
  layersChanged(): void {
    this.missingLocal = null;
  }

  /**
   * Make sure every layer a read of `key` at `lsn` needs is on local disk,
   * downloading evicted ones from remote storage (and the ancestor's, and
   * page 0's unless `knowsFlags` says its checksum format is known). Then the
   * synchronous read can run.
   */
  async prepareRead(key: PageKey, lsn: bigint, knowsFlags: (spaceId: number) => boolean): Promise<void> {
    if (this.isReadyToRead()) return;
    const keys = key.pageNo === 0 || knowsFlags(key.spaceId) ? [key] : [key, { spaceId: key.spaceId, pageNo: 0 }];
    const branchLsn = this.layers.meta.ancestor?.lsn;
    for (const k of keys) {
      const plan = this.layers.map.plan(k, lsn);
      for (const d of plan.image ? [plan.image, ...plan.deltas] : plan.deltas) await this.ensureLocal(layerFileName(d));
      if (!plan.image && this.ancestor && branchLsn !== undefined) await this.ancestor.prepareRead(k, branchLsn);
    }
  }

  /** Download one listed layer file unless it is on local disk (or open), and open its reader without blocking. */
  async ensureLocal(name: string): Promise<void> {
    const path = this.layers.pathOf(name);
    // Compaction or GC may have replaced the layer while an earlier download was awaited: a read
    // plans again from the current map, so an unlisted layer is not needed (and may be gone remotely).
    if (!this.layers.isListed(name) || this.layers.hasReader(name)) return;
    if (!existsSync(path)) {
      if (!this.remote) throw new LayerFileMissing(name, this.layers.meta.timelineId);
      try {
        await this.remote.download(`layers/${name}`, path);
      } catch (e) {
        if (!this.layers.isListed(name)) return;
        throw e;
      }
      this.missingLocal = null;
    }
    await this.layers.openReaderAsync(name);
  }

  /**
   * Keep every local layer of this timeline (and its ancestors) on disk until
   * the returned function is called: a read that downloaded what it needs and
   * then reads synchronously, or a basebackup stream, must not lose a layer
   * to eviction in between. Calling the returned function again does nothing.
   */
  pin(): () => void {
    this.pins++;
    const ancestorUnpin = this.ancestor?.pin();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.pins--;
      ancestorUnpin?.();
    };
  }

  /** Every layer of this timeline and its ancestors is on local disk: reads need no download check. */
  /** Open (with async reads) every listed local layer not open yet, here and in the ancestors: after it, local reads need no preparation. */
  async openAllReaders(): Promise<void> {
    for (const name of [...this.layers.meta.layers]) if (existsSync(this.layers.pathOf(name))) await this.layers.openReaderAsync(name);
    await this.ancestor?.openAllReaders();
  }

  /** Every layer here and in the ancestors is local with its reader open: a read needs no preparation. */
  isReadyToRead(): boolean {
    return this.isAllLocal() && this.layers.allReadersOpen() && (this.ancestor?.isReadyToRead() ?? true);
  }

  isAllLocal(): boolean {
    if (this.missingLocal === null) this.missingLocal = this.layers.meta.layers.filter((n) => !existsSync(this.layers.pathOf(n))).length;
    return this.missingLocal === 0 && (this.ancestor?.isAllLocal() ?? true);
  }

  /** Download every layer of this timeline (and its ancestors) that is not on local disk. */
  async ensureAllLocal(): Promise<void> {
    // A copy: the list changes under the awaits when compaction swaps layers.
    for (const name of [...this.layers.meta.layers]) await this.ensureLocal(name);
    this.missingLocal = null;
    await this.ancestor?.ensureAllLocal();
  }

  /** Bytes of layer files on local disk. */
  localLayerBytes(): number {
    let n = 0;
    for (const name of this.layers.meta.layers) {
      try {
        n += statSync(this.layers.pathOf(name)).size;
      } catch {
        // evicted
      }
    }
    return n;
  }

  /** Queue every listed layer file on local disk that remote storage does not have yet (a full upload; the caller queues the index after). */
  scheduleLayerUploads(): void {
    const remote = this.remote;
    if (!remote) return;
    for (const name of this.layers.meta.layers) {
      const path = this.layers.pathOf(name);
      if (existsSync(path) && !remote.isUploaded(name)) remote.uploadFile(`layers/${name}`, path);
    }
  }

  /**
   * Evict least recently used layer files that are safely in remote storage
   * until local layers fit `budgetBytes`. Nothing while pinned. Returns the
   * names evicted.
   */
  evictLayers(budgetBytes: number): string[] {
    const remote = this.remote;
    if (!remote || this.pins > 0) return [];
    let total = this.localLayerBytes();
    const candidates = this.layers.meta.layers
      .filter((n) => remote.isUploaded(n) && existsSync(this.layers.pathOf(n)))
      .sort((a, b) => this.layers.lastAccessOf(a) - this.layers.lastAccessOf(b));
    const evicted: string[] = [];
    for (const name of candidates) {
      if (total <= budgetBytes) break;
      const path = this.layers.pathOf(name);
      const size = statSync(path).size;
      this.layers.closeReader(name);
      rmSync(path, { force: true });
      total -= size;
      evicted.push(name);
      this.missingLocal = null;
    }
    return evicted;
  }
}
