/**
 * Replay of a page's redo history, with recovery's rules (log0recv.cc,
 * recv_recover_page): an mtr already reflected in the page (start LSN below
 * the page's LSN) is skipped; the page LSN becomes the end LSN of the last
 * applied mtr; a freed page's content is undefined.
 */
import { applyRecord } from './apply.js';
import { type ChecksumAlgorithm, pageLsn, stampPage } from './page.js';
import type { PageRecord } from './records.js';

/** The records one mtr holds for one page, in log order. */
export interface PageChange {
  readonly startLsn: bigint;
  readonly endLsn: bigint;
  readonly records: readonly PageRecord[];
}

export interface ReplayResult {
  /** The LSN now in the page header, or the input's if nothing applied. */
  readonly lsn: bigint;
  readonly applied: number;
  readonly skipped: number;
  /** Ends freed: the content is meaningless and MariaDB would not write it. */
  readonly freed: boolean;
}

/**
 * Apply `changes` (ascending LSN) to `page` in place and stamp it.
 * `page` is the stored image (all zeros if it was never written).
 */
export function replayPage(page: Uint8Array, changes: readonly PageChange[], algorithm: ChecksumAlgorithm): ReplayResult {
  const startPageLsn = pageLsn(page);
  let lsn = startPageLsn;
  let applied = 0;
  let skipped = 0;
  let freed = false;
  let touched = false;
  for (const change of changes) {
    if (change.startLsn < startPageLsn) {
      skipped++;
      continue;
    }
    for (const r of change.records) {
      if (applyRecord(page, r, change.startLsn) === 'freed') freed = true;
      else if (r.type === 'INIT_PAGE') freed = false;
    }
    applied++;
    lsn = change.endLsn;
    touched = true;
  }
  if (touched && !freed) stampPage(page, lsn, algorithm);
  return { lsn, applied, skipped, freed };
}
