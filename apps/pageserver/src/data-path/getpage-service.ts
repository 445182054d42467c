/**
 * Serving one GetPage batch, shared by the HTTP route (`POST .../getpage`)
 * and the pipelined stream (data-path/getpage-stream.ts): requests are read
 * straight from the wire bytes, each page comes from the memory cache or is
 * reconstructed (and cached), and the reply is written into one buffer sized
 * up front. The only allocations per batch are that buffer and the bigint
 * LSNs; per page, only reconstructions allocate.
 *
 * Stages are timed alone (neon #10075: queueing folded into latency
 * misleads): "wait" and "download" only when they happen, "lookup" is the
 * synchronous pass minus its reconstructions, "encode" the reply.
 */
import { assert, LsnOutOfRange, StrataError } from '@strata/core';
import type { Logger } from '@strata/service-kit';
import type { PageserverMetrics } from '../metrics.js';
import type { PageCache } from '../storage/page-cache.js';
import { LsnBeforeGcHorizon, LsnNotYetAvailable, ReadStats, type Timeline } from '../storage/index.js';
import type { TenantManager } from '../tenant-manager.js';
import { GETPAGE_ITEM_HEAD_BYTES, GETPAGE_REQUEST_BYTES, GETPAGE_STATUS_COUNT, GetPageStatus } from '@strata/core/getpage';

export interface GetPageServiceDeps {
  readonly tenants: TenantManager;
  readonly metrics: PageserverMetrics;
  readonly log: Logger;
  readonly pageCache?: PageCache | undefined;
  /** Longest wait for an LSN to be ingested, per batch. */
  readonly waitMsMax: number;
}

const STATUS_COUNT = GETPAGE_STATUS_COUNT;
const STATUS_LABELS = Array.from({ length: STATUS_COUNT }, (_, i) => ({ status: String(i) }));
const SECONDS_PER_MS = 1e-3;
/** A reconstruction slower than this per page is logged with what it cost (the goal is 2 ms at p99). */
const SLOW_RECONSTRUCT_MS_PER_PAGE = 2;
/** At most one slow-read line per this many ms: a struggling server should not also flood its log. */
const SLOW_LOG_INTERVAL_MS = 10_000;

export class GetPageService {
  // Scratch of the synchronous pass, reused by every batch: that pass never yields, so batches cannot interleave in it.
  private statuses = new Uint8Array(64);
  private lsns = new BigUint64Array(64);
  private pages: (Uint8Array | undefined)[] = [];
  private readonly statusCounts = new Array<number>(STATUS_COUNT).fill(0);
  private lastSlowLog = 0;
  private slowSuppressed = 0;

  constructor(private readonly deps: GetPageServiceDeps) {}

  /**
   * Answer the batch in `req` (N × 16 bytes, already validated as whole
   * items, N ≥ 1) for timeline `t`. The reply starts `headBytes` into the
   * returned buffer, so a framing layer can put its header there without
   * another copy.
   */
  async serve(t: Timeline, req: Uint8Array, waitMs: number | undefined, headBytes = 0): Promise<Buffer> {
    const r = await this.serveAs(t, req, waitMs, headBytes, 'buffer');
    return r as Buffer;
  }

  /**
   * The same reply as `serve`, as the pieces to write in order (a buffer of
   * heads cut between the pages, and the pages themselves): a stream writes
   * them with one writev instead of copying every page into a new buffer.
   * `size` is the reply's length including `headBytes`.
   */
  async serveParts(t: Timeline, req: Uint8Array, waitMs: number | undefined, headBytes: number): Promise<ReplyParts> {
    return (await this.serveAs(t, req, waitMs, headBytes, 'parts')) as ReplyParts;
  }

  private async serveAs(t: Timeline, req: Uint8Array, waitMs: number | undefined, headBytes: number, form: 'buffer' | 'parts'): Promise<Buffer | ReplyParts> {
    const { metrics } = this.deps;
    const n = req.length / GETPAGE_REQUEST_BYTES;
    const v = new DataView(req.buffer, req.byteOffset, req.byteLength);
    metrics.getpageBatchSize.observe(n);
    if (waitMs) {
      let maxLsn = 0n;
      for (let i = 0; i < n; i++) {
        const lsn = v.getBigUint64(i * GETPAGE_REQUEST_BYTES + 8);
        if (lsn > maxLsn) maxLsn = lsn;
      }
      if (maxLsn > t.lastRecordLsn) {
        const t0 = performance.now();
        // Not ingested in time: the pages beyond say so one by one below.
        await t.waitForLsn(maxLsn, Math.min(waitMs, this.deps.waitMsMax)).catch((e: unknown) => {
          if (!(e instanceof LsnNotYetAvailable)) throw e;
        });
        metrics.getpageSeconds.observe((performance.now() - t0) * SECONDS_PER_MS, { stage: 'wait' });
      }
    }
    // Layers downloaded for this batch must still be there for the synchronous pass.
    const unpin = t.pin();
    try {
      const downloaded = await this.downloadMissing(t, v, n);
      return this.answer(t, v, n, headBytes, downloaded, form);
    } finally {
      unpin();
    }
  }

  /**
   * Bring back from remote storage the layers the batch's reconstructions
   * need, and open (with async reads) the layers not opened yet, so the
   * synchronous pass neither downloads nor stalls on a layer's index (a
   * no-op once every layer is local and open; pages the cache holds need
   * none). Returns whether anything was missing locally.
   */
  private async downloadMissing(t: Timeline, v: DataView, n: number): Promise<boolean> {
    const { tenants, pageCache } = this.deps;
    let t0 = -1;
    let remote = false;
    for (let i = 0; i < n; i++) {
      const o = i * GETPAGE_REQUEST_BYTES;
      const lsn = v.getBigUint64(o + 8);
      if (lsn > t.lastRecordLsn) continue;
      let rt: Timeline;
      try {
        rt = tenants.resolveRead(t, lsn);
      } catch (e) {
        if (e instanceof LsnOutOfRange) continue;
        throw e;
      }
      if (rt.isReadyToRead()) continue;
      if (rt.isAllLocal()) {
        // Only readers to open: all of them at once, once, instead of a plan per page on every batch.
        if (t0 < 0) t0 = performance.now();
        await rt.openAllReaders().catch(() => undefined);
        continue;
      }
      const spaceId = v.getUint32(o);
      const pageNo = v.getUint32(o + 4);
      if (pageCache?.has(rt, spaceId, pageNo, lsn)) continue;
      if (t0 < 0) t0 = performance.now();
      if (!rt.isAllLocal()) remote = true;
      // A failed download fails the batch in the synchronous pass (the layer file is missing), as before the stream existed.
      await rt.prepareRead({ spaceId, pageNo }, lsn).catch(() => undefined);
    }
    if (t0 >= 0) this.deps.metrics.getpageSeconds.observe((performance.now() - t0) * SECONDS_PER_MS, { stage: 'download' });
    return remote;
  }

  private ensureScratch(n: number): void {
    if (this.statuses.length >= n) return;
    let size = this.statuses.length;
    while (size < n) size *= 2;
    this.statuses = new Uint8Array(size);
    this.lsns = new BigUint64Array(size);
  }

  /**
   * The synchronous pass: the memory cache first, then one vectored read per
   * (timeline, LSN) for the misses (a batch from a compute shares its LSN, so
   * usually one read visiting each layer once), then encode. Must not await.
   */
  private answer(t: Timeline, v: DataView, n: number, headBytes: number, downloaded: boolean, form: 'buffer' | 'parts'): Buffer | ReplyParts {
    const { metrics, pageCache } = this.deps;
    this.ensureScratch(n);
    const statuses = this.statuses;
    const lsns = this.lsns;
    const pages = this.pages;
    const counts = this.statusCounts;
    counts.fill(0);
    const pageSize = t.pageSize;
    const tStart = performance.now();
    let fromMemory = 0;
    let misses: Map<Timeline, Map<bigint, number[]>> | undefined;
    for (let i = 0; i < n; i++) {
      const o = i * GETPAGE_REQUEST_BYTES;
      const spaceId = v.getUint32(o);
      const pageNo = v.getUint32(o + 4);
      const lsn = v.getBigUint64(o + 8);
      statuses[i] = GetPageStatus.OK;
      pages[i] = undefined;
      lsns[i] = 0n;
      if (lsn > t.lastRecordLsn) {
        statuses[i] = GetPageStatus.NOT_YET_AVAILABLE;
        lsns[i] = t.lastRecordLsn;
        continue;
      }
      try {
        const rt = this.deps.tenants.resolveRead(t, lsn);
        // Before the cache: a version cached earlier must not outlive GC of its LSN.
        rt.checkReadable(lsn);
        const hit = pageCache?.get(rt, spaceId, pageNo, lsn);
        if (hit) {
          pages[i] = hit.page;
          lsns[i] = hit.lsn;
          fromMemory++;
          continue;
        }
        let byLsn = (misses ??= new Map()).get(rt);
        if (!byLsn) misses.set(rt, (byLsn = new Map()));
        let list = byLsn.get(lsn);
        if (!list) byLsn.set(lsn, (list = []));
        list.push(i);
      } catch (e) {
        this.fail(t, i, spaceId, pageNo, lsn, e);
      }
    }
    let reconstructMs = 0;
    let reconstructed = 0;
    if (misses) {
      for (const [rt, byLsn] of misses) {
        for (const [lsn, items] of byLsn) {
          reconstructMs += this.reconstruct(t, rt, lsn, v, items);
          reconstructed += items.length;
        }
      }
    }
    let size = headBytes;
    for (let i = 0; i < n; i++) {
      const status = statuses[i]!;
      const page = pages[i];
      if (status === GetPageStatus.OK && page) {
        assert(page.length === pageSize, `page of ${page.length} bytes, page size ${pageSize}`);
        size += pageSize;
      }
      counts[status]!++;
      size += GETPAGE_ITEM_HEAD_BYTES;
    }
    const tEncode = performance.now();
    metrics.getpageSeconds.observe((tEncode - tStart - reconstructMs) * SECONDS_PER_MS, { stage: 'lookup' });
    const out = form === 'buffer' ? this.encodeBuffer(n, headBytes, size, pageSize) : this.encodeParts(n, headBytes, size);
    metrics.getpageSeconds.observe((performance.now() - tEncode) * SECONDS_PER_MS, { stage: 'encode' });
    for (let s = 0; s < STATUS_COUNT; s++) if (counts[s]! > 0) metrics.getpagePages.inc(STATUS_LABELS[s], counts[s]);
    if (fromMemory > 0) metrics.getpageTierPages.inc({ tier: 'memory' }, fromMemory);
    if (reconstructed > 0) metrics.getpageTierPages.inc({ tier: downloaded ? 'remote' : 'local' }, reconstructed);
    return out;
  }

  /**
   * Rebuild the batch items `items` (all of `rt` at `lsn`) with one vectored
   * read and cache them. If that read fails, each page is read alone, so one
   * bad page fails only itself. Returns the milliseconds spent; each page is
   * observed in the "reconstruct" stage at its share of the read.
   */
  private reconstruct(t: Timeline, rt: Timeline, lsn: bigint, v: DataView, items: readonly number[]): number {
    const { metrics, pageCache } = this.deps;
    const keys = items.map((i) => ({ spaceId: v.getUint32(i * GETPAGE_REQUEST_BYTES), pageNo: v.getUint32(i * GETPAGE_REQUEST_BYTES + 4) }));
    const c0 = process.cpuUsage();
    const r0 = performance.now();
    const stats = new ReadStats();
    let results: ReturnType<Timeline['getPages']> | undefined;
    // An older version in the cache spares reading and applying the page's history below it.
    const bases = pageCache ? keys.map((k) => pageCache.base(rt, k.spaceId, k.pageNo, lsn)) : undefined;
    try {
      results = rt.getPages(keys, lsn, stats, bases);
    } catch {
      results = undefined;
    }
    for (let j = 0; j < items.length; j++) {
      const i = items[j]!;
      const key = keys[j]!;
      try {
        const r = results ? results[j] : rt.getPageRaw(key, lsn);
        if (r) {
          this.pages[i] = r.page;
          this.lsns[i] = r.lsn;
          pageCache?.put(rt, key.spaceId, key.pageNo, lsn, r.page, r.lsn);
        } else this.statuses[i] = GetPageStatus.NOT_FOUND;
      } catch (e) {
        this.fail(t, i, key.spaceId, key.pageNo, lsn, e);
      }
    }
    const ms = performance.now() - r0;
    const perPage = (ms / items.length) * SECONDS_PER_MS;
    for (let j = 0; j < items.length; j++) metrics.getpageSeconds.observe(perPage, { stage: 'reconstruct' });
    metrics.getpageLayersVisited.observe(stats.layers / items.length);
    const ioPerPage = ((stats.readMs + stats.indexReadMs) / items.length) * SECONDS_PER_MS;
    for (let j = 0; j < items.length; j++) metrics.getpageSeconds.observe(ioPerPage, { stage: 'layer_io' });
    if (ms / items.length > SLOW_RECONSTRUCT_MS_PER_PAGE) {
      const c = process.cpuUsage(c0);
      stats.cpuMs = (c.user + c.system) / 1000;
      this.logSlow(rt, keys, lsn, r0, ms, stats);
    }
    return ms;
  }

  private logSlow(rt: Timeline, keys: readonly { spaceId: number; pageNo: number }[], lsn: bigint, startMs: number, ms: number, stats: ReadStats): void {
    const now = performance.now();
    if (now - this.lastSlowLog < SLOW_LOG_INTERVAL_MS) {
      this.slowSuppressed++;
      return;
    }
    this.lastSlowLog = now;
    const suppressed = this.slowSuppressed;
    this.slowSuppressed = 0;
    const runtime = this.deps.metrics.runtime;
    // GC entries are delivered on a later turn of the loop: log from there, so the pause that hit this read is known.
    setImmediate(() => this.writeSlow(rt, keys, lsn, ms, stats, suppressed, runtime?.pausedWithin(startMs, startMs + ms)));
  }

  private writeSlow(rt: Timeline, keys: readonly { spaceId: number; pageNo: number }[], lsn: bigint, ms: number, stats: ReadStats, suppressed: number, gcMs: number | undefined): void {
    const first = keys[0]!;
    this.deps.log.warn('slow GetPage reconstruction', {
      timelineId: rt.timelineId,
      pages: keys.length,
      first: `${first.spaceId}:${first.pageNo}`,
      lsn,
      ms: +ms.toFixed(2),
      collectMs: +stats.collectMs.toFixed(2),
      applyMs: +stats.applyMs.toFixed(2),
      cpuMs: +stats.cpuMs.toFixed(2),
      layers: stats.layers,
      reads: stats.reads,
      bytes: stats.bytes,
      readMs: +stats.readMs.toFixed(2),
      indexReads: stats.indexReads,
      indexReadMs: +stats.indexReadMs.toFixed(2),
      values: stats.values,
      fromBase: stats.fromBase,
      ...(gcMs !== undefined ? { gcPauseMs: +gcMs.toFixed(2) } : {}),
      suppressedSinceLast: suppressed,
    });
  }

  /** The status of a page whose read threw: typed errors map to statuses, anything else is a bug. */
  private fail(t: Timeline, i: number, spaceId: number, pageNo: number, lsn: bigint, e: unknown): void {
    if (e instanceof LsnNotYetAvailable) {
      this.statuses[i] = GetPageStatus.NOT_YET_AVAILABLE;
      this.lsns[i] = t.lastRecordLsn;
    } else if (e instanceof LsnBeforeGcHorizon) this.statuses[i] = GetPageStatus.BEFORE_GC_HORIZON;
    else if (e instanceof LsnOutOfRange) this.statuses[i] = GetPageStatus.LSN_OUT_OF_RANGE;
    else if (e instanceof StrataError) {
      // A corrupt layer or an unsupported page: this page fails, the batch goes on; logged here where it is handled.
      this.deps.log.error('GetPage failed', { tenantId: t.tenantId, timelineId: t.timelineId, spaceId, pageNo, lsn, error: e });
      this.statuses[i] = GetPageStatus.ERROR;
    } else throw e;
  }

  /** Heads and pages of the scratch arrays (filled by the synchronous pass) in one buffer. */
  private encodeBuffer(n: number, headBytes: number, size: number, pageSize: number): Buffer {
    const { statuses, lsns, pages } = this;
    // allocUnsafe: every byte after the head is written below.
    const out = Buffer.allocUnsafe(size);
    let o = headBytes;
    for (let i = 0; i < n; i++) {
      const status = statuses[i]!;
      out[o] = status;
      out.writeBigUInt64BE(lsns[i]!, o + 1);
      o += GETPAGE_ITEM_HEAD_BYTES;
      const page = pages[i];
      if (status === GetPageStatus.OK && page) {
        out.set(page, o);
        o += pageSize;
      }
      pages[i] = undefined;
    }
    assert(o === size, `GetPage reply: wrote ${o} of ${size} bytes`);
    return out;
  }

  /** Heads of the scratch arrays in one small buffer, cut around the pages, which are not copied. */
  private encodeParts(n: number, headBytes: number, size: number): ReplyParts {
    const { statuses, lsns, pages } = this;
    const heads = Buffer.allocUnsafe(headBytes + n * GETPAGE_ITEM_HEAD_BYTES);
    const parts: Uint8Array[] = [];
    let cut = 0;
    let o = headBytes;
    for (let i = 0; i < n; i++) {
      const status = statuses[i]!;
      heads[o] = status;
      heads.writeBigUInt64BE(lsns[i]!, o + 1);
      o += GETPAGE_ITEM_HEAD_BYTES;
      const page = pages[i];
      if (status === GetPageStatus.OK && page) {
        parts.push(heads.subarray(cut, o), page);
        cut = o;
      }
      pages[i] = undefined;
    }
    if (cut < o) parts.push(heads.subarray(cut, o));
    return { parts, size, heads };
  }
}

/** A reply as pieces to write in order; `heads` starts with the caller's `headBytes`. */
export interface ReplyParts {
  readonly parts: Uint8Array[];
  readonly size: number;
  readonly heads: Buffer;
}
