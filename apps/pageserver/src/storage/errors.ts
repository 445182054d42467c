import { LsnOutOfRange } from '@strata/core';

/** GetPage for an LSN the timeline has not ingested yet (after waiting). */
export class LsnNotYetAvailable extends LsnOutOfRange {
  constructor(lsn: bigint, lastRecordLsn: bigint, waitedMs: number) {
    super(lsn, `not ingested yet (ingested up to ${lastRecordLsn}; waited ${waitedMs} ms)`);
    this.name = 'LsnNotYetAvailable';
  }
}

export class PageNotFound extends Error {
  readonly code = 'PAGE_NOT_FOUND' as const;
  constructor(spaceId: number, pageNo: number, lsn: bigint) {
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
