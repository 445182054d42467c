/**
 * The proposer (the compute's WAL shipper) as a pure state machine, in the
 * acceptor's style: `stepProposer(state, from, message, nowMs)`,
 * `tickProposer(state, nowMs)` and `appendWal(state, beginLsn, data)` return
 * the next state, the messages to send, and events for the compute. The
 * proposer keeps nothing durable: after a restart it learns the terms again
 * from the greetings and picks a higher one.
 *
 * Phases: greeting (learn terms and the configuration from a quorum) →
 * voting (term = max seen + 1; a quorum of votes elects) → elected (sync
 * every acceptor to its log, append, commit, heartbeat) → fenced (someone
 * holds a higher term or a newer configuration: stop; the compute must not
 * write any more and a new proposer is started).
 *
 * Where the WAL of previous terms comes from: the proposer holds its log in
 * a buffer `[walStartLsn, walEndLsn)`; what it lacks (the donor's WAL below
 * the epoch start, or what it already trimmed) it fetches with
 * ReadWalRequest from an acceptor that holds its log: the donor, whose WAL
 * up to the epoch start IS the start of the proposer's log as long as the
 * donor's term has not moved (see acceptor.ts onReadWal), or any acceptor
 * that adopted this term's history. This keeps the core the only place that
 * decides what is safe to copy; the safekeeper service may add peer recovery
 * as an optimisation.
 */
import { assert } from '../assert.js';
import type {
  AcceptorMessage,
  AppendRequest,
  Greeting,
  ProposerElected,
  ProposerMessage,
  ReadWalRequest,
  VoteRequest,
  VoteResponse,
} from './messages.js';
import type { MemberPresence } from './join.js';
import { allMembers, isMember, isQuorum, quorumLsn } from './quorum.js';
import { compareLogPosition, highestCommonPoint, historyUpTo, lastLogTerm } from './term-history.js';
import type { Configuration, Lsn, NodeId, Term, TermHistory } from './types.js';
import { MTR_SIZE_MAX, MTR_TAIL_LENGTH } from '../redo/mtr.js';
import { mtrCut } from '../redo/wal-tail.js';

export interface ProposerOptions {
  readonly proposerId: NodeId;
  readonly tenantId: string;
  readonly timelineId: string;
  /** Safekeepers to greet (the configuration itself is learned from them). */
  readonly acceptors: readonly NodeId[];
  /** The configuration the compute was given, if any (learned higher ones win). */
  readonly conf: Configuration | null;
  readonly heartbeatMs: number;
  /** Silence after which an acceptor is greeted again (it may have restarted). */
  readonly reconnectMs: number;
  /** Largest AppendRequest payload. */
  readonly appendBytesMax: number;
  /** Bytes sent to one acceptor beyond its acknowledged flush LSN. */
  readonly inflightBytesMax: number;
  /**
   * Deliberately broken rules, for proving that the simulator catches bugs.
   * Never set outside tests.
   */
  readonly unsafe?: { readonly commitPreviousTermEntries?: boolean };
}

export type ProposerStatus = 'greeting' | 'voting' | 'elected' | 'fenced';

/** Per-acceptor progress: greet → position (vote request) → elect (sent ProposerElected) → streaming. */
type PeerPhase = 'greet' | 'position' | 'elect' | 'streaming';

export interface PeerState {
  readonly phase: PeerPhase;
  readonly term: Term;
  readonly lastHeardMs: number;
  readonly lastSentMs: number;
  readonly vote: VoteResponse | null;
  /** Start streaming point sent in ProposerElected. */
  readonly startLsn: Lsn;
  /** Next LSN to send; WAL below it is in flight or acknowledged. */
  readonly nextLsn: Lsn;
  /** Flush LSN acknowledged in this term (after adopting our history). */
  readonly flushLsn: Lsn;
  readonly lastProgressMs: number;
  /** Does its safekeeper hold the timeline (see join.ts)? Kept across reconnects. */
  readonly presence: MemberPresence;
  /** When the shell was last asked to bring this missing member into the timeline. */
  readonly joinAskedMs: number;
}

export interface WalChunk {
  readonly beginLsn: Lsn;
  readonly data: Uint8Array;
  /**
   * Fetched from an acceptor (ReadWalResponse): it starts and ends wherever
   * the request did, not at mtr boundaries. A chunk the compute appended
   * holds whole mtrs.
   */
  readonly fetched?: true;
}

export interface ProposerState {
  readonly opts: ProposerOptions;
  readonly status: ProposerStatus;
  readonly fencedReason: string | null;
  readonly conf: Configuration | null;
  readonly term: Term;
  readonly maxTermSeen: Term;
  readonly peers: ReadonlyMap<NodeId, PeerState>;
  readonly termHistory: TermHistory;
  readonly donor: NodeId | null;
  readonly epochStartLsn: Lsn;
  readonly commitLsn: Lsn;
  /** The proposer's log held in memory: `[walStartLsn, walEndLsn)`. */
  readonly wal: readonly WalChunk[];
  readonly walStartLsn: Lsn;
  readonly walEndLsn: Lsn;
  /** Outstanding fetch of missing WAL. */
  readonly reading: { readonly from: NodeId; readonly beginLsn: Lsn; readonly endLsn: Lsn; readonly sentMs: number } | null;
  readonly readRotation: number;
}

export type ProposerEvent =
  | { readonly kind: 'elected'; readonly term: Term; readonly epochStartLsn: Lsn; readonly donor: NodeId }
  | { readonly kind: 'committed'; readonly commitLsn: Lsn }
  | { readonly kind: 'fenced'; readonly reason: string }
  /**
   * A member's safekeeper answers without the timeline: the shell should
   * ask it to join (it decides whether it may, join.ts). Repeated at most
   * once per `reconnectMs` while the member stays missing.
   */
  | { readonly kind: 'memberMissing'; readonly nodeId: NodeId }
  /** A member lost the timeline and refuses to join: degraded until a membership change replaces it. */
  | { readonly kind: 'memberLost'; readonly nodeId: NodeId }
  /** A missing or lost member answers for the timeline again. */
  | { readonly kind: 'memberPresent'; readonly nodeId: NodeId };

export interface Send {
  readonly to: NodeId;
  readonly message: ProposerMessage;
}

export interface ProposerStep {
  readonly state: ProposerState;
  readonly sends: readonly Send[];
  readonly events: readonly ProposerEvent[];
}

export function newProposer(opts: ProposerOptions, nowMs: number): ProposerStep {
  const peers = new Map<NodeId, PeerState>();
  for (const id of opts.acceptors) peers.set(id, freshPeer(nowMs));
  const s: ProposerState = {
    opts,
    status: 'greeting',
    fencedReason: null,
    conf: opts.conf,
    term: 0n,
    maxTermSeen: 0n,
    peers,
    termHistory: [],
    donor: null,
    epochStartLsn: 0n,
    commitLsn: 0n,
    wal: [],
    walStartLsn: 0n,
    walEndLsn: 0n,
    reading: null,
    readRotation: 0,
  };
  const out = new Out(s);
  for (const id of opts.acceptors) out.send(id, greeting(s));
  return out.done();
}

function freshPeer(nowMs: number): PeerState {
  return {
    phase: 'greet',
    term: 0n,
    lastHeardMs: nowMs,
    lastSentMs: nowMs,
    vote: null,
    startLsn: 0n,
    nextLsn: 0n,
    flushLsn: 0n,
    lastProgressMs: nowMs,
    presence: 'present',
    joinAskedMs: 0,
  };
}

/** Accumulates one step's state changes, sends and events. */
class Out {
  sends: Send[] = [];
  events: ProposerEvent[] = [];
  private peers: Map<NodeId, PeerState> | null = null;
  constructor(public s: ProposerState) {}
  set(patch: Partial<ProposerState>): void {
    this.s = { ...this.s, ...patch };
  }
  peer(id: NodeId): PeerState | undefined {
    return this.s.peers.get(id);
  }
  setPeer(id: NodeId, patch: Partial<PeerState>): void {
    const cur = this.s.peers.get(id);
    assert(cur !== undefined, `unknown peer ${id}`);
    if (this.peers === null) {
      this.peers = new Map(this.s.peers);
      this.s = { ...this.s, peers: this.peers };
    }
    this.peers.set(id, { ...cur, ...patch });
  }
  send(to: NodeId, message: ProposerMessage): void {
    this.sends.push({ to, message });
  }
  fence(reason: string): void {
    if (this.s.status === 'fenced') return;
    this.set({ status: 'fenced', fencedReason: reason });
    this.events.push({ kind: 'fenced', reason });
  }
  done(): ProposerStep {
    return { state: this.s, sends: this.sends, events: this.events };
  }
}

function hdr(s: ProposerState) {
  return { tenantId: s.opts.tenantId, timelineId: s.opts.timelineId, generation: s.conf?.generation ?? 0 };
}
function greeting(s: ProposerState): Greeting {
  return { type: 'Greeting', ...hdr(s), proposerId: s.opts.proposerId, conf: s.conf };
}
function voteRequest(s: ProposerState): VoteRequest {
  return { type: 'VoteRequest', ...hdr(s), term: s.term };
}

/** Peers that count for the configuration (only members vote and acknowledge). */
function counts(s: ProposerState, id: NodeId): boolean {
  return s.conf !== null && isMember(s.conf, id);
}

export function stepProposer(s: ProposerState, from: NodeId, m: AcceptorMessage, nowMs: number): ProposerStep {
  const out = new Out(s);
  const peer = s.peers.get(from);
  if (s.status === 'fenced' || peer === undefined) return out.done();
  if (m.tenantId !== s.opts.tenantId || m.timelineId !== s.opts.timelineId) return out.done();
  out.setPeer(from, { lastHeardMs: nowMs });
  if (m.type === 'Reject' && (m.reason === 'noTimeline' || m.reason === 'timelineLost')) {
    onAbsent(out, from, m.reason, nowMs);
    return out.done();
  }
  if (peer.presence !== 'present') {
    out.setPeer(from, { presence: 'present' });
    out.events.push({ kind: 'memberPresent', nodeId: from });
  }
  // A higher term anywhere means another proposer may be elected: stop.
  if (s.status !== 'greeting' && m.term > s.term) {
    out.fence(`acceptor ${from} is at term ${m.term} > ${s.term}`);
    return out.done();
  }
  if (m.type !== 'GreetingResponse' && s.conf !== null && m.generation > s.conf.generation) {
    out.fence(`acceptor ${from} is at generation ${m.generation} > ${s.conf.generation}`);
    return out.done();
  }
  switch (m.type) {
    case 'GreetingResponse':
      onGreetingResponse(out, from, m.conf, m.term, nowMs);
      break;
    case 'VoteResponse':
      onVoteResponse(out, from, m, nowMs);
      break;
    case 'AppendResponse':
      if (s.status === 'elected' && m.term === s.term) onAppendResponse(out, from, m.flushLsn, nowMs);
      break;
    case 'ReadWalResponse':
      onReadWalResponse(out, from, m.ok, m.beginLsn, m.endLsn, m.data, nowMs);
      break;
    case 'Reject':
      onReject(out, from, m.reason, m.lsn, nowMs);
      break;
    case 'MembershipSwitchResponse':
    case 'TermBumpResponse':
      break;
  }
  if (out.s.status === 'elected') pump(out, nowMs);
  return out.done();
}

function onGreetingResponse(out: Out, from: NodeId, conf: Configuration, term: Term, nowMs: number): void {
  const s = out.s;
  if (term > s.maxTermSeen) out.set({ maxTermSeen: term });
  if (s.status !== 'greeting') {
    if (s.conf !== null && conf.generation > s.conf.generation) {
      out.fence(`acceptor ${from} is at generation ${conf.generation} > ${s.conf.generation}`);
      return;
    }
    if (term > s.term) {
      out.fence(`acceptor ${from} is at term ${term} > ${s.term}`);
      return;
    }
    if (s.conf !== null && conf.generation < s.conf.generation) {
      // It did not take our configuration from the greeting (a compute's
      // token cannot change membership: the coordinator brings it up). Until
      // then it refuses all we send: greet it again on the clock, not at once.
      out.setPeer(from, { phase: 'greet', term, lastSentMs: nowMs });
      return;
    }
    // A re-greeted acceptor (it restarted or went silent): ask its position again.
    out.setPeer(from, { phase: 'position', term, lastSentMs: nowMs });
    out.send(from, voteRequest(out.s));
    return;
  }
  out.setPeer(from, { phase: 'position', term });
  if (s.conf === null || conf.generation > s.conf.generation) out.set({ conf });
  const c = out.s.conf;
  assert(c !== null, 'configuration known after a greeting');
  if (!isQuorum(c, (id) => out.peer(id)?.phase === 'position')) return;
  // Greeted by a quorum of the highest configuration seen: campaign.
  out.set({ status: 'voting', term: out.s.maxTermSeen + 1n });
  for (const [id, p] of out.s.peers) {
    if (p.phase === 'position' && counts(out.s, id)) {
      out.setPeer(id, { lastSentMs: nowMs });
      out.send(id, voteRequest(out.s));
    }
  }
}

function onVoteResponse(out: Out, from: NodeId, m: VoteResponse, nowMs: number): void {
  const s = out.s;
  if (s.status === 'greeting' || m.term !== s.term) return;
  if (s.status === 'voting') {
    if (!m.voteGiven) return;
    out.setPeer(from, { vote: m });
    const voted = (id: NodeId) => out.peer(id)?.vote?.voteGiven === true && counts(out.s, id);
    if (isQuorum(s.conf!, voted)) becomeElected(out, nowMs);
    return;
  }
  // Elected: a position report (late voter, or a re-greeted acceptor).
  out.setPeer(from, { vote: m });
  sendElected(out, from, m, nowMs);
}

/** Donor = the most advanced voter by (last log term, flush LSN); the epoch starts at its flush LSN. */
function becomeElected(out: Out, nowMs: number): void {
  const s = out.s;
  let donor: VoteResponse | null = null;
  let commitLsn = 0n;
  for (const [id, p] of s.peers) {
    const v = p.vote;
    if (v === null || !v.voteGiven || !counts(s, id)) continue;
    if (v.commitLsn > commitLsn) commitLsn = v.commitLsn;
    if (
      donor === null ||
      compareLogPosition(
        lastLogTerm(v.termHistory, v.flushLsn),
        v.flushLsn,
        lastLogTerm(donor.termHistory, donor.flushLsn),
        donor.flushLsn,
      ) > 0
    ) {
      donor = v;
    }
  }
  assert(donor !== null, 'elected without votes');
  const epochStartLsn = donor.flushLsn;
  assert(commitLsn <= epochStartLsn, `a voter's commit ${commitLsn} is beyond the donor's log ${epochStartLsn}`);
  const termHistory = [...historyUpTo(donor.termHistory, epochStartLsn), { term: s.term, lsn: epochStartLsn }];
  out.set({
    status: 'elected',
    donor: donor.nodeId,
    epochStartLsn,
    termHistory,
    commitLsn,
    wal: [],
    walStartLsn: epochStartLsn,
    walEndLsn: epochStartLsn,
  });
  out.events.push({ kind: 'elected', term: s.term, epochStartLsn, donor: donor.nodeId });
  if (commitLsn > 0n) out.events.push({ kind: 'committed', commitLsn });
  for (const [id, p] of out.s.peers) if (p.vote !== null) sendElected(out, id, p.vote, nowMs);
}

function sendElected(out: Out, to: NodeId, v: VoteResponse, nowMs: number): void {
  const s = out.s;
  const common = highestCommonPoint(s.termHistory, v.termHistory, v.flushLsn);
  const startLsn = common === null ? s.termHistory[0]!.lsn : common.lsn;
  out.setPeer(to, { phase: 'elect', startLsn, nextLsn: startLsn, flushLsn: 0n, lastSentMs: nowMs, lastProgressMs: nowMs });
  out.send(to, electedMessage(s, startLsn));
}

function electedMessage(s: ProposerState, startLsn: Lsn): ProposerElected {
  return { type: 'ProposerElected', ...hdr(s), term: s.term, startStreamingAt: startLsn, termHistory: s.termHistory };
}

function onAppendResponse(out: Out, from: NodeId, flushLsn: Lsn, nowMs: number): void {
  const p = out.peer(from)!;
  // Any AppendResponse in our term comes after the acceptor adopted our history.
  if (p.phase !== 'streaming') {
    out.setPeer(from, { phase: 'streaming', flushLsn, nextLsn: flushLsn, lastProgressMs: nowMs });
  } else if (flushLsn > p.flushLsn) {
    out.setPeer(from, { flushLsn, lastProgressMs: nowMs, nextLsn: p.nextLsn > flushLsn ? p.nextLsn : flushLsn });
  }
  const before = out.s.commitLsn;
  advanceCommit(out);
  if (out.s.commitLsn > before) announceCommit(out, nowMs);
}

/**
 * Tell acceptors with no WAL left to send that the commit moved (an empty
 * append carries it): they learn it otherwise only with the next WAL or
 * heartbeat, and what they know is what they stream to the page server and
 * report. Peers with WAL pending get the new commit LSN with it.
 */
function announceCommit(out: Out, nowMs: number): void {
  for (const [id, p] of out.s.peers) {
    if (p.phase !== 'streaming' || p.nextLsn < out.s.walEndLsn) continue;
    out.setPeer(id, { lastSentMs: nowMs });
    out.send(id, appendMessage(out.s, p.nextLsn, p.nextLsn, new Uint8Array()));
  }
}

/**
 * commitLsn = the highest LSN a quorum flushed in this term, but only once
 * that reaches the epoch start: entries of previous terms are never
 * committed by counting replicas (Raft's figure 8); once our own term's
 * start is on a quorum, every later election sees our history and all
 * before it is committed.
 */
function advanceCommit(out: Out): void {
  const s = out.s;
  const q = quorumLsn(s.conf!, (id) => {
    const p = s.peers.get(id);
    return p !== undefined && p.phase === 'streaming' ? p.flushLsn : undefined;
  });
  if (q === null || q <= s.commitLsn) return;
  if (q < s.epochStartLsn && s.opts.unsafe?.commitPreviousTermEntries !== true) return;
  out.set({ commitLsn: q });
  out.events.push({ kind: 'committed', commitLsn: q });
  trimWal(out);
}

/** Keep only what is not yet committed; older WAL is re-read from acceptors if a laggard needs it. */
function trimWal(out: Out): void {
  const s = out.s;
  let i = 0;
  while (i < s.wal.length) {
    const c = s.wal[i]!;
    if (c.beginLsn + BigInt(c.data.length) > s.commitLsn) break;
    i++;
  }
  if (i === 0) return;
  const wal = s.wal.slice(i);
  out.set({ wal, walStartLsn: wal.length > 0 ? wal[0]!.beginLsn : s.walEndLsn });
}

function onReadWalResponse(
  out: Out,
  from: NodeId,
  ok: boolean,
  beginLsn: Lsn,
  endLsn: Lsn,
  data: Uint8Array,
  nowMs: number,
): void {
  const s = out.s;
  const r = s.reading;
  if (s.status !== 'elected' || r === null || r.from !== from || r.beginLsn !== beginLsn || r.endLsn !== endLsn) return;
  out.set({ reading: null, readRotation: s.readRotation + 1 });
  if (!ok || endLsn !== s.walStartLsn || beginLsn >= s.walStartLsn) return;
  assert(BigInt(data.length) === endLsn - beginLsn, 'ReadWalResponse length');
  out.set({ wal: [{ beginLsn, data, fetched: true }, ...s.wal], walStartLsn: beginLsn });
  pump(out, nowMs);
}

function onReject(out: Out, from: NodeId, reason: string, lsn: Lsn, nowMs: number): void {
  const s = out.s;
  switch (reason) {
    case 'higherGeneration':
      // We are ahead: greeting carries our configuration and upgrades it.
      out.setPeer(from, { phase: 'greet', lastSentMs: nowMs });
      out.send(from, greeting(s));
      return;
    case 'lowerGeneration':
      out.fence(`acceptor ${from} is in a newer configuration`);
      return;
    case 'lsnGap': {
      const p = out.peer(from)!;
      if (p.phase === 'streaming') out.setPeer(from, { nextLsn: lsn < p.nextLsn ? lsn : p.nextLsn });
      else if (s.status === 'elected') askPosition(out, from, nowMs);
      return;
    }
    case 'staleElected':
    case 'notElected':
      if (s.status === 'elected') askPosition(out, from, nowMs);
      return;
    default:
      return;
  }
}

/**
 * The member's safekeeper has no acceptor for the timeline (the shell
 * answered, not an acceptor: its term and generation mean nothing). Only a
 * member is asked to join; whether it may is the safekeeper's decision.
 */
function onAbsent(out: Out, from: NodeId, reason: 'noTimeline' | 'timelineLost', nowMs: number): void {
  const s = out.s;
  const p = out.peer(from)!;
  // Whatever it acknowledged is gone with its timeline: it starts over from a greeting.
  if (p.phase !== 'greet') out.setPeer(from, { ...freshPeer(nowMs), lastHeardMs: nowMs, presence: p.presence, joinAskedMs: p.joinAskedMs });
  if (reason === 'timelineLost') {
    if (p.presence !== 'lost') {
      out.setPeer(from, { presence: 'lost' });
      out.events.push({ kind: 'memberLost', nodeId: from });
    }
    return;
  }
  if (s.conf !== null && !isMember(s.conf, from)) return;
  if (p.presence === 'missing' && nowMs - p.joinAskedMs < s.opts.reconnectMs) return;
  out.setPeer(from, { presence: 'missing', joinAskedMs: nowMs });
  out.events.push({ kind: 'memberMissing', nodeId: from });
}

function askPosition(out: Out, to: NodeId, nowMs: number): void {
  out.setPeer(to, { phase: 'position', lastSentMs: nowMs });
  out.send(to, voteRequest(out.s));
}

/** The compute hands over whole mtrs: WAL `[beginLsn, beginLsn + data.length)`, contiguous with the log. */
export function appendWal(s: ProposerState, beginLsn: Lsn, data: Uint8Array, nowMs: number): ProposerStep {
  assert(s.status === 'elected', `appendWal while ${s.status}`);
  assert(beginLsn === s.walEndLsn, `appendWal at ${beginLsn}, log ends at ${s.walEndLsn}`);
  assert(data.length > 0, 'empty append');
  const out = new Out(s);
  const wal = s.wal.length === 0 ? [{ beginLsn, data }] : [...s.wal, { beginLsn, data }];
  out.set({ wal, walEndLsn: beginLsn + BigInt(data.length) });
  pump(out, nowMs);
  return out.done();
}

/**
 * The next append's bytes from `begin` (an mtr boundary: every acceptor's
 * flush LSN is one): whole mtrs only, about `bytesMax` of them, because an
 * acceptor refuses anything else (acceptor.ts `appendRedoError`). A chunk the
 * compute appended is whole mtrs, so one that fits is sent as it is, with no
 * scan; otherwise the piece is cut at the last mtr end that fits (or after
 * the first mtr, if that alone is larger), joining the next chunks when the
 * mtr at `begin` runs past a fetched chunk. Bytes that are not redo at all
 * (tests of the consensus alone) are cut by size. Null when the buffer does
 * not hold `begin`.
 */
function appendPiece(s: ProposerState, begin: Lsn, bytesMax: number): Uint8Array | null {
  const i = s.wal.findIndex((c) => begin >= c.beginLsn && begin < c.beginLsn + BigInt(c.data.length));
  const c = s.wal[i];
  if (c === undefined) return null;
  const off = Number(begin - c.beginLsn);
  const bySize = c.data.subarray(off, Math.min(c.data.length, off + bytesMax));
  if (off + bySize.length === c.data.length && c.fetched !== true) return bySize;
  const cut = mtrCut(c.data, off, c.data.length, bytesMax);
  if (cut > off) return c.data.subarray(off, cut);
  if (cut < 0 || i + 1 === s.wal.length) return bySize;
  // The mtr at `begin` continues in the next chunks: copy enough of them to hold one whole mtr (rare: recovery).
  const room = MTR_SIZE_MAX + MTR_TAIL_LENGTH;
  const parts: Uint8Array[] = [c.data.subarray(off)];
  let have = c.data.length - off;
  for (let j = i + 1; j < s.wal.length && have < room; j++) {
    const d = s.wal[j]!.data;
    parts.push(d.subarray(0, Math.min(d.length, room - have)));
    have += parts[parts.length - 1]!.length;
  }
  const joined = new Uint8Array(have);
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  const joinedCut = mtrCut(joined, 0, joined.length, bytesMax);
  return joinedCut > 0 ? joined.subarray(0, joinedCut) : bySize;
}

/** Send WAL to every streaming acceptor within its in-flight window. */
function pump(out: Out, nowMs: number): void {
  for (const [id, p0] of out.s.peers) {
    let p = p0;
    if (p.phase !== 'streaming') continue;
    for (let guard = 0; guard < 64; guard++) {
      const s = out.s;
      if (p.nextLsn >= s.walEndLsn) break;
      if (p.nextLsn - p.flushLsn >= BigInt(s.opts.inflightBytesMax)) break;
      if (p.nextLsn < s.walStartLsn) {
        requestWal(out, p.nextLsn, nowMs);
        break;
      }
      const data = appendPiece(s, p.nextLsn, s.opts.appendBytesMax);
      assert(data !== null && data.length > 0, 'WAL buffer has a hole');
      const end = p.nextLsn + BigInt(data.length);
      out.send(id, appendMessage(s, p.nextLsn, end, data));
      out.setPeer(id, { nextLsn: end, lastSentMs: nowMs });
      p = out.peer(id)!;
    }
  }
}

function appendMessage(s: ProposerState, beginLsn: Lsn, endLsn: Lsn, data: Uint8Array): AppendRequest {
  return { type: 'AppendRequest', ...hdr(s), term: s.term, beginLsn, endLsn, commitLsn: s.commitLsn, data };
}

/**
 * Fetch `[beginLsn, walStartLsn)` from an acceptor that holds our log: one
 * that acknowledged our history with enough WAL, or the donor for what lies
 * below the epoch start. Rotates among them across retries.
 */
function requestWal(out: Out, beginLsn: Lsn, nowMs: number): void {
  const s = out.s;
  if (s.reading !== null) return;
  const endLsn = s.walStartLsn;
  const floor = endLsn - BigInt(s.opts.inflightBytesMax);
  if (beginLsn < floor) beginLsn = floor;
  const sources: NodeId[] = [];
  for (const [id, p] of s.peers) {
    if (p.phase === 'streaming' && p.flushLsn >= endLsn) sources.push(id);
  }
  if (s.donor !== null && endLsn <= s.epochStartLsn && !sources.includes(s.donor)) sources.push(s.donor);
  if (sources.length === 0) return;
  const from = sources[s.readRotation % sources.length]!;
  const req: ReadWalRequest = { type: 'ReadWalRequest', ...hdr(s), term: s.term, beginLsn, endLsn };
  out.set({ reading: { from, beginLsn, endLsn, sentMs: nowMs } });
  out.send(from, req);
}

/** Time passes: retransmit, heartbeat, re-greet silent acceptors. */
export function tickProposer(s: ProposerState, nowMs: number): ProposerStep {
  const out = new Out(s);
  if (s.status === 'fenced') return out.done();
  const retryMs = s.opts.heartbeatMs;
  if (s.reading !== null && nowMs - s.reading.sentMs >= retryMs * 2) {
    out.set({ reading: null, readRotation: s.readRotation + 1 });
  }
  for (const [id, p] of s.peers) {
    const silent = nowMs - p.lastHeardMs >= s.opts.reconnectMs;
    if (silent && p.phase !== 'greet') {
      // Reconnect: forget what we knew of it and greet again.
      out.setPeer(id, { ...freshPeer(nowMs), lastHeardMs: p.lastHeardMs, presence: p.presence, joinAskedMs: p.joinAskedMs });
      out.send(id, greeting(out.s));
      continue;
    }
    if (nowMs - p.lastSentMs < retryMs) continue;
    const st = out.s;
    switch (p.phase) {
      case 'greet':
        out.setPeer(id, { lastSentMs: nowMs });
        out.send(id, greeting(st));
        break;
      case 'position':
        if (st.status === 'greeting') break;
        if (!counts(st, id)) break;
        out.setPeer(id, { lastSentMs: nowMs });
        out.send(id, voteRequest(st));
        break;
      case 'elect':
        out.setPeer(id, { lastSentMs: nowMs });
        out.send(id, electedMessage(st, p.startLsn));
        break;
      case 'streaming': {
        // Nothing acknowledged for a while: resend from the acknowledged point.
        const stalled = p.nextLsn > p.flushLsn && nowMs - p.lastProgressMs >= retryMs * 2;
        const nextLsn = stalled ? p.flushLsn : p.nextLsn;
        out.setPeer(id, { lastSentMs: nowMs, nextLsn, lastProgressMs: stalled ? nowMs : p.lastProgressMs });
        out.send(id, appendMessage(st, nextLsn, nextLsn, new Uint8Array()));
        break;
      }
    }
  }
  if (out.s.status === 'elected') pump(out, nowMs);
  return out.done();
}

/** Members whose safekeeper lacks the timeline or lost it, for status output. */
export function degradedMembers(s: ProposerState): { nodeId: NodeId; presence: MemberPresence }[] {
  const out: { nodeId: NodeId; presence: MemberPresence }[] = [];
  for (const [id, p] of s.peers) if (p.presence !== 'present') out.push({ nodeId: id, presence: p.presence });
  return out;
}

/** Members of the proposer's configuration, for shells that connect lazily. */
export function proposerMembers(s: ProposerState): NodeId[] {
  return s.conf === null ? [...s.opts.acceptors] : allMembers(s.conf);
}
