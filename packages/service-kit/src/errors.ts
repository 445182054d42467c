/**
 * Errors every Strata service shares, beside the domain errors of
 * @strata/core. Each has a stable `code`; a service maps codes to HTTP
 * statuses in one table (see `createErrorHandler`). Services add their own
 * subclasses of ServiceError with codes of their own.
 */
import { StrataError } from '@strata/core';

export abstract class ServiceError extends StrataError {
  abstract override readonly code: string;
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

/** HTTP statuses of the codes above; services spread this into their own table. */
export const SERVICE_ERROR_STATUS = {
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
} as const;
