/**
 * The layer map of one timeline: which layers exist, and for a page at an
 * LSN, which of them a reconstruction must read (newest image at or below the
 * LSN, then every delta layer above it), as in Neon's layer map.
 */
import { compareKeys, keyInRange, type PageKey } from './key.js';
import { layerFileName, type LayerDesc } from './layer-file.js';

export interface ReconstructPlan {
  /** The newest image layer holding the key at or below the LSN, if any. */
  readonly image: LayerDesc | undefined;
  /** Delta layers overlapping (image LSN, lsn], oldest first. */
  readonly deltas: LayerDesc[];
}

export class LayerMap {
  private readonly layers = new Map<string, LayerDesc>();

  constructor(initial: Iterable<LayerDesc> = []) {
    for (const d of initial) this.insert(d);
  }

  insert(d: LayerDesc): void {
    this.layers.set(layerFileName(d), d);
  }

  remove(d: LayerDesc): boolean {
    return this.layers.delete(layerFileName(d));
  }

  all(): LayerDesc[] {
    return [...this.layers.values()].sort((a, b) => (a.lsnStart < b.lsnStart ? -1 : a.lsnStart > b.lsnStart ? 1 : compareKeys(a.keyStart, b.keyStart)));
  }

  get size(): number {
    return this.layers.size;
  }

  /**
   * Layers needed to rebuild `key` as of `lsn`, an mtr end LSN: every mtr
   * ending at or below it, i.e. starting below it. Delta entries are keyed by
   * their mtr's start LSN, so a delta layer [s, e) matters when it overlaps
   * [image LSN, lsn).
   */
  plan(key: PageKey, lsn: bigint): ReconstructPlan {
    let image: LayerDesc | undefined;
    for (const d of this.layers.values()) {
      if (d.kind !== 'image' || d.lsnStart > lsn || !keyInRange(key, d.keyStart, d.keyEnd)) continue;
      if (!image || d.lsnStart > image.lsnStart) image = d;
    }
    const floor = image ? image.lsnStart : 0n;
    const deltas: LayerDesc[] = [];
    for (const d of this.layers.values()) {
      if (d.kind !== 'delta' || !keyInRange(key, d.keyStart, d.keyEnd)) continue;
      if (d.lsnEnd <= floor || d.lsnStart >= lsn) continue;
      deltas.push(d);
    }
    deltas.sort((a, b) => (a.lsnStart < b.lsnStart ? -1 : a.lsnStart > b.lsnStart ? 1 : 0));
    return { image, deltas };
  }
}
