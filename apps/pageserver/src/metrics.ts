/**
 * The page server's own metrics. Per-timeline values that live in the
 * timelines (LSNs, layer counts) are collected at scrape time by the
 * metrics route; counters here are bumped where the work happens.
 */
import { Counter, Gauge, Histogram, Registry } from '@strata/service-kit';

/** GetPage latency buckets, seconds: 20 µs to 2.5 s. */
export const GETPAGE_BUCKETS_SECONDS = [0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5];
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
    new Histogram('pageserver_getpage_seconds', 'GetPage time per stage: "wait" for the LSN to be ingested (per batch), "reconstruct" per page.', GETPAGE_BUCKETS_SECONDS),
  );
  readonly getpageBatchSize = this.registry.register(new Histogram('pageserver_getpage_batch_size', 'Pages per GetPage request.', BATCH_SIZE_BUCKETS));
  readonly getpagePages = this.registry.register(new Counter('pageserver_getpage_pages_total', 'Pages asked for, by result status.'));
  readonly basebackupBytes = this.registry.register(new Counter('pageserver_basebackup_bytes_total', 'Bytes of basebackup tar streams sent.'));
}
