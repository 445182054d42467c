/**
 * Errors the page server service adds to the domain errors of @strata/core,
 * the shared ones of @strata/service-kit and its storage engine's. Each has
 * a stable `code`; `app.ts` maps every code to an HTTP status in one place.
 */
import { ServiceError } from '@strata/service-kit';

export class TenantNotFound extends ServiceError {
  readonly code = 'TENANT_NOT_FOUND' as const;
  constructor(readonly tenantId: string) {
    super(`tenant ${tenantId} not found`);
    this.name = 'TenantNotFound';
  }
}

/** Creating a tenant or timeline whose id is taken. */
export class AlreadyExists extends ServiceError {
  readonly code = 'ALREADY_EXISTS' as const;
  constructor(what: string) {
    super(`${what} already exists`);
    this.name = 'AlreadyExists';
  }
}

/** Deleting a timeline that others branch from: their reads below the branch point need it. */
export class TimelineHasChildren extends ServiceError {
  readonly code = 'TIMELINE_HAS_CHILDREN' as const;
  constructor(
    readonly timelineId: string,
    readonly children: readonly string[],
  ) {
    super(`timeline ${timelineId} has branches (${children.join(', ')}): delete them first`);
    this.name = 'TimelineHasChildren';
  }
}

/** An import source that is not a datadir we can read (missing, not a directory). */
export class InvalidDatadir extends ServiceError {
  readonly code = 'INVALID_DATADIR' as const;
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`cannot import ${path}: ${reason}`);
    this.name = 'InvalidDatadir';
  }
}

export class SnapshotNotFound extends ServiceError {
  readonly code = 'SNAPSHOT_NOT_FOUND' as const;
  constructor(
    readonly tenantId: string,
    readonly snapshotName: string,
  ) {
    super(`snapshot ${snapshotName} of tenant ${tenantId} not found`);
    this.name = 'SnapshotNotFound';
  }
}

/** `lsn_by_timestamp` for a time before every point of the timeline's LSN ↔ time map. */
export class NoLsnAtTime extends ServiceError {
  readonly code = 'NO_LSN_AT_TIME' as const;
  constructor(
    readonly timelineId: string,
    readonly at: string,
  ) {
    super(`timeline ${timelineId} knows no LSN committed at or before ${at}`);
    this.name = 'NoLsnAtTime';
  }
}

/**
 * A basebackup that failed on our side after its request was valid: the
 * cause's message is passed on, so the client (and `strata status`) see why
 * instead of a bare INTERNAL.
 */
export class BasebackupFailed extends ServiceError {
  readonly code = 'BASEBACKUP_FAILED' as const;
  constructor(
    readonly timelineId: string,
    readonly lsn: bigint,
    override readonly cause: unknown,
  ) {
    super(`basebackup of timeline ${timelineId} at LSN ${lsn} failed: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`);
    this.name = 'BasebackupFailed';
  }
}

/** One remote storage request of the upload queue that did not finish in time: aborted, and retried after a backoff. */
export class RemoteUploadTimedOut extends ServiceError {
  readonly code = 'REMOTE_UPLOAD_TIMEOUT' as const;
  constructor(
    readonly key: string,
    readonly timeoutMs: number,
  ) {
    super(`remote storage request for ${key} took longer than ${timeoutMs} ms (aborted)`);
    this.name = 'RemoteUploadTimedOut';
  }
}

/**
 * Compaction or GC failed on something that is not one of our typed errors
 * (an I/O error, a RangeError in a layer codec): the admin route answers with
 * the real message, and the timeline's status keeps it (lastErrors).
 */
export class MaintenanceFailed extends ServiceError {
  readonly code = 'MAINTENANCE_FAILED' as const;
  constructor(
    readonly kind: 'compaction' | 'gc',
    readonly timelineId: string,
    override readonly cause: unknown,
  ) {
    super(`${kind} of timeline ${timelineId} failed: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`);
    this.name = 'MaintenanceFailed';
  }
}
