/**
 * The acceptor (safekeeper) state machine: `stepAcceptor(state, message)`
 * only computes. It returns the next state, the replies, and the effects the
 * shell must make durable, in order, BEFORE sending any reply (etcd raft's
 * Ready: persist, then send). A crash in the middle leaves the durable
 * state of the effects performed so far, which is always a state the
 * acceptor could have been in:
 *   - `truncateWal` comes before the `persistControl` that adopts the new
 *     history, so a history never labels old WAL with a new proposer's term;
 *   - `writeWal` is durable only once `flushWal` ran; before it, a crash
 *     loses the bytes, which is fine because nothing acknowledged them.
 *
 * Rules (neon safekeeper.rs, re-derived):
 *   - vote at most once per term and never for a lower one (the term only rises);
 *   - refuse appends below its term, answering with its term (fencing);
 *   - on ProposerElected truncate to the highest common point of the two
 *     histories and adopt the proposer's history; never truncate committed WAL;
 *   - accept WAL only from the proposer whose history it adopted, contiguously;
 *   - commitLsn never decreases and never exceeds flushLsn;
 *   - refuse messages of another generation; adopt a higher configuration
 *     from a Greeting or a MembershipSwitchRequest.
 *
 * Remote input never reaches an assertion: what a hostile sender can put in
 * a message (a configuration, a history, a term far ahead, an overlap that
 * differs from the stored WAL) is checked first and refused with a typed
 * Reject that changes nothing (HOSTILE_INPUT_REASONS). The sender's scope
 * matters too (`StepContext.sender`): a compute's tenant token runs
 * elections and appends, it never changes membership or bumps terms.
 * Whether an append's bytes are whole CRC-valid mtrs is the shell's check,
 * before stepping (`appendRedoError`): the simulation's WAL is not redo.
 */
import { assert } from '../assert.js';
import type {
  AcceptorInput,
  AcceptorMessage,
  AppendRequest,
  AppendResponse,
  Greeting,
  MembershipSwitchRequest,
  ProposerElected,
  ReadWalRequest,
  Reject,
  RejectReason,
  TermBumpRequest,
  VoteRequest,
} from './messages.js';
import { type RecordCheck, wholeMtrsError } from '../redo/wal-tail.js';
import { assertValidConfiguration, configurationError, isMember } from './quorum.js';
import { assertValidHistory, highestCommonPoint, historyUpTo, lastLogTerm } from './term-history.js';
import { TERM_STEP_MAX, type Configuration, type Lsn, type NodeId, type Term, type TermHistory } from './types.js';

/** What the control file holds (written atomically). */
export interface AcceptorControl {
  readonly nodeId: NodeId;
  readonly tenantId: string;
  readonly timelineId: string;
  readonly conf: Configuration;
  /** Highest term seen: voted for, bumped to, or adopted. */
  readonly term: Term;
  /** May run ahead of the WAL: adopted whole from the proposer. */
  readonly termHistory: TermHistory;
  readonly timelineStartLsn: Lsn;
  readonly commitLsn: Lsn;
}

/** The control state plus the end of durable WAL (recovered from the WAL files at start). */
export interface AcceptorState extends AcceptorControl {
  readonly flushLsn: Lsn;
}

export type AcceptorEffect =
  /** Write the control file atomically (temp + fsync + rename). */
  | { readonly kind: 'persistControl'; readonly control: AcceptorControl }
  /** Write WAL at `beginLsn` (which is the current WAL end); durable after the next flushWal. */
  | { readonly kind: 'writeWal'; readonly beginLsn: Lsn; readonly data: Uint8Array }
  /** Discard WAL at and after `lsn`, durably. */
  | { readonly kind: 'truncateWal'; readonly lsn: Lsn }
  /** fsync the WAL. */
  | { readonly kind: 'flushWal' }
  /** Read WAL `[beginLsn, endLsn)` into the `data` of the ReadWalResponse reply. */
  | { readonly kind: 'readWal'; readonly beginLsn: Lsn; readonly endLsn: Lsn };

export interface AcceptorStep {
  readonly state: AcceptorState;
  readonly replies: readonly AcceptorMessage[];
  readonly effects: readonly AcceptorEffect[];
}

export interface NewTimeline {
  readonly nodeId: NodeId;
  readonly tenantId: string;
  readonly timelineId: string;
  readonly conf: Configuration;
  readonly timelineStartLsn: Lsn;
}

/** A fresh timeline: empty WAL starting at `timelineStartLsn`. The shell persists `controlOf` of it first. */
export function newAcceptor(t: NewTimeline): AcceptorState {
  assertValidConfiguration(t.conf);
  return {
    ...t,
    term: 0n,
    termHistory: [],
    commitLsn: t.timelineStartLsn,
    flushLsn: t.timelineStartLsn,
  };
}

/** Rebuild the state after a restart from the control file and the durable WAL end. */
export function restoreAcceptor(control: AcceptorControl, walFlushLsn: Lsn): AcceptorState {
  assert(walFlushLsn >= control.timelineStartLsn, 'WAL ends before the timeline starts');
  assertValidHistory(control.termHistory);
  // commitLsn is persisted after the WAL it covers was flushed.
  assert(control.commitLsn <= walFlushLsn, `persisted commit ${control.commitLsn} beyond WAL end ${walFlushLsn}`);
  return { ...control, flushLsn: walFlushLsn };
}

export function controlOf(s: AcceptorState): AcceptorControl {
  return {
    nodeId: s.nodeId,
    tenantId: s.tenantId,
    timelineId: s.timelineId,
    conf: s.conf,
    term: s.term,
    termHistory: s.termHistory,
    timelineStartLsn: s.timelineStartLsn,
    commitLsn: s.commitLsn,
  };
}

export function acceptorLastLogTerm(s: AcceptorState): Term {
  return lastLogTerm(s.termHistory, s.flushLsn);
}

/** The term whose history this acceptor adopted last (0 if none). */
function adoptedTerm(s: AcceptorState): Term {
  const last = s.termHistory[s.termHistory.length - 1];
  return last === undefined ? 0n : last.term;
}

/**
 * Who sent a message, as the shell knows from the connection's token:
 * 'operator' (admin or safekeeperdata scope, or a safekeeper without auth)
 * may do everything; 'proposer' (a compute's tenant scope) may greet, vote,
 * be elected and append, but its Greeting never changes the configuration
 * (a compromised compute could forge one) and it may not send a
 * MembershipSwitchRequest or a TermBumpRequest.
 */
export type Sender = 'operator' | 'proposer';

export interface StepContext {
  /** Default 'operator'. */
  readonly sender?: Sender;
  /**
   * For an AppendRequest with `appendOverlap(s, m)`: the WAL stored in that
   * range, read by the shell. A resend must be byte-identical to it.
   */
  readonly stored?: Uint8Array;
}

/**
 * The stored WAL that an AppendRequest overlaps and must be compared with
 * (a retransmission), or null when it overlaps nothing or would be refused
 * before any comparison. The shell reads this range and passes it as
 * `StepContext.stored`.
 */
export function appendOverlap(s: AcceptorState, m: AcceptorInput): { readonly beginLsn: Lsn; readonly endLsn: Lsn } | null {
  if (m.type !== 'AppendRequest' || m.data.length === 0 || !appendAccepted(s, m) || m.beginLsn >= s.flushLsn) return null;
  if (m.beginLsn < s.timelineStartLsn) return null;
  return { beginLsn: m.beginLsn, endLsn: m.endLsn < s.flushLsn ? m.endLsn : s.flushLsn };
}

/**
 * Why an AppendRequest's bytes cannot be WAL (undefined when they can, and
 * for a heartbeat): they must be whole mtrs, each with a valid CRC-32C,
 * exactly covering `[beginLsn, endLsn)` (the codec checked the length), and
 * with `records`, each record parseable at that page size. The shell checks
 * this before stepping and refuses with `refuse(s, m, 'badRedo')`.
 */
export function appendRedoError(m: AppendRequest, records?: RecordCheck): string | undefined {
  return m.data.length === 0 ? undefined : wholeMtrsError(m.data, 0, m.data.length, records);
}

/** The step that refuses `m` with `reason`, changing nothing (for refusals the shell decides, like 'badRedo'). */
export function refuse(s: AcceptorState, m: AcceptorInput, reason: RejectReason): AcceptorStep {
  return reject(s, m, reason);
}

export function stepAcceptor(s: AcceptorState, m: AcceptorInput, ctx: StepContext = {}): AcceptorStep {
  if (m.tenantId !== s.tenantId || m.timelineId !== s.timelineId) return reject(s, m, 'wrongTimeline');
  const sender = ctx.sender ?? 'operator';
  switch (m.type) {
    case 'Greeting':
      return onGreeting(s, m, sender);
    case 'MembershipSwitchRequest':
      if (sender !== 'operator') return reject(s, m, 'notAuthorized');
      return onMembershipSwitch(s, m);
    case 'TermBumpRequest':
      if (sender !== 'operator') return reject(s, m, 'notAuthorized');
      return onTermBump(s, m);
    default: {
      // Everything a proposer does in a configuration needs the same generation.
      if (m.generation < s.conf.generation) return reject(s, m, 'lowerGeneration');
      if (m.generation > s.conf.generation) return reject(s, m, 'higherGeneration');
      if (!isMember(s.conf, s.nodeId)) return reject(s, m, 'notMember');
      switch (m.type) {
        case 'VoteRequest':
          return onVoteRequest(s, m);
        case 'ProposerElected':
          return onElected(s, m);
        case 'AppendRequest':
          return onAppend(s, m, ctx.stored);
        case 'ReadWalRequest':
          return onReadWal(s, m);
      }
    }
  }
}

function header(s: AcceptorState) {
  return { tenantId: s.tenantId, timelineId: s.timelineId, generation: s.conf.generation };
}

function reject(s: AcceptorState, _m: AcceptorInput, reason: RejectReason): AcceptorStep {
  const r: Reject = { type: 'Reject', ...header(s), nodeId: s.nodeId, term: s.term, reason, lsn: s.flushLsn };
  return { state: s, replies: [r], effects: [] };
}

function appendResponse(s: AcceptorState): AppendResponse {
  return {
    type: 'AppendResponse',
    ...header(s),
    nodeId: s.nodeId,
    term: s.term,
    flushLsn: s.flushLsn,
    commitLsn: s.commitLsn,
  };
}

/** Switch to a higher configuration; never back. */
function adoptConf(s: AcceptorState, conf: Configuration, effects: AcceptorEffect[]): AcceptorState {
  if (conf.generation <= s.conf.generation) return s;
  assertValidConfiguration(conf);
  const next = { ...s, conf };
  effects.push({ kind: 'persistControl', control: controlOf(next) });
  return next;
}

function onGreeting(s: AcceptorState, m: Greeting, sender: Sender): AcceptorStep {
  if (m.conf !== null && configurationError(m.conf) !== undefined) return reject(s, m, 'badConfiguration');
  const effects: AcceptorEffect[] = [];
  let next = s;
  // A proposer's configuration is only news from an operator: from a
  // compute's token the answer is our own configuration, and the proposer
  // waits for the coordinator to bring us up (it re-greets on its clock).
  if (sender === 'operator' && m.conf !== null && m.conf.generation > s.conf.generation) {
    if (!isMember(m.conf, s.nodeId)) return reject(s, m, 'notMember');
    next = adoptConf(s, m.conf, effects);
  }
  return {
    state: next,
    replies: [{ type: 'GreetingResponse', ...header(next), nodeId: next.nodeId, conf: next.conf, term: next.term }],
    effects,
  };
}

function onMembershipSwitch(s: AcceptorState, m: MembershipSwitchRequest): AcceptorStep {
  if (configurationError(m.conf) !== undefined) return reject(s, m, 'badConfiguration');
  const effects: AcceptorEffect[] = [];
  const next = adoptConf(s, m.conf, effects);
  return {
    state: next,
    replies: [
      {
        type: 'MembershipSwitchResponse',
        ...header(next),
        nodeId: next.nodeId,
        conf: next.conf,
        term: next.term,
        lastLogTerm: acceptorLastLogTerm(next),
        flushLsn: next.flushLsn,
        commitLsn: next.commitLsn,
      },
    ],
    effects,
  };
}

function onTermBump(s: AcceptorState, m: TermBumpRequest): AcceptorStep {
  if (m.generation < s.conf.generation) return reject(s, m, 'lowerGeneration');
  const effects: AcceptorEffect[] = [];
  let next = s;
  if (m.term > s.term) {
    next = { ...s, term: m.term };
    effects.push({ kind: 'persistControl', control: controlOf(next) });
  }
  return {
    state: next,
    replies: [{ type: 'TermBumpResponse', ...header(next), nodeId: next.nodeId, term: next.term }],
    effects,
  };
}

/**
 * Vote iff the term is higher than any seen: raising the term is the vote,
 * so a second request for the same term finds it already taken. The answer
 * carries the log position either way (the proposer also uses a refused
 * vote to learn where a late acceptor stands).
 */
function onVoteRequest(s: AcceptorState, m: VoteRequest): AcceptorStep {
  if (m.term - s.term > TERM_STEP_MAX) return reject(s, m, 'badTerm');
  const effects: AcceptorEffect[] = [];
  let next = s;
  const voteGiven = m.term > s.term;
  if (voteGiven) {
    next = { ...s, term: m.term };
    effects.push({ kind: 'persistControl', control: controlOf(next) });
  }
  return {
    state: next,
    replies: [
      {
        type: 'VoteResponse',
        ...header(next),
        nodeId: next.nodeId,
        term: next.term,
        voteGiven,
        flushLsn: next.flushLsn,
        termHistory: historyUpTo(next.termHistory, next.flushLsn),
        commitLsn: next.commitLsn,
      },
    ],
    effects,
  };
}

function onElected(s: AcceptorState, m: ProposerElected): AcceptorStep {
  // An out-termed proposer learns it from the term in the answer.
  if (m.term < s.term) return { state: s, replies: [appendResponse(s)], effects: [] };
  if (m.term - s.term > TERM_STEP_MAX) return reject(s, m, 'badTerm');
  if (electedHistoryError(s, m) !== undefined) return reject(s, m, 'badHistory');
  const effects: AcceptorEffect[] = [];
  let next = s;
  if (m.term > s.term) next = { ...s, term: m.term };
  // Already following this proposer (a duplicate, or a re-greet after our
  // restart): our log is a prefix of its log, nothing to truncate, and
  // truncating now could cut WAL it already counted.
  if (adoptedTerm(next) === m.term) {
    if (next !== s) effects.push({ kind: 'persistControl', control: controlOf(next) });
    return { state: next, replies: [appendResponse(next)], effects };
  }
  const common = highestCommonPoint(m.termHistory, next.termHistory, next.flushLsn);
  // Without a common term, the log restarts where the proposer's history begins.
  const start = common === null ? m.termHistory[0]!.lsn : common.lsn;
  // The proposer computed the point from a position we no longer hold (a
  // late message): refuse, it asks for our position again.
  if (start !== m.startStreamingAt) return reject(next, m, 'staleElected');
  if (start > next.flushLsn) return reject(next, m, 'lsnGap');
  // An elected proposer's log holds everything committed: a history that
  // says otherwise is forged (or its proposer broken), never obeyed.
  if (start < next.commitLsn) return reject(s, m, 'badHistory');
  if (start < next.flushLsn) effects.push({ kind: 'truncateWal', lsn: start });
  next = { ...next, flushLsn: start, termHistory: m.termHistory };
  effects.push({ kind: 'persistControl', control: controlOf(next) });
  return { state: next, replies: [appendResponse(next)], effects };
}

/**
 * Why a ProposerElected cannot be followed (undefined if it can): its
 * history must end with its own term, and wherever it names a term our
 * history holds too, at the same LSN (one proposer per term). The codec
 * already checked that the history ascends; the simulation steps messages
 * that did not come through it.
 */
function electedHistoryError(s: AcceptorState, m: ProposerElected): string | undefined {
  const h = m.termHistory;
  const last = h[h.length - 1];
  if (last === undefined || last.term !== m.term) return 'the history does not end with the proposer term';
  for (let i = 1; i < h.length; i++) {
    if (h[i]!.term <= h[i - 1]!.term || h[i]!.lsn < h[i - 1]!.lsn) return `the history does not ascend at ${i}`;
  }
  const ours = historyUpTo(s.termHistory, s.flushLsn);
  for (let i = 0; i < Math.min(ours.length, h.length); i++) {
    if (h[i]!.term !== ours[i]!.term) break;
    if (h[i]!.lsn !== ours[i]!.lsn) return `term ${h[i]!.term} starts at ${h[i]!.lsn}, ours at ${ours[i]!.lsn}`;
  }
  return undefined;
}

/** Would `onAppend` take this append's position (not fenced, elected, no gap)? Generation and membership are checked before. */
function appendAccepted(s: AcceptorState, m: AppendRequest): boolean {
  return m.tenantId === s.tenantId && m.timelineId === s.timelineId && m.generation === s.conf.generation && isMember(s.conf, s.nodeId) &&
    m.term === s.term && adoptedTerm(s) === m.term && m.beginLsn <= s.flushLsn;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function onAppend(s: AcceptorState, m: AppendRequest, stored: Uint8Array | undefined): AcceptorStep {
  assert(m.endLsn - m.beginLsn === BigInt(m.data.length), 'AppendRequest data length != range');
  if (m.term < s.term) return { state: s, replies: [appendResponse(s)], effects: [] };
  // Only the proposer whose history we adopted may write: before its
  // ProposerElected our tail may still diverge from its log.
  if (m.term > s.term || adoptedTerm(s) !== m.term) return reject(s, m, 'notElected');
  if (m.beginLsn > s.flushLsn) return reject(s, m, 'lsnGap');
  // Below the timeline's start nothing is stored to compare with.
  if (m.data.length > 0 && m.beginLsn < s.timelineStartLsn) return reject(s, m, 'conflict');
  // Overlap with what we hold is a retransmission: since adopting this
  // term's history, everything below flushLsn is this proposer's log, and a
  // proposer never writes two different bytes at one LSN in its term. So a
  // resend must be byte-identical to what we hold; anything else is not
  // this proposer's log (a forgery, or a bug) and is refused whole.
  const overlap = appendOverlap(s, m);
  if (overlap !== null) {
    assert(stored !== undefined && BigInt(stored.length) === overlap.endLsn - overlap.beginLsn, 'an overlapping append is stepped with the stored bytes of its overlap');
    if (!sameBytes(m.data.subarray(0, stored.length), stored)) return reject(s, m, 'conflict');
  }
  const effects: AcceptorEffect[] = [];
  let next = s;
  // Only the new tail is written.
  if (m.endLsn > s.flushLsn) {
    const tail = m.data.subarray(Number(s.flushLsn - m.beginLsn));
    effects.push({ kind: 'writeWal', beginLsn: s.flushLsn, data: tail });
    effects.push({ kind: 'flushWal' });
    next = { ...next, flushLsn: m.endLsn };
  }
  // Our log is a prefix of the proposer's, its commit a prefix of its log:
  // whatever of the commit we hold is committed.
  const candidate = m.commitLsn < next.flushLsn ? m.commitLsn : next.flushLsn;
  if (candidate > next.commitLsn) next = { ...next, commitLsn: candidate };
  assert(next.commitLsn <= next.flushLsn, 'commitLsn beyond flushLsn');
  return { state: next, replies: [appendResponse(next)], effects };
}

/**
 * Serve WAL to the proposer of `term` only while our term is still `term`:
 * then our WAL has been touched by no one since we voted for or followed
 * it, so it is that proposer's log (if we are its donor, or adopted its
 * history). The proposer only asks such acceptors.
 */
function onReadWal(s: AcceptorState, m: ReadWalRequest): AcceptorStep {
  const ok = m.term === s.term && m.endLsn <= s.flushLsn && m.beginLsn >= s.timelineStartLsn && m.beginLsn <= m.endLsn;
  const effects: AcceptorEffect[] = ok ? [{ kind: 'readWal', beginLsn: m.beginLsn, endLsn: m.endLsn }] : [];
  return {
    state: s,
    replies: [
      {
        type: 'ReadWalResponse',
        ...header(s),
        nodeId: s.nodeId,
        term: s.term,
        beginLsn: m.beginLsn,
        endLsn: m.endLsn,
        ok,
        data: new Uint8Array(),
      },
    ],
    effects,
  };
}
