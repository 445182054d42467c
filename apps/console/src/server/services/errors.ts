/**
 * The console's domain errors. Services throw these; the tRPC layer maps
 * them to TRPCError codes and passes `code`/`service`/`serviceCode` to the
 * browser so it can show the storage service's own typed error.
 */
import { StrataError } from '@strata/core';

export type ConsoleErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'INVALID'
  | 'NO_CLUSTER'
  | 'SERVICE_ERROR'
  | 'SERVICE_UNREACHABLE'
  | 'CLI_FAILED'
  | 'QUERY_FAILED'
  | 'RATE_LIMITED';

export interface ServiceErrorDetails {
  /** e.g. "pageserver", "safekeeper 2", "compute main", "strata branch create". */
  service?: string;
  /** The service's own error code, e.g. LSN_BEFORE_GC_HORIZON. */
  serviceCode?: string;
  httpStatus?: number;
}

export class ConsoleError extends StrataError {
  constructor(
    readonly code: ConsoleErrorCode,
    message: string,
    readonly details: ServiceErrorDetails = {},
  ) {
    super(message);
    this.name = 'ConsoleError';
  }
}

export const notFound = (what: string) => new ConsoleError('NOT_FOUND', `${what} not found`);
export const conflict = (message: string) => new ConsoleError('CONFLICT', message);
export const invalid = (message: string) => new ConsoleError('INVALID', message);

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
