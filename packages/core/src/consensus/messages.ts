/**
 * Every message of the consensus protocol. Each one names its timeline and
 * carries the sender's configuration generation: an acceptor refuses
 * anything from another generation (a lower one is stale; a higher one it
 * learns through a Greeting or a MembershipSwitch, which carry the full
 * configuration), and a proposer that hears of a higher generation restarts.
 *
 * Proposer → acceptor: Greeting, VoteRequest, ProposerElected, AppendRequest
 * (a heartbeat is an AppendRequest with no data), ReadWalRequest (the
 * proposer fetching WAL it lacks from the donor, see proposer.ts).
 * Coordinator → acceptor: MembershipSwitchRequest, TermBumpRequest (the
 * membership-change driver, neon's storage controller role).
 * Acceptor → sender: the matching responses, plus Reject for requests it
 * cannot take at all (wrong generation, not a member, WAL gap, stale
 * ProposerElected).
 */
import type { Configuration, Generation, Lsn, NodeId, Term, TermHistory } from './types.js';

interface Header {
  readonly tenantId: string;
  readonly timelineId: string;
  readonly generation: Generation;
}

/** First message on a connection. `conf` is the proposer's configuration once it has one (generation 0 = none). */
export interface Greeting extends Header {
  readonly type: 'Greeting';
  readonly proposerId: NodeId;
  readonly conf: Configuration | null;
}

export interface GreetingResponse extends Header {
  readonly type: 'GreetingResponse';
  readonly nodeId: NodeId;
  readonly conf: Configuration;
  readonly term: Term;
}

export interface VoteRequest extends Header {
  readonly type: 'VoteRequest';
  readonly term: Term;
}

/** The acceptor's log position travels with every vote, granted or not, so the proposer can pick a donor. */
export interface VoteResponse extends Header {
  readonly type: 'VoteResponse';
  readonly nodeId: NodeId;
  readonly term: Term;
  readonly voteGiven: boolean;
  readonly flushLsn: Lsn;
  /** The acceptor's term history clipped to its flushLsn. */
  readonly termHistory: TermHistory;
  readonly commitLsn: Lsn;
}

/**
 * The proposer won `term`: the acceptor truncates its WAL to
 * `startStreamingAt` (the highest point its history shares with
 * `termHistory`) and adopts `termHistory`, whose last entry is
 * `(term, epochStartLsn)`.
 */
export interface ProposerElected extends Header {
  readonly type: 'ProposerElected';
  readonly term: Term;
  readonly startStreamingAt: Lsn;
  readonly termHistory: TermHistory;
}

/** WAL `[beginLsn, endLsn)`; `data.length === endLsn - beginLsn`. No data: a heartbeat. */
export interface AppendRequest extends Header {
  readonly type: 'AppendRequest';
  readonly term: Term;
  readonly beginLsn: Lsn;
  readonly endLsn: Lsn;
  readonly commitLsn: Lsn;
  readonly data: Uint8Array;
}

export interface AppendResponse extends Header {
  readonly type: 'AppendResponse';
  readonly nodeId: NodeId;
  readonly term: Term;
  readonly flushLsn: Lsn;
  readonly commitLsn: Lsn;
}

/** The proposer of `term` asks an acceptor that holds its log (the donor) for WAL `[beginLsn, endLsn)`. */
export interface ReadWalRequest extends Header {
  readonly type: 'ReadWalRequest';
  readonly term: Term;
  readonly beginLsn: Lsn;
  readonly endLsn: Lsn;
}

/**
 * The acceptor's answer is decided by its consensus state (is its log that
 * proposer's log up to `endLsn`?); the bytes themselves are filled in by the
 * shell from its disk (see the `readWal` effect). `data` is empty when refused.
 */
export interface ReadWalResponse extends Header {
  readonly type: 'ReadWalResponse';
  readonly nodeId: NodeId;
  readonly term: Term;
  readonly beginLsn: Lsn;
  readonly endLsn: Lsn;
  readonly ok: boolean;
  readonly data: Uint8Array;
}

/** Switch to `conf` if it is a higher generation; answer with where the acceptor stands. */
export interface MembershipSwitchRequest extends Header {
  readonly type: 'MembershipSwitchRequest';
  readonly conf: Configuration;
}

export interface MembershipSwitchResponse extends Header {
  readonly type: 'MembershipSwitchResponse';
  readonly nodeId: NodeId;
  readonly conf: Configuration;
  readonly term: Term;
  readonly lastLogTerm: Term;
  readonly flushLsn: Lsn;
  readonly commitLsn: Lsn;
}

/** Raise the acceptor's term to at least `term` without voting (fences older proposers). */
export interface TermBumpRequest extends Header {
  readonly type: 'TermBumpRequest';
  readonly term: Term;
}

export interface TermBumpResponse extends Header {
  readonly type: 'TermBumpResponse';
  readonly nodeId: NodeId;
  readonly term: Term;
}

export const REJECT_REASONS = [
  'lowerGeneration',
  'higherGeneration',
  'notMember',
  'lsnGap',
  'staleElected',
  'notElected',
  'wrongTimeline',
  // Sent by the safekeeper's shell, never by the acceptor core (codes are stable: append only):
  /** The safekeeper has no acceptor for this timeline (and may join it, see join.ts). */
  'noTimeline',
  /** The safekeeper held this timeline and lost it: it must not join as a fresh acceptor. */
  'timelineLost',
  /** The append's bytes are not whole mtrs with valid CRC-32C covering exactly its range: nothing stored. */
  'badRedo',
  /** The append overlaps stored WAL with different bytes (a resend must be byte-identical): nothing stored. */
  'conflict',
  /** The message's configuration is empty, lists a node twice, or names a node or generation out of range. */
  'badConfiguration',
  /** The sender's scope may not send this (a membership change or term bump from a compute's tenant token). */
  'notAuthorized',
  /** The term jumps more than TERM_STEP_MAX above the acceptor's (it would use up the term space). */
  'badTerm',
  /** A ProposerElected whose history contradicts itself or the acceptor's log, or would truncate committed WAL. */
  'badHistory',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/**
 * Reasons that only hostile or broken input earns: a correct proposer or
 * coordinator never gets them (the simulation fails on any).
 */
export const HOSTILE_INPUT_REASONS: ReadonlySet<RejectReason> = new Set(['badRedo', 'conflict', 'badConfiguration', 'notAuthorized', 'badTerm', 'badHistory']);

/** A request the acceptor refuses without changing anything. `lsn` is its flush LSN (useful after `lsnGap`). */
export interface Reject extends Header {
  readonly type: 'Reject';
  readonly nodeId: NodeId;
  readonly term: Term;
  readonly reason: RejectReason;
  readonly lsn: Lsn;
}

export type ProposerMessage = Greeting | VoteRequest | ProposerElected | AppendRequest | ReadWalRequest;
export type CoordinatorMessage = MembershipSwitchRequest | TermBumpRequest;
/** Everything an acceptor receives. */
export type AcceptorInput = ProposerMessage | CoordinatorMessage;
/** Everything an acceptor sends. */
export type AcceptorMessage =
  | GreetingResponse
  | VoteResponse
  | AppendResponse
  | ReadWalResponse
  | MembershipSwitchResponse
  | TermBumpResponse
  | Reject;
export type Message = AcceptorInput | AcceptorMessage;
export type MessageType = Message['type'];

export function isHeartbeat(m: AppendRequest): boolean {
  return m.data.length === 0;
}
