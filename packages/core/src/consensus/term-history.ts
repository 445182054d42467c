/**
 * Term history arithmetic. A history lists where each term began writing;
 * an acceptor's history can run ahead of its WAL (it adopts the proposer's
 * whole history before the WAL arrives), so anything that speaks about the
 * acceptor's log first clips the history to its flush LSN.
 */
import { assert } from '../assert.js';
import type { Lsn, Term, TermHistory, TermLsn } from './types.js';

export function assertValidHistory(h: TermHistory): void {
  for (let i = 1; i < h.length; i++) {
    const prev = h[i - 1]!;
    const cur = h[i]!;
    assert(cur.term > prev.term, `term history terms not ascending at ${i}`);
    assert(cur.lsn >= prev.lsn, `term history LSNs descending at ${i}`);
  }
}

/** The entries that began at or before `lsn`: what describes a log ending at `lsn`. */
export function historyUpTo(h: TermHistory, lsn: Lsn): TermHistory {
  let n = 0;
  while (n < h.length && h[n]!.lsn <= lsn) n++;
  return n === h.length ? h : h.slice(0, n);
}

/**
 * Term of the log ending at `flushLsn`: the last term that began at or before
 * it (0 for an empty history). A term that began exactly at `flushLsn` counts
 * though it wrote nothing yet: by adopting that proposer's history the
 * acceptor accepted its log up to there (neon's last_log_term).
 */
export function lastLogTerm(h: TermHistory, flushLsn: Lsn): Term {
  const clipped = historyUpTo(h, flushLsn);
  return clipped.length === 0 ? 0n : clipped[clipped.length - 1]!.term;
}

/** The term that wrote the byte at `lsn` (0 if before the history). */
export function termAt(h: TermHistory, lsn: Lsn): Term {
  let term = 0n;
  for (const e of h) {
    if (e.lsn > lsn) break;
    term = e.term;
  }
  return term;
}

/** (term, lsn) ordering used to rank logs: last log term first, then flush LSN. */
export function compareLogPosition(aTerm: Term, aLsn: Lsn, bTerm: Term, bLsn: Lsn): number {
  if (aTerm !== bTerm) return aTerm < bTerm ? -1 : 1;
  if (aLsn !== bLsn) return aLsn < bLsn ? -1 : 1;
  return 0;
}

/**
 * Highest point up to which an acceptor's log (history `acc`, WAL ending at
 * `accFlush`) agrees with the proposer's (history `prop`, which ends at +∞):
 * the end of the last common term, whichever log leaves it first. Null when
 * they share no term at all.
 *
 * Why this is right: two logs that contain the same term agree on every LSN
 * that term wrote (one proposer per term, and it never rewrites), and on
 * everything before the term began (the proposer adopted its donor's log).
 */
export function highestCommonPoint(prop: TermHistory, acc: TermHistory, accFlush: Lsn): TermLsn | null {
  const sk = historyUpTo(acc, accFlush);
  let common = -1;
  for (let i = 0; i < Math.min(sk.length, prop.length); i++) {
    if (prop[i]!.term !== sk[i]!.term) break;
    assert(prop[i]!.lsn === sk[i]!.lsn, `term ${prop[i]!.term} starts at ${prop[i]!.lsn} and ${sk[i]!.lsn}`);
    common = i;
  }
  if (common < 0) return null;
  const term = prop[common]!.term;
  const skEnd = common + 1 < sk.length ? sk[common + 1]!.lsn : accFlush;
  const propEnd = common + 1 < prop.length ? prop[common + 1]!.lsn : null;
  const end = propEnd !== null && propEnd < skEnd ? propEnd : skEnd;
  return { term, lsn: end };
}
