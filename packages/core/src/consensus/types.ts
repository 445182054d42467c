/**
 * Vocabulary of the safekeeper consensus (Neon's Paxos-derived protocol, see
 * docs/architecture.md "Consensus"). The compute's WAL shipper is the
 * proposer, each safekeeper an acceptor; one consensus instance per timeline.
 */

/** A position in the redo stream (MariaDB LSN). The WAL of a timeline is one contiguous byte range. */
export type Lsn = bigint;
/** A proposer's ballot. Terms are totally ordered and never reused by two elected proposers. */
export type Term = bigint;
/** Identity of a safekeeper (acceptor) or of a proposer. */
export type NodeId = number;
/** Configuration number: higher generations supersede lower ones. */
export type Generation = number;

/** The term `term` begins writing WAL at `lsn`. */
export interface TermLsn {
  readonly term: Term;
  readonly lsn: Lsn;
}

/**
 * Start LSN of each term that wrote the log, ascending in both term and LSN
 * (LSNs may repeat: a term that wrote nothing starts where the next does).
 * Term `history[i].term` owns the LSNs `[history[i].lsn, history[i+1].lsn)`.
 */
export type TermHistory = readonly TermLsn[];

/**
 * Membership of one timeline's consensus. With `newMembers` it is a joint
 * configuration: elections and commits need a majority of `members` AND a
 * majority of `newMembers` (docs/rfcs/035 in neon).
 */
export interface Configuration {
  readonly generation: Generation;
  readonly members: readonly NodeId[];
  readonly newMembers?: readonly NodeId[];
}

/** Tenant and timeline ids: lowercase hex strings (32 characters in practice). */
export interface TimelineKey {
  readonly tenantId: string;
  readonly timelineId: string;
}

/** LSN 0 means "none" on the wire (e.g. no commit yet). */
export const INVALID_LSN: Lsn = 0n;
