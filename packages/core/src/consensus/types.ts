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

/**
 * Every term and LSN that crosses a process boundary is below this (the
 * codec refuses others as corrupt). The wire and the control file hold u64
 * and every consumer adds to what it reads (a proposer's term + 1, an LSN
 * plus an append's length), so a value near 2^64 would overflow the first
 * such sum and trip an assertion. 2^62 bytes of redo (4 EiB) and 2^62
 * elections are beyond any real timeline; the rest of the u64 range is
 * headroom for that arithmetic. The safekeeper's HTTP routes use the same
 * bound (apps/safekeeper/src/bounds.ts).
 */
export const U64_VALUE_LIMIT = 1n << 62n;
/** Configuration generations are below this: u32 on the wire, and a membership change adds 2. */
export const GENERATION_LIMIT = 2 ** 31;
/** Members per configuration set (the control file and the codec hold no more). */
export const CONFIGURATION_MEMBERS_MAX = 64;
/** Node IDs of configuration members: 1 ..= u32 max (0 is not a node). */
export const NODE_ID_MAX = 0xffff_ffff;
/**
 * How far above its own term an acceptor lets a proposer's term go in one
 * step (VoteRequest, ProposerElected). A real proposer asks for one more than
 * the highest term a quorum reported, so it never comes near; a hostile
 * compute that asks for LIMIT − 1 would otherwise use up the term space and
 * leave the timeline unwritable for good.
 */
export const TERM_STEP_MAX = 1n << 32n;
