/**
 * A member that lacks the timeline: may it join as a fresh acceptor?
 *
 * Paxos allows an acceptor that never voted and never acknowledged anything
 * to start empty at any time: term 0, no history, WAL empty at the
 * timeline's start is exactly the state it would be in had it existed all
 * along and heard nothing. A fresh member therefore changes no quorum's
 * knowledge, and the elected proposer brings its log up to date like any
 * laggard's.
 *
 * An acceptor that HELD the timeline and lost it (a deleted directory, a
 * replaced disk) is different: it may have voted in a term (so voting again
 * could elect two proposers in one term) and acknowledged WAL that a
 * majority committed only with its help (so voting with an empty log could
 * elect a donor that lacks committed WAL). It must never come back as a
 * fresh acceptor. It stays out, shown as degraded, until a membership
 * change replaces it (the new configuration's members pull the timeline
 * from a majority of the others, which holds everything committed).
 *
 * Telling the two apart needs facts that survive the loss:
 *   - a ledger outside the timeline directories, written and made durable
 *     before a timeline directory is put in place (create or pull) and
 *     removed only by an explicit delete: it covers a lost directory;
 *   - the age of the data directory itself (written at its first start): a
 *     disk initialised after the timeline was created cannot prove that it
 *     never held it (a replaced disk); only an older one can.
 * The second compares two clocks (the safekeeper's and the one that dated
 * the timeline on its peers); skew between them larger than the time from a
 * timeline's creation to a disk's replacement would make a replaced disk
 * look old. Safekeepers are expected to run with synchronised clocks.
 */
import { isMember } from './quorum.js';
import type { Configuration, NodeId } from './types.js';

export interface JoinFacts {
  readonly nodeId: NodeId;
  /** The highest configuration the timeline's other members hold. */
  readonly conf: Configuration;
  /** The node's ledger records that it held this timeline. */
  readonly heldBefore: boolean;
  /** When the node's data directory was first initialised (ms since the epoch). */
  readonly diskInitializedAtMs: number;
  /** When the timeline was created, as its peers recorded it (ms since the epoch). */
  readonly timelineCreatedAtMs: number;
}

export type JoinRefusal =
  /** Not a member of the configuration: a membership change adds members, by a pull. */
  | 'notMember'
  /** The ledger says this node held the timeline: it lost it. */
  | 'lost'
  /** The data directory is younger than the timeline: it may be a replaced disk. */
  | 'diskNewer';

export type JoinDecision = { readonly kind: 'fresh' } | { readonly kind: 'refuse'; readonly reason: JoinRefusal };

/** Whether `facts.nodeId` may be created as a fresh (never voted) acceptor of the timeline. */
export function decideJoin(facts: JoinFacts): JoinDecision {
  if (!isMember(facts.conf, facts.nodeId)) return { kind: 'refuse', reason: 'notMember' };
  if (facts.heldBefore) return { kind: 'refuse', reason: 'lost' };
  if (!(facts.diskInitializedAtMs < facts.timelineCreatedAtMs)) return { kind: 'refuse', reason: 'diskNewer' };
  return { kind: 'fresh' };
}

/**
 * What a proposer knows of a member's timeline: `present` (it answers for
 * it), `missing` (its safekeeper answers but has no such timeline: the
 * proposer's shell asks it to join) or `lost` (it refused to join: degraded
 * until a membership change replaces it).
 */
export type MemberPresence = 'present' | 'missing' | 'lost';
