/**
 * Errors of the remote storage layer. Each has a stable `code` so that services
 * can map it to a wire reply the same way as the domain errors of @strata/core.
 */
import { StrataError } from '@strata/core';

export type RemoteStorageErrorCode = 'INVALID_REMOTE_STORAGE_URL' | 'INVALID_REMOTE_KEY' | 'REMOTE_STORAGE_IO';

export abstract class RemoteStorageError extends StrataError {
  abstract override readonly code: RemoteStorageErrorCode;
}

/** A remote storage URL that names no backend we can open. */
export class InvalidRemoteStorageUrl extends RemoteStorageError {
  readonly code = 'INVALID_REMOTE_STORAGE_URL' as const;
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`invalid remote storage URL "${url}": ${reason}`);
    this.name = 'InvalidRemoteStorageUrl';
  }
}

/** A key that could escape the storage root or collide with our temp files. */
export class InvalidRemoteKey extends RemoteStorageError {
  readonly code = 'INVALID_REMOTE_KEY' as const;
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`invalid remote storage key "${key}": ${reason}`);
    this.name = 'InvalidRemoteKey';
  }
}

/** The backend failed: the disk, the network, or the object store said no. */
export class RemoteStorageIoError extends RemoteStorageError {
  readonly code = 'REMOTE_STORAGE_IO' as const;
  constructor(
    readonly operation: string,
    readonly key: string,
    override readonly cause: unknown,
  ) {
    super(`remote storage ${operation} "${key}" failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'RemoteStorageIoError';
  }
}
