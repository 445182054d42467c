/**
 * What an operator needs to see of a timeline's background work: the upload
 * queue (backlog, failures, backoff) and the last error of each kind of work
 * with its real message. The timeline status route returns it as JSON;
 * `/metrics` exports the same numbers; `strata status` prints a line per
 * problem.
 */
import type { BackgroundErrors, BackgroundErrorKind } from './background-errors.js';
import type { Timeline } from './storage/index.js';

export interface RemoteHealth {
  readonly queued: number;
  readonly pendingFiles: number;
  readonly pendingBytes: number;
  readonly oldestPendingAgeMs: number;
  readonly consecutiveFailures: number;
  readonly failures: number;
  /** The wait before the next attempt, 0 unless failing. */
  readonly backoffMs: number;
  readonly lastError: string | null;
  readonly lastErrorCode: string | null;
  /** ISO time of lastError. */
  readonly lastErrorAt: string | null;
  readonly lastSuccessAt: string | null;
  readonly remoteConsistentLsn: string;
  /** lastRecordLsn − remoteConsistentLsn: the WAL the safekeepers must keep for this timeline. */
  readonly lagBytes: string;
  readonly uploadedFiles: number;
  readonly uploadedBytes: number;
  readonly skippedFiles: number;
}

export interface LastError {
  readonly kind: BackgroundErrorKind;
  readonly count: number;
  readonly code: string;
  readonly message: string;
  readonly at: string;
  /** When the same work succeeded after it; null: still failing. */
  readonly resolvedAt: string | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function remoteHealth(t: Timeline): RemoteHealth | null {
  const r = t.remote;
  if (!r) return null;
  const s = r.snapshot();
  return {
    queued: s.queued,
    pendingFiles: s.pendingFiles,
    pendingBytes: s.pendingBytes,
    oldestPendingAgeMs: s.oldestPendingAgeMs,
    consecutiveFailures: s.consecutiveFailures,
    failures: s.failures,
    backoffMs: s.backoffMs,
    lastError: s.lastError,
    lastErrorCode: s.lastErrorCode,
    lastErrorAt: iso(s.lastErrorAtMs),
    lastSuccessAt: iso(s.lastSuccessAtMs),
    remoteConsistentLsn: s.remoteConsistentLsn.toString(),
    lagBytes: remoteLagBytes(t).toString(),
    uploadedFiles: s.uploadedFiles,
    uploadedBytes: s.uploadedBytes,
    skippedFiles: s.skippedFiles,
  };
}

/** How far remote storage trails ingest (0 without remote storage: nothing to trail). */
export function remoteLagBytes(t: Timeline): bigint {
  if (!t.remote) return 0n;
  const lag = t.lastRecordLsn - t.remote.remoteConsistentLsn;
  return lag > 0n ? lag : 0n;
}

/** The last error of every kind this timeline has had, uploads included (the upload queue keeps its own). */
export function lastErrors(t: Timeline, errors: BackgroundErrors): LastError[] {
  const out: LastError[] = errors.forTimeline(t.tenantId, t.timelineId).map((e) => ({
    kind: e.kind,
    count: e.count,
    code: e.code,
    message: e.message,
    at: new Date(e.atMs).toISOString(),
    resolvedAt: iso(e.resolvedAtMs),
  }));
  const s = t.remote?.snapshot();
  if (s && s.lastError !== null && s.lastErrorAtMs !== null) {
    const resolved = s.consecutiveFailures === 0 ? s.lastSuccessAtMs : null;
    out.push({ kind: 'upload', count: s.failures, code: s.lastErrorCode ?? 'UNKNOWN', message: s.lastError, at: new Date(s.lastErrorAtMs).toISOString(), resolvedAt: iso(resolved) });
  }
  return out;
}
