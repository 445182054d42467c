import { Counter, FSYNC_BUCKETS_SECONDS, Histogram, Registry } from '@strata/service-kit';

/** The safekeeper's own metrics; per-timeline gauges are added by createApp from the timeline registry. */
export class SafekeeperMetrics {
  readonly registry = new Registry();
  readonly walFsyncSeconds = this.registry.register(
    new Histogram('safekeeper_wal_fsync_seconds', 'Time spent in fsync of WAL segment files and their directory per flush.', FSYNC_BUCKETS_SECONDS),
  );
  readonly controlFsyncSeconds = this.registry.register(
    new Histogram('safekeeper_control_file_write_seconds', 'Time to write a control file atomically (write, fsync, rename, fsync dir).', FSYNC_BUCKETS_SECONDS),
  );
  readonly walBytesReceived = this.registry.register(
    new Counter('safekeeper_wal_bytes_received_total', 'WAL bytes appended to this safekeeper.'),
  );
  readonly walBytesSent = this.registry.register(
    new Counter('safekeeper_wal_bytes_sent_total', 'WAL bytes sent to readers.'),
  );
  readonly peerRecoveryBytes = this.registry.register(
    new Counter('safekeeper_peer_recovery_bytes_total', 'WAL bytes this safekeeper copied from peers by peer recovery.'),
  );
  readonly peerRecoveryRuns = this.registry.register(
    new Counter('safekeeper_peer_recovery_runs_total', 'Peer recovery runs that copied WAL from a peer.'),
  );
  /** Labels: tenant_id, timeline_id, reason (a Reject reason: badRedo, conflict, notElected, notAuthorized, ...). */
  readonly consensusRefused = this.registry.register(
    new Counter('safekeeper_consensus_refused_total', 'Consensus messages refused as invalid or out of place (garbage redo, a resend that differs, an append off the elected connection, a scope that may not), by reason.'),
  );
  readonly httpRequests = this.registry.register(
    new Counter('safekeeper_http_requests_total', 'HTTP requests by route and status.'),
  );
}
