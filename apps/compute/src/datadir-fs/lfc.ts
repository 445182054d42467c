/**
 * The local file cache (Neon's LFC) of a FUSE compute: tablespace pages in
 * memory under a byte budget, least recently used first out. Pure
 * bookkeeping, no I/O.
 *
 * A page MariaDB wrote is the only copy of that version until the page
 * server has ingested its redo. It may still be evicted: its FIL_PAGE_LSN
 * says which version it is, so the cache remembers (space id, LSN) and the
 * page is fetched again at that LSN (waiting for ingest). A written page
 * that cannot be named that way (LSN 0 and not all zeros) stays pinned.
 * All-zero pages cost no bytes.
 */
import { readU32, readU64, redo } from '@strata/core';

export interface LfcEntry {
  /** Undefined: a page of zeros. */
  readonly data: Uint8Array | undefined;
  readonly written: boolean;
}

/** Where an evicted written page comes back from. */
export interface Refetch {
  readonly spaceId: number;
  readonly lsn: bigint;
}

export interface LfcStats {
  readonly pages: number;
  readonly bytes: number;
  readonly budgetBytes: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
  readonly evictedWritten: number;
  readonly pinnedPages: number;
}

function zeroes(p: Uint8Array): boolean {
  return redo.isAllZero(p);
}

export class LocalFileCache {
  private readonly entries = new Map<number, LfcEntry>();
  private readonly refetch = new Map<number, Refetch>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private evictedWritten = 0;
  private pinned = 0;

  constructor(
    private readonly pageSize: number,
    private readonly budgetBytes: number,
  ) {
    if (!(budgetBytes >= pageSize * 16)) throw new Error(`LFC budget ${budgetBytes} bytes is below 16 pages`);
  }

  /** The page, marked most recently used; undefined on a miss. */
  get(key: number): LfcEntry | undefined {
    const e = this.entries.get(key);
    if (!e) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e;
  }

  has(key: number): boolean {
    return this.entries.has(key);
  }

  /** Set when a written page of this key was evicted: fetch it at this (space, LSN). */
  refetchOf(key: number): Refetch | undefined {
    return this.refetch.get(key);
  }

  /** A page fetched from the page server (the cache keeps its own copy). */
  putFetched(key: number, page: Uint8Array): void {
    // A fetch racing a write of the same page loses: the written version is newer.
    if (this.entries.get(key)?.written) return;
    // A refetch note stays: this copy is the written version fetched again, and when it is evicted
    // in turn it must come back at that LSN again, never at the start LSN (the version before the
    // compute wrote it: the soak read index pages from before its own writes, "index corruption").
    this.set(key, { data: zeroes(page) ? undefined : page.slice(), written: false });
  }

  /** A page MariaDB wrote (copied). */
  putWritten(key: number, page: Uint8Array): void {
    if (page.length !== this.pageSize) throw new Error(`a page of ${page.length} bytes`);
    this.set(key, { data: zeroes(page) ? undefined : page.slice(), written: true });
    this.refetch.delete(key);
  }

  /** Forget a page (file truncated or deleted): it reads as zeros or from the page server again. */
  drop(key: number): void {
    const e = this.entries.get(key);
    if (e) {
      this.bytes -= this.cost(e);
      this.entries.delete(key);
    }
    this.refetch.delete(key);
  }

  /** Forget every page of keys in [from, to). */
  dropRange(from: number, to: number): void {
    for (const k of [...this.entries.keys()]) if (k >= from && k < to) this.drop(k);
    for (const k of [...this.refetch.keys()]) if (k >= from && k < to) this.refetch.delete(k);
  }

  stats(): LfcStats {
    return {
      pages: this.entries.size,
      bytes: this.bytes,
      budgetBytes: this.budgetBytes,
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      evictedWritten: this.evictedWritten,
      pinnedPages: this.pinned,
    };
  }

  private cost(e: LfcEntry): number {
    return e.data ? e.data.length : 0;
  }

  private set(key: number, e: LfcEntry): void {
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= this.cost(old);
      this.entries.delete(key);
    }
    this.entries.set(key, e);
    this.bytes += this.cost(e);
    this.evict();
  }

  /** Oldest first until within budget; a bounded pass (pinned pages are skipped, each once). */
  private evict(): void {
    if (this.bytes <= this.budgetBytes) return;
    let pinned = 0;
    for (const [key, e] of this.entries) {
      if (this.bytes <= this.budgetBytes) break;
      // A page of zeros costs nothing: keeping it keeps a written one from reading as the start version.
      if (!e.data) continue;
      if (e.written) {
        const lsn = readU64(e.data, redo.FIL_PAGE_LSN);
        if (lsn === 0n) {
          pinned++;
          continue;
        }
        this.refetch.set(key, { spaceId: readU32(e.data, redo.FIL_PAGE_SPACE_ID), lsn });
        this.evictedWritten++;
      }
      this.entries.delete(key);
      this.bytes -= this.cost(e);
      this.evictions++;
    }
    this.pinned = pinned;
  }
}
