/**
 * The page server's own metrics. Per-timeline values that live in the
 * timelines (LSNs, layer counts) are collected at scrape time by the
 * metrics route; counters here are bumped where the work happens.
 */
import { Counter, Gauge, Histogram, type Labels, type Metric, Registry, type RuntimeMetrics } from '@strata/service-kit';
import { BackgroundErrors } from './background-errors.js';

/** GetPage latency buckets, seconds: 20 µs to 2.5 s. */
export const GETPAGE_BUCKETS_SECONDS = [0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5];
/** Compaction and GC pass durations, seconds. */
export const MAINTENANCE_BUCKETS_SECONDS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];
export const LAYERS_VISITED_BUCKETS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64];
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

export class PageserverMetrics {
  readonly registry = new Registry();
  readonly httpRequests = this.registry.register(new Counter('pageserver_http_requests_total', 'HTTP requests by route and status.'));
  readonly ingestBytes = this.registry.register(new Counter('pageserver_wal_ingest_bytes_total', 'Committed WAL bytes received from safekeepers.'));
  readonly ingestMtrs = this.registry.register(new Counter('pageserver_wal_ingest_mtrs_total', 'Mini-transactions ingested.'));
  readonly ingestRecords = this.registry.register(new Counter('pageserver_wal_ingest_records_total', 'Redo records ingested.'));
  readonly ingestLagBytes = this.registry.register(
    new Gauge('pageserver_wal_ingest_lag_bytes', 'Commit LSN of the safekeeper streamed from minus the last ingested record LSN.'),
  );
  readonly receiverErrors = this.registry.register(new Counter('pageserver_wal_receiver_errors_total', 'WAL stream failures (the receiver then picks a safekeeper again).'));
  readonly receiverConnects = this.registry.register(new Counter('pageserver_wal_receiver_connects_total', 'Times a WAL receiver chose a safekeeper to stream from.'));
  readonly layerFlushes = this.registry.register(new Counter('pageserver_layer_flushes_total', 'Open layers frozen to delta layer files, by reason.'));
  readonly getpageSeconds = this.registry.register(
    new Histogram(
      'pageserver_getpage_seconds',
      'GetPage time per stage, each timed alone (queueing before a batch is picked up is in none): per batch "wait" (for the LSN to be ingested), ' +
        '"download" (layers back from remote storage), "lookup" (memory cache lookups and bookkeeping of the whole batch), "encode" (the reply); ' +
        'per page reconstructed "reconstruct", and "layer_io": the part of "reconstruct" spent blocked reading layer files (a disk the OS page cache did not answer shows here, not in the CPU work).',
      GETPAGE_BUCKETS_SECONDS,
    ),
  );
  readonly getpageTierPages = this.registry.register(
    new Counter('pageserver_getpage_tier_pages_total', 'Pages served, by the tier that had them: "memory" (page cache), "local" (layer files on disk), "remote" (after a download in the same batch).'),
  );
  readonly getpageLayersVisited = this.registry.register(
    new Histogram('pageserver_getpage_layers_visited', 'Layers (in-memory, delta, image) that gave values to one reconstruction, per page: what a read walks.', LAYERS_VISITED_BUCKETS),
  );
  readonly getpageBatchSize = this.registry.register(new Histogram('pageserver_getpage_batch_size', 'Pages per GetPage request.', BATCH_SIZE_BUCKETS));
  readonly getpagePages = this.registry.register(new Counter('pageserver_getpage_pages_total', 'Pages asked for, by result status.'));
  readonly evictions = this.registry.register(new Counter('pageserver_layer_evictions_total', 'Local layer files evicted to keep within the disk budget (they stay in remote storage).'));
  readonly compactionRuns = this.registry.register(new Counter('pageserver_compaction_runs_total', 'Compaction passes, by trigger (background, admin) and result (ok, error).'));
  readonly compactionSeconds = this.registry.register(new Histogram('pageserver_compaction_seconds', 'Duration of one compaction pass.', MAINTENANCE_BUCKETS_SECONDS));
  readonly compactionLayers = this.registry.register(new Counter('pageserver_compaction_layers_written_total', 'Layer files written by compaction, by kind (delta: merged, image: materialized).'));
  readonly compactionBytes = this.registry.register(new Counter('pageserver_compaction_bytes_written_total', 'Bytes of layer files written by compaction.'));
  readonly gcRuns = this.registry.register(new Counter('pageserver_gc_runs_total', 'GC passes, by trigger and result.'));
  readonly gcSeconds = this.registry.register(new Histogram('pageserver_gc_seconds', 'Duration of one GC pass.', MAINTENANCE_BUCKETS_SECONDS));
  readonly gcLayersRemoved = this.registry.register(new Counter('pageserver_gc_layers_removed_total', 'Layer files GC removed.'));
  readonly gcBytesRemoved = this.registry.register(new Counter('pageserver_gc_bytes_removed_total', 'Bytes of local layer files GC removed.'));
  readonly backpressureWaitMs = this.registry.register(
    new Counter('pageserver_ingest_backpressure_wait_ms_total', 'Milliseconds WAL receivers paused because too many delta layers waited for compaction.'),
  );
  readonly basebackupBytes = this.registry.register(new Counter('pageserver_basebackup_bytes_total', 'Bytes of basebackup tar streams sent.'));
  /**
   * The last compaction, GC and basebackup error per timeline, with its
   * message: shared by the work that fails (maintenance, the basebackup
   * route) and the routes that show it (timeline status, /metrics).
   */
  readonly lastErrors = new BackgroundErrors();
  /** GC pauses and event-loop delay: the running server sets this (main.ts); tests leave it unset. */
  runtime: RuntimeMetrics | undefined;
}

/** A counter whose value lives elsewhere (the page cache's own tallies), read at scrape time. */
export class CollectedCounter implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly collect: () => Iterable<[Labels, number]>,
  ) {}
  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [labels, v] of this.collect()) {
      const key = Object.entries(labels)
        .map(([k, x]) => `${k}="${x}"`)
        .join(',');
      out.push(`${this.name}${key ? `{${key}}` : ''} ${v}`);
    }
    return out;
  }
}
