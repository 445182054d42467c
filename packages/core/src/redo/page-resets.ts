/**
 * Where each page's history starts over. A page that the log initialises
 * (INIT_PAGE) owes nothing to the records before that, and a page whose last
 * reset frees it (FREE_PAGE) is not written at all: its content is
 * meaningless. Crash recovery drops such records (recv_sys_t keeps only what
 * follows the last init or free of a page); a replay that applies the log as
 * it reads it can skip them too, once a quick first pass has found the last
 * reset of every page. In a busy log that is a third of the page records
 * (undo pages reused, index pages freed and allocated again).
 */
import type { Mtr } from './mtr.js';

/** The last mtr that initialises or frees a page. */
export interface PageReset {
  readonly startLsn: bigint;
  /** The page ends freed (no INIT_PAGE after the last FREE_PAGE): nothing of its history matters. */
  readonly freed: boolean;
}

/** space id → page number → the page's last reset. */
export type PageResets = Map<number, Map<number, PageReset>>;

/** Records the resets of one mtr (parsed with `resetsOnly`, or fully: other records are ignored), in log order. */
export function addPageResets(resets: PageResets, m: Mtr): void {
  for (const r of m.records) {
    if (r.type !== 'INIT_PAGE' && r.type !== 'FREE_PAGE') continue;
    let pages = resets.get(r.spaceId);
    if (!pages) resets.set(r.spaceId, (pages = new Map()));
    // Within one mtr the later record wins: FREE then INIT leaves the page initialised.
    pages.set(r.pageNo, { startLsn: m.startLsn, freed: r.type === 'FREE_PAGE' });
  }
}

/**
 * Reads mtrs until `next` returns undefined or an mtr ends past `untilLsn`:
 * the same stop as the replay that will use the result.
 */
export function collectPageResets(next: () => Mtr | undefined, untilLsn?: bigint): PageResets {
  const resets: PageResets = new Map();
  for (let m = next(); m !== undefined; m = next()) {
    if (untilLsn !== undefined && m.endLsn > untilLsn) break;
    addPageResets(resets, m);
  }
  return resets;
}

/**
 * Whether a record of page `spaceId:pageNo` in the mtr starting at
 * `mtrStartLsn` can be skipped: a later mtr initialises the page, or the
 * page ends freed (then every record of it is void, even one logged after
 * the FREE_PAGE).
 */
export function supersededByReset(resets: PageResets, spaceId: number, pageNo: number, mtrStartLsn: bigint): boolean {
  const reset = resets.get(spaceId)?.get(pageNo);
  return reset !== undefined && (reset.freed || mtrStartLsn < reset.startLsn);
}
