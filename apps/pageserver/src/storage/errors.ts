import { LsnOutOfRange, StrataError } from '@strata/core';

/**
 * A read or wait for an LSN the timeline has not ingested yet (after
 * waiting): the client retries (503). Not an LsnOutOfRange (400): that LSN
 * is valid, only not here yet.
 */
export class LsnNotYetAvailable extends StrataError {
  readonly code = 'LSN_NOT_YET_AVAILABLE' as const;
  constructor(
    readonly lsn: bigint,
    readonly lastRecordLsn: bigint,
    readonly waitedMs: number,
  ) {
    super(`LSN ${lsn} not ingested yet (ingested up to ${lastRecordLsn}; waited ${waitedMs} ms)`);
    this.name = 'LsnNotYetAvailable';
  }
}

export class PageNotFound extends StrataError {
  readonly code = 'PAGE_NOT_FOUND' as const;
  constructor(
    readonly spaceId: number,
    readonly pageNo: number,
    readonly lsn: bigint,
  ) {
    super(`page ${spaceId}:${pageNo} does not exist at LSN ${lsn}`);
    this.name = 'PageNotFound';
  }
}

/**
 * A read below the timeline's GC horizon (and not at a retained branch point
 * or snapshot): the layers it would need may be gone.
 */
export class LsnBeforeGcHorizon extends LsnOutOfRange {
  constructor(lsn: bigint, horizon: bigint) {
    super(lsn, `below the GC horizon ${horizon} (only branch points and snapshots stay readable below it)`);
    this.name = 'LsnBeforeGcHorizon';
  }
}

/**
 * A listed layer file that is not on local disk and cannot come back: no
 * remote storage is configured (a file deleted behind the page server's
 * back, or lost in a crash). Not a StrataError: it is an internal failure,
 * which compaction and basebackup report inside their own errors
 * (MAINTENANCE_FAILED, BASEBACKUP_FAILED) with this message.
 */
export class LayerFileMissing extends Error {
  constructor(
    readonly layerName: string,
    readonly timelineId: string,
  ) {
    super(`layer ${layerName} of ${timelineId} is missing locally and there is no remote storage`);
    this.name = 'LayerFileMissing';
  }
}
