/**
 * Background storage work per timeline: compaction, GC, and ingest
 * backpressure. At most one compaction or GC runs per timeline at a time
 * (they both swap layers); the admin routes and the background loop share
 * that queue.
 *
 * GC's retained points come from here, not from the timeline: the branch
 * points of its children (the tenant manager knows them) and its snapshots.
 * The horizon is `lastRecordLsn − PITR window`, turned into an LSN through
 * the timeline's LSN ↔ time map; with no point old enough, nothing is old
 * enough to drop.
 */
import { AssertionError, StrataError, TimelineNotFound } from '@strata/core';
import { lsnAtTime } from '@strata/core/layers';
import { type Labels, type Logger, ServiceError } from '@strata/service-kit';
import { MaintenanceFailed } from './errors.js';
import type { PageserverMetrics } from './metrics.js';
import { type CompactionOptions, type CompactionResult, compactTimeline, DEFAULT_COMPACTION, type LayerKeyCache } from './storage/compaction.js';
import { type GcResult, gcTimeline } from './storage/gc.js';
import type { Timeline } from './storage/index.js';
import type { TenantManager, TimelineListener } from './tenant-manager.js';

export interface MaintenanceOptions {
  readonly tenants: TenantManager;
  readonly metrics: PageserverMetrics;
  readonly log: Logger;
  readonly compaction?: Partial<CompactionOptions>;
  /** Background compaction period; 0 turns the loop off. */
  readonly compactionPeriodMs?: number;
  /** Background GC period; 0 turns the loop off. */
  readonly gcPeriodMs?: number;
  /** The PITR window the background GC keeps. */
  readonly pitrMs?: number;
  /** Pause WAL ingest while a timeline has more delta layers than this above its newest image. */
  readonly l0DeltasMax?: number;
  /** Injected clock for the PITR window (tests). */
  readonly nowMs?: () => number;
  /** Local layer files beyond this many bytes are evicted (least recently used, uploaded ones only). 0/undefined: no budget. */
  readonly diskBudgetBytes?: number | undefined;
  /** How often the disk budget is checked. */
  readonly evictionPeriodMs?: number;
}

export const DEFAULT_PITR_MS = 7 * 24 * 3600 * 1000;
export const DEFAULT_GC_PERIOD_MS = 600_000;
export const DEFAULT_COMPACTION_PERIOD_MS = 20_000;
const DEFAULT_L0_DELTAS_MAX = 48;
/** Longest single backpressure pause: ingest must not stop for good if compaction cannot help. */
const BACKPRESSURE_WAIT_MAX_MS = 30_000;

export type GcRequest = { readonly pitrMs?: number | undefined; readonly horizonLsn?: bigint | undefined };

export interface TimelineGcResult extends GcResult {
  readonly durationMs: number;
}

export interface TimelineCompactionResult extends CompactionResult {
  readonly durationMs: number;
}

/** Our typed errors pass as they are (an assertion stays a bug); anything else carries its message in MAINTENANCE_FAILED. */
function maintenanceError(kind: 'compaction' | 'gc', t: Timeline, e: unknown): unknown {
  if (e instanceof AssertionError || e instanceof StrataError || e instanceof ServiceError) return e;
  return new MaintenanceFailed(kind, t.timelineId, e);
}

export class StorageMaintenance implements TimelineListener {
  private readonly chains = new Map<Timeline, Promise<unknown>>();
  private readonly keyCache: LayerKeyCache = new Map();
  private readonly compaction: CompactionOptions;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private readonly removed = new WeakSet<Timeline>();

  constructor(private readonly o: MaintenanceOptions) {
    this.compaction = { ...DEFAULT_COMPACTION, ...o.compaction };
  }

  private now(): number {
    return this.o.nowMs ? this.o.nowMs() : Date.now();
  }

  /** Run `fn` after whatever compaction or GC of `t` is under way. */
  private serial<T>(t: Timeline, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(t) ?? Promise.resolve();
    const next = prev
      .catch(() => undefined)
      .then(() => {
        if (this.removed.has(t)) throw new TimelineNotFound(t.tenantId, t.timelineId);
        return fn();
      });
    const settled = next.catch(() => undefined);
    this.chains.set(t, settled);
    void settled.then(() => {
      if (this.chains.get(t) === settled) this.chains.delete(t);
    });
    return next;
  }

  private labels(t: Timeline, trigger: string): Labels {
    return { tenant_id: t.tenantId, timeline_id: t.timelineId, trigger };
  }

  /** One compaction pass. `force`: image every tablespace with any change above its newest image (admin). */
  compact(t: Timeline, trigger: 'admin' | 'background' | 'backpressure', force = false): Promise<TimelineCompactionResult> {
    return this.serial(t, async () => {
      const t0 = performance.now();
      try {
        const r = await compactTimeline(t, this.compaction, this.keyCache, force);
        const durationMs = performance.now() - t0;
        const l = this.labels(t, trigger);
        this.o.metrics.compactionRuns.inc({ ...l, result: 'ok' });
        this.o.metrics.compactionSeconds.observe(durationMs / 1000, l);
        if (r.mergedLayers) this.o.metrics.compactionLayers.inc({ ...l, kind: 'delta' }, r.mergedLayers);
        if (r.imageLayers) this.o.metrics.compactionLayers.inc({ ...l, kind: 'image' }, r.imageLayers);
        this.o.metrics.compactionBytes.inc(l, r.bytesWritten);
        if (r.mergedLayers || r.imageLayers) this.o.log.info('compaction', { tenantId: t.tenantId, timelineId: t.timelineId, trigger, ...r, durationMs: Math.round(durationMs) });
        this.o.metrics.lastErrors.ok(t.tenantId, t.timelineId, 'compaction');
        return { ...r, durationMs };
      } catch (e) {
        this.o.metrics.compactionRuns.inc({ ...this.labels(t, trigger), result: 'error' });
        // Whatever the trigger, the operator sees it in the timeline's status and `strata status`.
        const err = maintenanceError('compaction', t, e);
        this.o.metrics.lastErrors.record(t.tenantId, t.timelineId, 'compaction', err);
        throw err;
      }
    });
  }

  /** The LSNs of `t` that must stay readable below any horizon: its children's branch points and its snapshots. */
  retainedLsns(t: Timeline): bigint[] {
    const points = this.o.tenants.children(t).map((c) => c.ancestorLsn).filter((l): l is bigint => l !== undefined);
    for (const s of t.metaSnapshot.snapshots) points.push(s.lsn);
    return points;
  }

  /** The horizon a PITR window gives: the newest LSN committed at or before now − window (initLsn when the map has none). */
  pitrHorizon(t: Timeline, pitrMs: number): bigint {
    const lsn = lsnAtTime(t.metaSnapshot.lsnTimes, this.now() - pitrMs);
    return lsn ?? t.initLsn;
  }

  gc(t: Timeline, req: GcRequest, trigger: 'admin' | 'background'): Promise<TimelineGcResult> {
    return this.serial(t, async () => {
      const t0 = performance.now();
      const l = this.labels(t, trigger);
      try {
        const horizon = req.horizonLsn ?? this.pitrHorizon(t, req.pitrMs ?? this.o.pitrMs ?? DEFAULT_PITR_MS);
        const r = await gcTimeline(t, horizon, this.retainedLsns(t), this.keyCache);
        const durationMs = performance.now() - t0;
        this.o.metrics.gcRuns.inc({ ...l, result: 'ok' });
        this.o.metrics.gcSeconds.observe(durationMs / 1000, l);
        this.o.metrics.gcLayersRemoved.inc(l, r.removed.length);
        this.o.metrics.gcBytesRemoved.inc(l, Math.max(0, r.bytesBefore - r.bytesAfter));
        if (r.removed.length) this.o.log.info('gc', { tenantId: t.tenantId, timelineId: t.timelineId, trigger, horizon: r.horizon, removed: r.removed.length, bytesBefore: r.bytesBefore, bytesAfter: r.bytesAfter });
        this.o.metrics.lastErrors.ok(t.tenantId, t.timelineId, 'gc');
        return { ...r, durationMs };
      } catch (e) {
        this.o.metrics.gcRuns.inc({ ...l, result: 'error' });
        const err = maintenanceError('gc', t, e);
        this.o.metrics.lastErrors.record(t.tenantId, t.timelineId, 'gc', err);
        throw err;
      }
    });
  }

  /** Delta layers above the timeline's newest image: what a read of a recently changed page walks. */
  l0Deltas(t: Timeline): number {
    let newestImage = -1n;
    for (const d of t.layers) if (d.kind === 'image' && d.lsnStart > newestImage) newestImage = d.lsnStart;
    let n = 0;
    for (const d of t.layers) if (d.kind === 'delta' && d.lsnEnd > newestImage) n++;
    return n;
  }

  /**
   * Called by the WAL receiver before each request for more WAL: while the
   * timeline has too many delta layers above its newest image, compact now
   * and wait for it, up to a bound, so reads do not slow down without limit
   * behind a fast writer.
   */
  async backpressure(t: Timeline): Promise<void> {
    const max = this.o.l0DeltasMax ?? DEFAULT_L0_DELTAS_MAX;
    if (this.stopped || this.l0Deltas(t) <= max) return;
    const t0 = performance.now();
    try {
      await Promise.race([this.compact(t, 'backpressure', true), new Promise((r) => setTimeout(r, BACKPRESSURE_WAIT_MAX_MS).unref())]);
    } catch (e) {
      this.o.log.error('compaction under backpressure failed', { tenantId: t.tenantId, timelineId: t.timelineId, error: e });
    } finally {
      this.o.metrics.backpressureWaitMs.inc({ tenant_id: t.tenantId, timeline_id: t.timelineId }, Math.round(performance.now() - t0));
    }
  }

  /** Start the background loops. */
  start(): void {
    const every = (ms: number | undefined, fn: (t: Timeline) => Promise<unknown>, what: string) => {
      if (!ms) return;
      let running = false;
      const timer = setInterval(() => {
        if (running || this.stopped) return;
        running = true;
        void (async () => {
          for (const t of this.o.tenants.all()) {
            if (this.stopped) break;
            try {
              await fn(t);
            } catch (e) {
              // The timeline may have been deleted under us; anything else is worth a look but must not stop the loop.
              this.o.log.error(`background ${what} failed`, { tenantId: t.tenantId, timelineId: t.timelineId, error: e });
            }
          }
        })().finally(() => {
          running = false;
        });
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.o.compactionPeriodMs, (t) => this.compact(t, 'background'), 'compaction');
    if (this.o.diskBudgetBytes) {
      const timer = setInterval(() => this.enforceDiskBudget(), this.o.evictionPeriodMs ?? 5_000);
      timer.unref();
      this.timers.push(timer);
    }
    every(this.o.gcPeriodMs, (t) => this.gc(t, {}, 'background'), 'gc');
  }

  /**
   * Keep local layer files within the disk budget: evict from the timelines
   * holding the most bytes first, each least recently used first; only layers
   * already in remote storage go, and they come back on demand.
   */
  enforceDiskBudget(): number {
    const budget = this.o.diskBudgetBytes ?? 0;
    if (!budget) return 0;
    const sizes = this.o.tenants.all().map((t) => ({ t, bytes: t.localLayerBytes() }));
    let total = sizes.reduce((n, x) => n + x.bytes, 0);
    let evicted = 0;
    for (const { t, bytes } of sizes.sort((a, b) => b.bytes - a.bytes)) {
      if (total <= budget) break;
      const names = t.evictLayers(Math.max(0, bytes - (total - budget)));
      const after = t.localLayerBytes();
      total -= bytes - after;
      evicted += names.length;
      if (names.length) this.o.metrics.evictions.inc({ tenant_id: t.tenantId, timeline_id: t.timelineId }, names.length);
    }
    return evicted;
  }

  /** Stop the loops and wait for work under way (shutdown, before the final flush). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await Promise.all([...this.chains.values()]);
  }

  /** A timeline is being deleted: let its work under way finish, and queue no more. */
  async removing(t: Timeline): Promise<void> {
    this.removed.add(t);
    await this.chains.get(t);
    this.o.metrics.lastErrors.forget(t.tenantId, t.timelineId);
  }

  added(): void {
    // Nothing to set up: a timeline's work starts with the next loop tick.
  }
}
