/**
 * Membership change driver (neon docs/rfcs/035; neon's storage controller
 * role), pure like the rest: `startChange`, `stepCoordinator` and
 * `tickCoordinator` return the next state, the messages to send and, when a
 * new member lacks the timeline, a request to pull it from a peer (an I/O
 * action the shell performs, then reports with `timelinePulled`).
 *
 * 1. Deliver the joint configuration (old members, new members, generation
 *    +1) to the old members; a majority of them switching means the old
 *    configuration can commit nothing more, and the most advanced position
 *    among them (syncPosition) covers everything it ever committed.
 * 2. Pull the timeline into new members that lack it.
 * 3. Bump the new members' term to the highest term seen (syncTerm), so no
 *    term is elected twice across the two sets.
 * 4. Wait until a majority of the new members reached syncPosition (the
 *    proposer, elected again in the joint configuration, brings them there).
 * 5. Deliver the new configuration (generation +2) to the new members.
 */
import { assert } from '../assert.js';
import type { AcceptorMessage, CoordinatorMessage } from './messages.js';
import { isQuorum } from './quorum.js';
import { compareLogPosition } from './term-history.js';
import type { Configuration, Lsn, NodeId, Term } from './types.js';

export type CoordinatorPhase = 'joint' | 'pull' | 'bump' | 'catchup' | 'final' | 'done' | 'aborted';

export interface CoordinatorState {
  readonly tenantId: string;
  readonly timelineId: string;
  readonly phase: CoordinatorPhase;
  readonly joint: Configuration;
  readonly final: Configuration;
  readonly needPull: readonly NodeId[];
  readonly acked: ReadonlySet<NodeId>;
  readonly syncTerm: Term;
  readonly syncLogTerm: Term;
  readonly syncLsn: Lsn;
  readonly lastSentMs: number;
}

export interface CoordinatorStep {
  readonly state: CoordinatorState;
  readonly sends: readonly { readonly to: NodeId; readonly message: CoordinatorMessage }[];
  /** New members to pull the timeline into (from a member of the old set). */
  readonly pulls: readonly NodeId[];
}

export function startChange(
  tenantId: string,
  timelineId: string,
  current: Configuration,
  desired: readonly NodeId[],
  hasTimeline: (id: NodeId) => boolean,
  nowMs: number,
): CoordinatorStep {
  assert(current.newMembers === undefined, 'a change is already in progress');
  const joint: Configuration = { generation: current.generation + 1, members: current.members, newMembers: desired };
  const final: Configuration = { generation: current.generation + 2, members: desired };
  const s: CoordinatorState = {
    tenantId,
    timelineId,
    phase: 'joint',
    joint,
    final,
    needPull: desired.filter((id) => !hasTimeline(id)),
    acked: new Set(),
    syncTerm: 0n,
    syncLogTerm: 0n,
    syncLsn: 0n,
    lastSentMs: nowMs,
  };
  return { state: s, sends: broadcast(s), pulls: [] };
}

function broadcast(s: CoordinatorState): CoordinatorStep['sends'] {
  const h = { tenantId: s.tenantId, timelineId: s.timelineId };
  const out: { to: NodeId; message: CoordinatorMessage }[] = [];
  const targets = s.phase === 'joint' ? s.joint.members : s.joint.newMembers!;
  for (const to of targets) {
    if (s.acked.has(to)) continue;
    if (s.phase === 'joint' || s.phase === 'catchup') {
      out.push({ to, message: { type: 'MembershipSwitchRequest', ...h, generation: s.joint.generation, conf: s.joint } });
    } else if (s.phase === 'bump') {
      out.push({ to, message: { type: 'TermBumpRequest', ...h, generation: s.joint.generation, term: s.syncTerm } });
    } else if (s.phase === 'final') {
      out.push({ to, message: { type: 'MembershipSwitchRequest', ...h, generation: s.final.generation, conf: s.final } });
    }
  }
  return out;
}

function enter(s: CoordinatorState, phase: CoordinatorPhase, nowMs: number): CoordinatorStep {
  const next = { ...s, phase, acked: new Set<NodeId>(), lastSentMs: nowMs };
  if (phase === 'pull') {
    if (next.needPull.length === 0) return enter(next, 'bump', nowMs);
    return { state: next, sends: [], pulls: next.needPull };
  }
  return { state: next, sends: broadcast(next), pulls: [] };
}

export function stepCoordinator(s: CoordinatorState, from: NodeId, m: AcceptorMessage, nowMs: number): CoordinatorStep {
  const none: CoordinatorStep = { state: s, sends: [], pulls: [] };
  if (s.phase === 'done' || s.phase === 'aborted') return none;
  const joint = s.joint;
  const newSet = joint.newMembers!;
  if (m.type === 'MembershipSwitchResponse') {
    if (m.conf.generation > s.final.generation) return { ...none, state: { ...s, phase: 'aborted' } };
    if (s.phase === 'joint' && joint.members.includes(from) && m.conf.generation >= joint.generation) {
      let next: CoordinatorState = { ...s, acked: new Set([...s.acked, from]) };
      if (m.term > next.syncTerm) next = { ...next, syncTerm: m.term };
      if (compareLogPosition(m.lastLogTerm, m.flushLsn, next.syncLogTerm, next.syncLsn) > 0) {
        next = { ...next, syncLogTerm: m.lastLogTerm, syncLsn: m.flushLsn };
      }
      if (isQuorum({ generation: 0, members: joint.members }, (id) => next.acked.has(id))) return enter(next, 'pull', nowMs);
      return { ...none, state: next };
    }
    if (s.phase === 'catchup' && newSet.includes(from)) {
      const reached = compareLogPosition(m.lastLogTerm, m.flushLsn, s.syncLogTerm, s.syncLsn) >= 0;
      if (!reached || m.conf.generation < joint.generation) return none;
      const next = { ...s, acked: new Set([...s.acked, from]) };
      if (isQuorum({ generation: 0, members: newSet }, (id) => next.acked.has(id))) return enter(next, 'final', nowMs);
      return { ...none, state: next };
    }
    if (s.phase === 'final' && newSet.includes(from) && m.conf.generation >= s.final.generation) {
      const next = { ...s, acked: new Set([...s.acked, from]) };
      if (isQuorum(s.final, (id) => next.acked.has(id))) return { ...none, state: { ...next, phase: 'done' } };
      return { ...none, state: next };
    }
    return none;
  }
  if (m.type === 'TermBumpResponse' && s.phase === 'bump' && newSet.includes(from) && m.term >= s.syncTerm) {
    const next = { ...s, acked: new Set([...s.acked, from]) };
    if (isQuorum({ generation: 0, members: newSet }, (id) => next.acked.has(id))) return enter(next, 'catchup', nowMs);
    return { ...none, state: next };
  }
  return none;
}

/** The shell pulled the timeline into `id`. */
export function timelinePulled(s: CoordinatorState, id: NodeId, nowMs: number): CoordinatorStep {
  if (s.phase !== 'pull') return { state: s, sends: [], pulls: [] };
  const needPull = s.needPull.filter((x) => x !== id);
  const next = { ...s, needPull };
  if (needPull.length === 0) return enter(next, 'bump', nowMs);
  return { state: next, sends: [], pulls: [] };
}

/** Resend to whoever has not answered (and re-request pulls). */
export function tickCoordinator(s: CoordinatorState, nowMs: number, retryMs: number): CoordinatorStep {
  if (nowMs - s.lastSentMs < retryMs || s.phase === 'done' || s.phase === 'aborted') {
    return { state: s, sends: [], pulls: [] };
  }
  const next = { ...s, lastSentMs: nowMs, acked: s.phase === 'catchup' ? new Set<NodeId>() : s.acked };
  if (s.phase === 'pull') return { state: next, sends: [], pulls: s.needPull };
  return { state: next, sends: broadcast(next), pulls: [] };
}
