import { StrataError } from '@strata/core';

/** Errors the repositories raise instead of Prisma's, so callers never need Prisma to tell them apart. */
export class DbError extends StrataError {
  constructor(
    readonly code: 'ALREADY_EXISTS' | 'NOT_FOUND' | 'MIGRATION_CHECKSUM_MISMATCH' | 'MIGRATION_FAILED',
    message: string,
  ) {
    super(message);
    this.name = 'DbError';
  }
}

export class AlreadyExists extends DbError {
  constructor(what: string) {
    super('ALREADY_EXISTS', `${what} already exists`);
  }
}

export class NotFound extends DbError {
  constructor(what: string) {
    super('NOT_FOUND', `${what} not found`);
  }
}
