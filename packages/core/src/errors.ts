/**
 * Domain errors. Every error that crosses a module boundary is a StrataError
 * (these, and the subclasses of the packages and apps: ServiceError,
 * RemoteStorageError, the page server's and the clients' errors), with a
 * stable `code` that services map to their wire replies and the CLI prints.
 * Only AssertionError is not: a failed assertion is a bug, never handled.
 */
/** The codes of core's own errors (the keys of every service's status table). */
export type StrataErrorCode =
  | 'CORRUPT_REDO'
  | 'UNSUPPORTED_REDO_FORMAT'
  | 'LSN_OUT_OF_RANGE'
  | 'CORRUPT_PAGE'
  | 'UNSUPPORTED_PAGE'
  | 'CORRUPT_FRAME'
  | 'TERM_MISMATCH'
  | 'GENERATION_MISMATCH'
  | 'LSN_GAP'
  | 'TIMELINE_NOT_FOUND'
  | 'NOT_A_MEMBER';

export abstract class StrataError extends Error {
  /** Stable across releases: what callers branch on, never the message. */
  abstract readonly code: string;
}

/** Redo bytes that cannot be what MariaDB wrote: bad CRC, impossible record, out-of-page offset. */
export class CorruptRedo extends StrataError {
  readonly code = 'CORRUPT_REDO' as const;
  constructor(
    readonly lsn: bigint,
    readonly reason: string,
  ) {
    super(`corrupt redo at LSN ${lsn}: ${reason}`);
    this.name = 'CorruptRedo';
  }
}

/** A log we recognise but do not read: encrypted, or older than the 10.8 format. */
export class UnsupportedRedoFormat extends StrataError {
  readonly code = 'UNSUPPORTED_REDO_FORMAT' as const;
  constructor(readonly reason: string) {
    super(`unsupported redo log format: ${reason}`);
    this.name = 'UnsupportedRedoFormat';
  }
}

export class LsnOutOfRange extends StrataError {
  readonly code = 'LSN_OUT_OF_RANGE' as const;
  constructor(
    readonly lsn: bigint,
    readonly reason: string,
  ) {
    super(`LSN ${lsn} out of range: ${reason}`);
    this.name = 'LsnOutOfRange';
  }
}

/** A page whose contents contradict what a redo record expects of it. */
export class CorruptPage extends StrataError {
  readonly code = 'CORRUPT_PAGE' as const;
  constructor(
    readonly spaceId: number,
    readonly pageNo: number,
    readonly reason: string,
  ) {
    super(`corrupt page ${spaceId}:${pageNo}: ${reason}`);
    this.name = 'CorruptPage';
  }
}

/** A page or tablespace feature Strata does not rebuild (e.g. ROW_FORMAT=COMPRESSED). */
export class UnsupportedPage extends StrataError {
  readonly code = 'UNSUPPORTED_PAGE' as const;
  constructor(
    readonly spaceId: number,
    readonly pageNo: number,
    readonly reason: string,
  ) {
    super(`unsupported page ${spaceId}:${pageNo}: ${reason}`);
    this.name = 'UnsupportedPage';
  }
}

/** A consensus wire frame that cannot be decoded: truncated, oversized, unknown tag or bad field. */
export class CorruptFrame extends StrataError {
  readonly code = 'CORRUPT_FRAME' as const;
  constructor(readonly reason: string) {
    super(`corrupt frame: ${reason}`);
    this.name = 'CorruptFrame';
  }
}

/** A proposer speaking in a term the acceptor has moved past (it is fenced), or before it was elected. */
export class TermMismatch extends StrataError {
  readonly code = 'TERM_MISMATCH' as const;
  constructor(
    readonly acceptorTerm: bigint,
    readonly messageTerm: bigint,
    readonly reason: string,
  ) {
    super(`term mismatch: acceptor term ${acceptorTerm}, message term ${messageTerm}: ${reason}`);
    this.name = 'TermMismatch';
  }
}

/** A message from another membership generation than the acceptor's. */
export class GenerationMismatch extends StrataError {
  readonly code = 'GENERATION_MISMATCH' as const;
  constructor(
    readonly acceptorGeneration: number,
    readonly messageGeneration: number,
  ) {
    super(`generation mismatch: acceptor generation ${acceptorGeneration}, message generation ${messageGeneration}`);
    this.name = 'GenerationMismatch';
  }
}

/** WAL that would leave a hole (or rewrite history) in an acceptor's contiguous log. */
export class LsnGap extends StrataError {
  readonly code = 'LSN_GAP' as const;
  constructor(
    readonly expectedLsn: bigint,
    readonly gotLsn: bigint,
  ) {
    super(`WAL not contiguous: expected LSN ${expectedLsn}, got ${gotLsn}`);
    this.name = 'LsnGap';
  }
}

export class TimelineNotFound extends StrataError {
  readonly code = 'TIMELINE_NOT_FOUND' as const;
  constructor(
    readonly tenantId: string,
    readonly timelineId: string,
  ) {
    super(`timeline ${tenantId}/${timelineId} not found`);
    this.name = 'TimelineNotFound';
  }
}

/** A node asked to act in a configuration that does not include it. */
export class NotAMember extends StrataError {
  readonly code = 'NOT_A_MEMBER' as const;
  constructor(
    readonly nodeId: number,
    readonly generation: number,
  ) {
    super(`node ${nodeId} is not a member of generation ${generation}`);
    this.name = 'NotAMember';
  }
}
