/**
 * Domain errors. Every error that crosses a module boundary is one of these,
 * with a stable `code` that services map to their wire replies.
 */
export type StrataErrorCode =
  | 'CORRUPT_REDO'
  | 'UNSUPPORTED_REDO_FORMAT'
  | 'LSN_OUT_OF_RANGE'
  | 'CORRUPT_PAGE'
  | 'UNSUPPORTED_PAGE';

export abstract class StrataError extends Error {
  abstract readonly code: StrataErrorCode;
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
