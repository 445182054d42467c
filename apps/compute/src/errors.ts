/**
 * Why a compute did not start or stopped. Each carries a stable `code` so
 * the CLI and a future control plane can tell them apart without parsing
 * messages.
 */
import { StrataError } from '@strata/core';

export type ComputeErrorCode =
  | 'ComputeStartFailed'
  | 'SafekeepersUnavailable'
  | 'CheckpointOvertookShipper'
  | 'RedoLogChanged'
  | 'ProposerFencedByTerm'
  | 'MariadbExited'
  | 'ShipperStalled';

export class ComputeError extends StrataError {
  constructor(
    readonly code: ComputeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ComputeError';
  }
}
