/**
 * What the JavaScript runtime itself costs a service: garbage-collection
 * pauses and event-loop delay. A request that was slow for neither its own
 * work nor its disk was often slow because the runtime stopped it; these
 * metrics (and `pausedWithin`) let a slow request be told apart from a slow
 * runtime.
 */
import { constants, type EntryType, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { CollectedGauge, Histogram, type Registry } from './metrics.js';

/** GC pause buckets, seconds: 0.1 ms to 1 s. */
export const GC_PAUSE_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
/** Recent pauses kept for `pausedWithin`: enough for the seconds a slow request may span. */
const RECENT_PAUSES_MAX = 256;
const MS_PER_SECOND = 1000;
const NS_PER_SECOND = 1e9;

/** The V8 collection a pause belongs to, as Prometheus labels read best. */
export function gcKindLabel(kind: number | undefined): string {
  switch (kind) {
    case constants.NODE_PERFORMANCE_GC_MINOR:
      return 'minor';
    case constants.NODE_PERFORMANCE_GC_MAJOR:
      return 'major';
    case constants.NODE_PERFORMANCE_GC_INCREMENTAL:
      return 'incremental';
    case constants.NODE_PERFORMANCE_GC_WEAKCB:
      return 'weakcb';
    default:
      return 'other';
  }
}

/**
 * The milliseconds of the pauses `starts`/`ends` (ring buffers, any order)
 * that fall within [fromMs, toMs]. Pure: the overlap arithmetic, tested
 * beside.
 */
export function overlapMs(starts: readonly number[], ends: readonly number[], fromMs: number, toMs: number): number {
  let total = 0;
  for (let i = 0; i < starts.length; i++) {
    const a = Math.max(starts[i]!, fromMs);
    const b = Math.min(ends[i]!, toMs);
    if (b > a) total += b - a;
  }
  return total;
}

export class RuntimeMetrics {
  private readonly gcPauses: Histogram;
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private next = 0;
  private readonly observer: PerformanceObserver;
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });

  /** `prefix` names the service (`pageserver` → `pageserver_runtime_gc_pause_seconds`). */
  constructor(registry: Registry, prefix: string) {
    this.gcPauses = registry.register(
      new Histogram(`${prefix}_runtime_gc_pause_seconds`, 'Garbage-collection pauses of the JavaScript runtime, by kind (minor: young generation; major: full).', GC_PAUSE_BUCKETS_SECONDS),
    );
    registry.register(
      new CollectedGauge(`${prefix}_runtime_event_loop_delay_seconds`, 'Event-loop delay since the service started, by quantile: how late timers and I/O callbacks ran.', () => {
        const h = this.loopDelay;
        if (h.count === 0) return [];
        return [0.5, 0.99, 1].map((q): [{ quantile: string }, number] => [{ quantile: String(q) }, (q === 1 ? h.max : h.percentile(q * 100)) / NS_PER_SECOND]);
      }),
    );
    this.observer = new PerformanceObserver((list) => {
      // Node puts the collection's kind in `detail`, which the DOM-shaped PerformanceEntry type does not declare.
      for (const e of list.getEntries()) this.record(e.startTime, e.duration, (e as { detail?: { kind?: number } }).detail?.kind);
    });
    this.observer.observe({ entryTypes: ['gc' as EntryType] });
    this.loopDelay.enable();
  }

  private record(startMs: number, durationMs: number, kind: number | undefined): void {
    this.gcPauses.observe(durationMs / MS_PER_SECOND, { kind: gcKindLabel(kind) });
    this.starts[this.next] = startMs;
    this.ends[this.next] = startMs + durationMs;
    this.next = (this.next + 1) % RECENT_PAUSES_MAX;
  }

  /**
   * Milliseconds the runtime spent collecting garbage within [fromMs, toMs]
   * (`performance.now()` times). GC entries arrive after the pause, on a
   * later turn of the event loop: ask once the work being explained has
   * returned to the loop (e.g. from a `setImmediate`).
   */
  pausedWithin(fromMs: number, toMs: number): number {
    return overlapMs(this.starts, this.ends, fromMs, toMs);
  }

  stop(): void {
    this.observer.disconnect();
    this.loopDelay.disable();
  }
}
