/**
 * Errors the safekeeper service adds to the domain errors of @strata/core.
 * Each has a stable `code`; `app.ts` maps every error to an HTTP status in one
 * place. (Candidates to move into packages/core/src/errors.ts once stable.)
 */
export type ServiceErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'PAYLOAD_TOO_LARGE'
  | 'TIMELINE_EXISTS'
  | 'CONTROL_FILE_CORRUPT'
  | 'WAL_CORRUPT';

export abstract class ServiceError extends Error {
  abstract readonly code: ServiceErrorCode;
}

/** Input that fails validation: zod issues, malformed JSON, bad LSN strings. */
export class BadRequest extends ServiceError {
  readonly code = 'BAD_REQUEST' as const;
  constructor(message: string) {
    super(message);
    this.name = 'BadRequest';
  }
}

export class Unauthenticated extends ServiceError {
  readonly code = 'UNAUTHENTICATED' as const;
  constructor(message: string) {
    super(message);
    this.name = 'Unauthenticated';
  }
}

export class Forbidden extends ServiceError {
  readonly code = 'FORBIDDEN' as const;
  constructor(message: string) {
    super(message);
    this.name = 'Forbidden';
  }
}

export class RouteNotFound extends ServiceError {
  readonly code = 'NOT_FOUND' as const;
  constructor(method: string, path: string) {
    super(`no route ${method} ${path}`);
    this.name = 'RouteNotFound';
  }
}

export class PayloadTooLarge extends ServiceError {
  readonly code = 'PAYLOAD_TOO_LARGE' as const;
  constructor(readonly maxBytes: number) {
    super(`request body larger than ${maxBytes} bytes`);
    this.name = 'PayloadTooLarge';
  }
}

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
