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
 * The replay of one page fed an mtr at a time, for callers that apply the
 * log as they read it (`LogReplay`, log-replay.ts): `beginMtr` once per mtr
 * that touches the page, then `apply` for each of that mtr's records for it,
 * `finish` at the end. `replayPage` is this over a list of changes (the page
 * server's reconstruction, `reconstructPage`), so both follow one set of rules.
 */
export class PageReplay {
  /** The stored page's LSN: mtrs that start below it are already in the page. */
  readonly startPageLsn: bigint;
  private lsn: bigint;
  private applied = 0;
  private skipped = 0;
  private freed = false;

  constructor(readonly page: Uint8Array) {
    this.startPageLsn = pageLsn(page);
    this.lsn = this.startPageLsn;
  }

  /** Starts the mtr `[startLsn, endLsn)`; false when the page already holds it (skip its records). */
  beginMtr(startLsn: bigint, endLsn: bigint): boolean {
    if (startLsn < this.startPageLsn) {
      this.skipped++;
      return false;
    }
    this.applied++;
    this.lsn = endLsn;
    return true;
  }

  apply(r: PageRecord, mtrStartLsn: bigint): void {
    if (applyRecord(this.page, r, mtrStartLsn) === 'freed') this.freed = true;
    else if (r.type === 'INIT_PAGE') this.freed = false;
  }

  /** Stamps the page (LSN, checksum) if anything was applied and it does not end freed. */
  finish(algorithm: ChecksumAlgorithm): ReplayResult {
    if (this.applied > 0 && !this.freed) stampPage(this.page, this.lsn, algorithm);
    return { lsn: this.lsn, applied: this.applied, skipped: this.skipped, freed: this.freed };
  }
}

/**
 * Apply `changes` (ascending LSN) to `page` in place and stamp it.
 * `page` is the stored image (all zeros if it was never written).
 */
export function replayPage(page: Uint8Array, changes: readonly PageChange[], algorithm: ChecksumAlgorithm): ReplayResult {
  const replay = new PageReplay(page);
  for (const change of changes) {
    if (!replay.beginMtr(change.startLsn, change.endLsn)) continue;
    for (const r of change.records) replay.apply(r, change.startLsn);
  }
  return replay.finish(algorithm);
}
