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
