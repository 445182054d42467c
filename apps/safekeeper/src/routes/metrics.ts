import { Hono } from 'hono';
import { authorize, CollectedGauge, PROMETHEUS_CONTENT_TYPE } from '@strata/service-kit';
import { POLICY } from '../auth.js';
import type { AppEnv, SafekeeperDeps } from '../deps.js';
import type { Timeline } from '../storage/timeline.js';

function perTimeline(deps: SafekeeperDeps, name: string, help: string, value: (t: Timeline) => bigint | number) {
  return new CollectedGauge(name, help, () => deps.timelines.all().map((t) => [t.labels(), value(t)]));
}

/** Prometheus text: the registry's metrics plus per-timeline gauges collected at scrape time. */
export function metricsRoutes(deps: SafekeeperDeps) {
  const gauges = [
    perTimeline(deps, 'safekeeper_flush_lsn', 'End of durable WAL.', (t) => t.flushLsn),
    perTimeline(deps, 'safekeeper_commit_lsn', 'Commit LSN known to this safekeeper.', (t) => t.commitLsn),
    perTimeline(deps, 'safekeeper_backup_lsn', 'WAL below this LSN is in remote storage.', (t) => t.control.backupLsn),
    perTimeline(deps, 'safekeeper_remote_consistent_lsn', 'The page server persisted everything below this LSN.', (t) => t.control.remoteConsistentLsn),
    perTimeline(deps, 'safekeeper_term', 'Current term.', (t) => t.control.term),
    perTimeline(deps, 'safekeeper_wal_bytes_on_disk', 'Bytes of WAL segment files.', (t) => t.wal.bytesOnDisk),
    perTimeline(deps, 'safekeeper_commit_lag_bytes', 'Durable WAL not yet known to be committed.', (t) => t.flushLsn - t.commitLsn),
    perTimeline(deps, 'safekeeper_wal_tail_cache_reads', 'WAL reads answered from the in-memory tail since the timeline was opened.', (t) => t.wal.tailReads),
    perTimeline(deps, 'safekeeper_wal_file_reads', 'WAL reads that went to the segment files since the timeline was opened (older than the in-memory tail).', (t) => t.wal.fileReads),
  ];
  return new Hono<AppEnv>().get('/metrics', (c) => {
    authorize(c.var.claims, POLICY.operator);
    const text = deps.metrics.registry.render() + gauges.flatMap((g) => g.render()).join('\n') + '\n';
    return c.body(text, 200, { 'content-type': PROMETHEUS_CONTENT_TYPE });
  });
}
