/**
 * Peer recovery: which WAL a lagging acceptor may copy from a peer acceptor
 * by itself, with no proposer involved (neon's `recovery.rs`).
 *
 * Two logs whose term histories agree on every entry that began below an
 * LSN `L` were written, below `L`, by the same proposers in the same terms
 * (one proposer per term, and it never rewrites): their bytes below `L` are
 * equal. So when the peer's history, clipped below its flush LSN, is exactly
 * ours clipped the same way, the peer's bytes in `[my flush, peer flush)` are
 * what our own proposers would have sent us, and appending them changes
 * nothing but our flush LSN (never the term, history or commit).
 *
 * Anything else (a different last term, us having adopted a newer term, a
 * divergent older entry) means our log may be truncated by the next
 * proposer rather than extended: that is the proposer's job, not ours.
 */
import { historyUpTo } from './term-history.js';
import type { Lsn, TermHistory } from './types.js';

export interface RecoveryLogView {
  readonly termHistory: TermHistory;
  readonly flushLsn: Lsn;
}

/** `[from, to)` to copy from `peer`, or null when its WAL is not provably ours to take. */
export function peerRecoveryRange(me: RecoveryLogView, peer: RecoveryLogView): { from: Lsn; to: Lsn } | null {
  if (peer.flushLsn <= me.flushLsn) return null;
  // Entries that began strictly below the peer's flush LSN.
  const below = peer.flushLsn - 1n;
  const mine = historyUpTo(me.termHistory, below);
  const theirs = historyUpTo(peer.termHistory, below);
  if (mine.length === 0 || mine.length !== theirs.length) return null;
  for (let i = 0; i < mine.length; i++) {
    if (mine[i]!.term !== theirs[i]!.term || mine[i]!.lsn !== theirs[i]!.lsn) return null;
  }
  return { from: me.flushLsn, to: peer.flushLsn };
}
