/**
 * What a local cluster refuses, with a reason a caller can map without
 * reading the message: the CLI prints the message, the console turns the
 * reason into its own codes (NOT_FOUND, CONFLICT, INVALID, NO_CLUSTER).
 */
import { StrataError } from '@strata/core';

export type LocalClusterReason = 'noCluster' | 'notFound' | 'conflict' | 'invalid' | 'failed';

export class LocalClusterError extends StrataError {
  readonly code = 'LOCAL_CLUSTER' as const;
  override readonly name = 'LocalClusterError';
  constructor(
    readonly reason: LocalClusterReason,
    message: string,
  ) {
    super(message);
  }
}
