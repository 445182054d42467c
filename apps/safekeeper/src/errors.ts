/**
 * Errors the safekeeper service adds to the domain errors of @strata/core and
 * the shared ones of @strata/service-kit. Each has a stable `code`; `app.ts`
 * maps every code to an HTTP status in one place.
 */
import { ServiceError } from '@strata/service-kit';

/** Creating a timeline that exists with a different start LSN or configuration. */
export class TimelineExists extends ServiceError {
  readonly code = 'TIMELINE_EXISTS' as const;
  constructor(
    readonly tenantId: string,
    readonly timelineId: string,
    reason: string,
  ) {
    super(`timeline ${tenantId}/${timelineId} already exists: ${reason}`);
    this.name = 'TimelineExists';
  }
}

/** A control file we cannot trust: unparsable, or not what the schema says. */
export class ControlFileCorrupt extends ServiceError {
  readonly code = 'CONTROL_FILE_CORRUPT' as const;
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`control file ${path} is corrupt: ${reason}`);
    this.name = 'ControlFileCorrupt';
  }
}

/** WAL files that contradict the control file: durable bytes missing, segments out of order. */
export class WalCorrupt extends ServiceError {
  readonly code = 'WAL_CORRUPT' as const;
  constructor(
    readonly dir: string,
    readonly reason: string,
  ) {
    super(`WAL in ${dir} is corrupt: ${reason}`);
    this.name = 'WalCorrupt';
  }
}

/** A peer safekeeper we depend on (the source of a pull) failed or answered something unusable. */
export class PeerFailed extends ServiceError {
  readonly code = 'PEER_FAILED' as const;
  constructor(
    readonly peer: string,
    reason: string,
  ) {
    super(`peer ${peer}: ${reason}`);
    this.name = 'PeerFailed';
  }
}

/**
 * A pull could not take a consistent copy of the source timeline: its log
 * changed under the copy every time, or it no longer holds the WAL from the
 * timeline start.
 */
export class PullConflict extends ServiceError {
  readonly code = 'PULL_CONFLICT' as const;
  constructor(
    readonly tenantId: string,
    readonly timelineId: string,
    reason: string,
  ) {
    super(`cannot pull timeline ${tenantId}/${timelineId}: ${reason}`);
    this.name = 'PullConflict';
  }
}

/** A request body sent with `content-encoding: zstd` that is not valid zstd (or decompresses past the limit). */
export class BadZstd extends ServiceError {
  readonly code = 'BAD_ZSTD' as const;
  constructor(reason: string) {
    super(`request body is not valid zstd: ${reason}`);
    this.name = 'BadZstd';
  }
}

export type SafekeeperErrorCode = (
  | TimelineExists
  | ControlFileCorrupt
  | WalCorrupt
  | PeerFailed
  | PullConflict
  | BadZstd
  | TimelineLost
  | JoinRefused
  | UnknownMember
  | PullSourceNotAllowed
)['code'];

/**
 * This safekeeper held the timeline (its ledger says so) and its directory is
 * gone: it must not take part as a fresh acceptor (core consensus join.ts).
 * It stays out until a membership change replaces it.
 */
export class TimelineLost extends ServiceError {
  readonly code = 'TIMELINE_LOST' as const;
  constructor(
    readonly tenantId: string,
    readonly timelineId: string,
  ) {
    super(`timeline ${tenantId}/${timelineId} was held here and is lost: this safekeeper must be replaced by a membership change, not rejoin empty`);
    this.name = 'TimelineLost';
  }
}

/** A join that the join rule refuses (not a member, a younger data directory). */
export class JoinRefused extends ServiceError {
  readonly code = 'JOIN_REFUSED' as const;
  constructor(
    readonly tenantId: string,
    readonly timelineId: string,
    readonly reason: string,
  ) {
    super(`safekeeper may not join timeline ${tenantId}/${timelineId} as a fresh acceptor: ${reason}`);
    this.name = 'JoinRefused';
  }
}

/**
 * A configuration (of a timeline create or join) that names nodes this
 * safekeeper does not know: neither itself nor one of its `--peers`. Such a
 * timeline could never reach a quorum of real nodes.
 */
export class UnknownMember extends ServiceError {
  readonly code = 'UNKNOWN_MEMBER' as const;
  constructor(
    readonly unknown: readonly number[],
    readonly known: readonly number[],
  ) {
    super(`configuration names node${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')} unknown to this safekeeper; known nodes: ${known.join(', ')} (itself and --peers)`);
    this.name = 'UnknownMember';
  }
}

/**
 * A pull whose source is not a registered safekeeper. A pull fetches from
 * the source with a token: any other address would let a caller make this
 * safekeeper send requests (and a token) wherever it likes.
 */
export class PullSourceNotAllowed extends ServiceError {
  readonly code = 'PULL_SOURCE_NOT_ALLOWED' as const;
  constructor(
    readonly source: string,
    readonly allowed: string,
  ) {
    super(`pull source ${source} is not allowed: ${allowed}`);
    this.name = 'PullSourceNotAllowed';
  }
}
