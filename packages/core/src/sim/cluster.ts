/**
 * Deterministic simulation of one timeline's consensus: acceptors with
 * crashing disks, proposers that crash, restart and compete, a network with
 * partitions (per seed either streaming connections that break and
 * reconnect, or lossy reordering datagrams, see network.ts), and a
 * membership change {1,2,3} → {1,2,4} in the middle (or replacing a member
 * that lost its disk). Some seeds start with a member that missed the
 * timeline's creation (down, then up without it: the proposer has it join,
 * join.ts); some lose one member's timeline or whole disk in the middle
 * (it must refuse to come back as a fresh acceptor and stay degraded).
 * Every run is a function of its seed.
 *
 * WAL bytes are a function of (term that wrote them, LSN), so every byte
 * says which term's proposer produced it, and the invariants can check
 * logs against term histories without keeping copies.
 *
 * Invariants, checked after every step (a violation throws SimViolation):
 *   - election safety: at most one proposer is elected per term;
 *   - leader completeness: an elected proposer's log holds all WAL that
 *     proposers of lower terms committed (a late election of a lower term,
 *     its votes delayed in flight, may lack what a higher term committed
 *     since; it can write nothing, acceptors of the higher term refuse it);
 *   - log safety: the WAL below any node's commitLsn is the committed WAL,
 *     for all nodes and forever (one global record of committed terms);
 *   - committed WAL is never truncated (acceptor asserts + effect check);
 *   - commitLsn is monotonic per acceptor (also across restarts, against
 *     its durable value) and per proposer, and never beyond flushLsn;
 *   - every acceptor's WAL matches its term history, byte for byte;
 *   - promises are permanent: an acceptor's term never goes down, across
 *     restarts and lost disks (a node that lost its state and came back
 *     empty would have forgotten its votes, join.ts).
 * Any assertion failure inside the core is a violation too.
 */
import { assert } from '../assert.js';
import { decodeMessage, encodeMessage } from '../consensus/codec.js';
import {
  appendOverlap,
  controlOf,
  newAcceptor,
  restoreAcceptor,
  stepAcceptor,
  type AcceptorEffect,
  type AcceptorState,
} from '../consensus/acceptor.js';
import {
  startChange,
  stepCoordinator,
  tickCoordinator,
  timelinePulled,
  type CoordinatorState,
  type CoordinatorStep,
} from '../consensus/coordinator.js';
import { HOSTILE_INPUT_REASONS, type AcceptorInput, type AcceptorMessage, type Message } from '../consensus/messages.js';
import {
  appendWal,
  newProposer,
  stepProposer,
  tickProposer,
  type ProposerOptions,
  type ProposerState,
  type ProposerStep,
} from '../consensus/proposer.js';
import { termAt } from '../consensus/term-history.js';
import type { Configuration, Lsn, NodeId, Term, TermHistory } from '../consensus/types.js';
import { decideJoin, type MemberPresence } from '../consensus/join.js';
import { Prng } from '../prng.js';
import { SimClock } from './clock.js';
import { SimDisk } from './disk.js';
import { SimNetwork, type NetworkModel } from './network.js';

export class SimViolation extends Error {
  constructor(
    readonly seed: number,
    readonly step: number,
    message: string,
  ) {
    super(`seed ${seed} step ${step}: ${message}`);
    this.name = 'SimViolation';
  }
}

export interface SimOptions {
  readonly seed: number;
  readonly steps: number;
  /** Step at which the {1,2,3} → {1,2,4} change starts (null: never). */
  readonly membershipChangeAtStep?: number | null;
  /** Round-trip every message through the binary codec (default: every fourth seed, it costs ~30%). */
  readonly wireCodec?: boolean;
  /** Network model (default: datagrams every third seed, streams otherwise). */
  readonly network?: NetworkModel;
  /** A member misses the timeline's creation (default: a third of the seeds). */
  readonly missedMember?: boolean;
  /** Chance per step that a member loses its timeline (default: 0 on half the seeds, 0.002 on the rest). At most one per run. */
  readonly diskLossP?: number;
  /** Check that promises are permanent (default true; off to see what else a forgotten promise breaks). */
  readonly checkPromises?: boolean;
  /** Deliberate bugs, to prove the invariants catch them. */
  readonly bugs?: {
    readonly commitPreviousTermEntries?: boolean;
    readonly voteTwice?: boolean;
    /** A member that lost its timeline joins again as a fresh acceptor (what join.ts forbids). */
    readonly rejoinLostAsFresh?: boolean;
  };
  readonly trace?: (line: string) => void;
}

export interface SimResult {
  readonly seed: number;
  readonly steps: number;
  readonly elections: number;
  readonly committedLsn: Lsn;
  readonly membershipChange: string;
  readonly messagesDelivered: number;
  readonly network: NetworkModel;
  readonly connectionResets: number;
  /** Members that joined as fresh acceptors after missing the creation. */
  readonly freshJoins: number;
  /** Members that lost their timeline (and, without the bug, stayed out). */
  readonly losses: number;
  /** Each node's timeline at the end: present, missing or lost. */
  readonly presence: Readonly<Record<NodeId, MemberPresence>>;
}

const TENANT = 'aa11';
const TIMELINE = 'bb22';
const START_LSN = 1000n;
const COORDINATOR = 99;
const INITIAL_CONF: Configuration = { generation: 1, members: [1, 2, 3] };
const ALL_ACCEPTORS: readonly NodeId[] = [1, 2, 3, 4];
const PROPOSER_SLOTS = 2;
/** The timeline is created at time 0; the original disks are older. */
const TIMELINE_CREATED_MS = 0;

/** The byte that term `term`'s proposer writes at `lsn`: distinct terms (mod 256) give distinct bytes. */
export function walByte(term: Term, lsn: Lsn): number {
  return (Number(term & 0xffn) * 31 + Number(lsn & 0xffffn) * 7 + 11) & 0xff;
}

interface AcceptorNode {
  readonly id: NodeId;
  disk: SimDisk;
  /** null: down, or up without the timeline (presence). */
  state: AcceptorState | null;
  down: boolean;
  presence: MemberPresence;
  /** The node-level ledger (survives the timeline directory, not the disk): it held the timeline. */
  ledger: boolean;
  diskInitializedAtMs: number;
  restartAtMs: number;
  /** Durable commit seen at the last crash (commit must not go below it after restart). */
  durableCommit: Lsn;
  /** The highest term this node ever held (ghost state: survives everything, for the promise invariant). */
  promisedTerm: Term;
}

interface ProposerSlot {
  incarnation: number; // network address; 0 when down
  state: ProposerState | null;
  restartAtMs: number;
  lastCommit: Lsn;
}

export function runSimulation(o: SimOptions): SimResult {
  return new Cluster(o).run();
}

class Cluster {
  private readonly rng: Prng;
  private readonly clock = new SimClock();
  private readonly net: SimNetwork<Message>;
  private readonly acceptors = new Map<NodeId, AcceptorNode>();
  private readonly slots: ProposerSlot[] = [];
  private coordinator: CoordinatorState | null = null;
  private nextIncarnation = 100;
  private step = 0;
  private elections = 0;
  private delivered = 0;
  /** Term that wrote each committed LSN, indexed from START_LSN. */
  private committedTerms: Term[] = [];
  private readonly electedBy = new Map<Term, number>();
  /** The highest commit LSN each term's proposer reached. */
  private readonly commitByTerm = new Map<Term, Lsn>();
  private readonly diskLossP: number;
  private freshJoins = 0;
  private losses = 0;

  constructor(private readonly o: SimOptions) {
    this.rng = new Prng(o.seed);
    const model = o.network ?? (o.seed % 3 === 0 ? 'datagram' : 'stream');
    this.net = new SimNetwork<Message>(
      this.rng,
      { dropP: 0.03, duplicateP: 0.03, delayMsMin: 1, delayMsMax: this.rng.int(3, 30), resetP: 0.01, reconnectMsMin: 5, reconnectMsMax: 60 },
      2000,
      model,
    );
    const missed = (o.missedMember ?? this.rng.chance(1 / 3)) ? this.rng.pick([1, 2, 3]) : null;
    this.diskLossP = o.diskLossP ?? (this.rng.chance(0.5) ? 0.002 : 0);
    for (const id of [1, 2, 3]) {
      const st = newAcceptor({ nodeId: id, tenantId: TENANT, timelineId: TIMELINE, conf: INITIAL_CONF, timelineStartLsn: START_LSN });
      const node: AcceptorNode = {
        id,
        disk: new SimDisk(controlOf(st), START_LSN),
        state: st,
        down: false,
        presence: 'present',
        ledger: true,
        diskInitializedAtMs: TIMELINE_CREATED_MS - 1,
        restartAtMs: 0,
        durableCommit: START_LSN,
        promisedTerm: 0n,
      };
      if (id === missed) {
        // Killed before it heard of the timeline; up again later, without it.
        Object.assign(node, { state: null, down: true, presence: 'missing', ledger: false, restartAtMs: this.rng.int(0, 100) });
      }
      this.acceptors.set(id, node);
    }
    for (let i = 0; i < PROPOSER_SLOTS; i++) {
      this.slots.push({ incarnation: 0, state: null, restartAtMs: this.rng.int(0, 50), lastCommit: 0n });
    }
  }

  private fail(msg: string): never {
    throw new SimViolation(this.o.seed, this.step, msg);
  }

  private trace(line: string): void {
    this.o.trace?.(`[${this.step} t=${this.clock.nowMs}] ${line}`);
  }

  run(): SimResult {
    const changeAt = this.o.membershipChangeAtStep === undefined ? Math.floor(this.o.steps / 3) : this.o.membershipChangeAtStep;
    for (this.step = 0; this.step < this.o.steps; this.step++) {
      if (this.step === changeAt) this.startMembershipChange();
      try {
        this.oneStep();
      } catch (e) {
        if (e instanceof SimViolation) throw e;
        const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        this.fail(`core raised ${msg}`);
      }
      this.checkInvariants();
    }
    return {
      seed: this.o.seed,
      steps: this.o.steps,
      elections: this.elections,
      committedLsn: START_LSN + BigInt(this.committedTerms.length),
      membershipChange: this.coordinator?.phase ?? 'none',
      messagesDelivered: this.delivered,
      network: this.net.model,
      connectionResets: this.net.resets,
      freshJoins: this.freshJoins,
      losses: this.losses,
      presence: Object.fromEntries([...this.acceptors.values()].map((a) => [a.id, a.presence])),
    };
  }

  private nextTickMs = 0;
  private nextAppendMs = 0;

  /**
   * One event: now and then a fault; otherwise whatever is due first among
   * message deliveries (a random one of those due, so they reorder), the
   * timers of proposers and coordinator, and the compute's next mtr.
   */
  private oneStep(): void {
    const rng = this.rng;
    this.restartDue(this.clock.nowMs);
    const r = rng.next();
    if (r < 0.006) return this.crashAcceptor();
    if (r < 0.009) return this.crashProposer();
    if (r < 0.015) return this.togglePartition();
    if (r < 0.015 + this.diskLossP) return this.loseTimeline();
    const due = this.net.nextDueMs();
    const next = Math.min(due ?? Infinity, this.nextTickMs, this.nextAppendMs);
    this.clock.advanceTo(next);
    const now = this.clock.nowMs;
    this.restartDue(now);
    if (due !== null && due <= now) {
      const m = this.net.takeDue(now);
      if (m !== null) this.deliver(m.from, m.to, m.message);
    } else if (this.nextTickMs <= now) {
      this.nextTickMs = now + 5;
      this.tickAll();
    } else {
      this.nextAppendMs = now + rng.int(1, 6);
      this.computeAppends();
    }
  }

  // --- faults ---------------------------------------------------------------

  private restartDue(now: number): void {
    for (const a of this.acceptors.values()) {
      if (a.down && now >= a.restartAtMs) {
        a.down = false;
        // The shell finds the ledger's timeline without its directory: lost, at once.
        if (a.presence !== 'present') {
          this.trace(`acceptor ${a.id} restarts without the timeline (${a.presence})`);
          continue;
        }
        a.state = restoreAcceptor(a.disk.control, a.disk.flushLsn);
        if (a.state.commitLsn < a.durableCommit) this.fail(`acceptor ${a.id} commit went back across restart`);
        this.trace(`acceptor ${a.id} restarts at flush ${a.state.flushLsn} term ${a.state.term}`);
      }
    }
    for (const slot of this.slots) {
      if (slot.state === null && now >= slot.restartAtMs) this.startProposer(slot, now);
    }
  }

  private startProposer(slot: ProposerSlot, now: number): void {
    slot.incarnation = this.nextIncarnation++;
    slot.lastCommit = 0n;
    const opts: ProposerOptions = {
      proposerId: slot.incarnation,
      tenantId: TENANT,
      timelineId: TIMELINE,
      acceptors: ALL_ACCEPTORS,
      conf: INITIAL_CONF,
      heartbeatMs: 20,
      reconnectMs: 200,
      appendBytesMax: this.rng.int(4, 64),
      inflightBytesMax: this.rng.int(16, 256),
      unsafe: { commitPreviousTermEntries: this.o.bugs?.commitPreviousTermEntries === true },
    };
    this.trace(`proposer ${slot.incarnation} starts`);
    this.applyProposerStep(slot, newProposer(opts, now));
  }

  private crashAcceptor(): void {
    const a = this.rng.pick([...this.acceptors.values()]);
    if (a.down) return;
    this.trace(`acceptor ${a.id} crashes`);
    this.downAcceptor(a);
  }

  private downAcceptor(a: AcceptorNode): void {
    a.disk.crash();
    a.state = null;
    a.down = true;
    a.durableCommit = a.disk.control.commitLsn;
    a.restartAtMs = this.clock.nowMs + this.rng.int(5, 60);
    this.net.breakAll(a.id, this.clock.nowMs);
  }

  /**
   * A member loses its timeline: only the directory (the ledger remembers
   * it held it) or the whole disk (a new, younger data directory). It
   * restarts without the timeline. One loss per run: two of three would be
   * more than the protocol tolerates, not a bug.
   */
  private loseTimeline(): void {
    if (this.losses > 0) return;
    const a = this.rng.pick([...this.acceptors.values()]);
    if (a.presence !== 'present') return;
    this.losses++;
    const wholeDisk = this.rng.chance(0.5);
    this.trace(`acceptor ${a.id} loses its ${wholeDisk ? 'disk' : 'timeline directory'}`);
    if (!a.down) this.downAcceptor(a);
    // The bug: the safekeeper ignores its ledger and offers to join as if it never held the timeline.
    a.presence = wholeDisk || this.o.bugs?.rejoinLostAsFresh === true ? 'missing' : 'lost';
    if (wholeDisk) {
      a.ledger = false;
      a.diskInitializedAtMs = this.clock.nowMs;
    }
    a.disk = new SimDisk(controlOf(newAcceptor({ nodeId: a.id, tenantId: TENANT, timelineId: TIMELINE, conf: INITIAL_CONF, timelineStartLsn: START_LSN })), START_LSN);
    a.durableCommit = START_LSN;
    for (const k of [...this.checkedCommit.keys()]) if (k.startsWith(`a${a.id}:`)) this.checkedCommit.delete(k);
  }

  /**
   * The proposer's shell asks a member that answered without the timeline
   * to join (an HTTP create in the real shell; it may fail like any request).
   * The safekeeper decides with join.ts.
   */
  private askJoin(slot: ProposerSlot, id: NodeId): void {
    const a = this.acceptors.get(id);
    const conf = slot.state?.conf ?? null;
    if (a === undefined || a.down || a.presence === 'present' || conf === null || this.rng.chance(0.2)) return;
    const d = decideJoin({
      nodeId: id,
      conf,
      heldBefore: a.ledger,
      diskInitializedAtMs: a.diskInitializedAtMs,
      timelineCreatedAtMs: TIMELINE_CREATED_MS,
    });
    const bug = this.o.bugs?.rejoinLostAsFresh === true && d.kind === 'refuse' && d.reason !== 'notMember';
    if (d.kind === 'refuse' && !bug) {
      if (d.reason !== 'notMember') a.presence = 'lost';
      this.trace(`acceptor ${id} refuses to join: ${d.reason}`);
      return;
    }
    const st = newAcceptor({ nodeId: id, tenantId: TENANT, timelineId: TIMELINE, conf, timelineStartLsn: START_LSN });
    a.disk = new SimDisk(controlOf(st), START_LSN);
    a.state = st;
    a.presence = 'present';
    a.ledger = true;
    a.durableCommit = START_LSN;
    this.freshJoins++;
    this.trace(`acceptor ${id} joins as a fresh acceptor in generation ${conf.generation}`);
  }

  private crashProposer(): void {
    const slot = this.rng.pick(this.slots);
    if (slot.state === null) return;
    this.trace(`proposer ${slot.incarnation} crashes`);
    slot.state = null;
    slot.incarnation = 0;
    slot.restartAtMs = this.clock.nowMs + this.rng.int(10, 100);
  }

  private togglePartition(): void {
    if (this.rng.chance(0.5)) {
      this.net.heal();
      return;
    }
    const a = this.rng.pick(ALL_ACCEPTORS);
    const others = [COORDINATOR, ...ALL_ACCEPTORS, ...this.slots.map((s) => s.incarnation)];
    this.net.partition(a, this.rng.pick(others));
  }

  // --- message passing --------------------------------------------------------

  private send(from: number, to: number, m: Message): void {
    const codec = this.o.wireCodec ?? this.o.seed % 4 === 0;
    const wire = codec ? decodeMessage(encodeMessage(m)) : m;
    this.net.send(from, to, wire, this.clock.nowMs);
  }

  private deliver(from: number, to: number, m: Message): void {
    this.delivered++;
    const acc = this.acceptors.get(to);
    if (acc !== undefined) {
      this.deliverToAcceptor(acc, from, m as AcceptorInput);
      return;
    }
    if (to === COORDINATOR) {
      if (this.coordinator !== null) {
        this.applyCoordinatorStep(stepCoordinator(this.coordinator, from, m as AcceptorMessage, this.clock.nowMs));
      }
      return;
    }
    const slot = this.slots.find((s) => s.incarnation === to && s.state !== null);
    if (slot === undefined) return;
    this.applyProposerStep(slot, stepProposer(slot.state!, from, m as AcceptorMessage, this.clock.nowMs));
  }

  private deliverToAcceptor(a: AcceptorNode, from: number, m: AcceptorInput): void {
    if (a.down) return;
    if (a.state === null) {
      // The safekeeper's shell answers for a timeline it does not hold.
      const reason = a.presence === 'lost' ? 'timelineLost' : 'noTimeline';
      const r: Message = { type: 'Reject', tenantId: TENANT, timelineId: TIMELINE, generation: 0, nodeId: a.id, term: 0n, reason, lsn: 0n };
      this.send(a.id, from, r);
      return;
    }
    let before = a.state;
    if (this.o.bugs?.voteTwice === true && m.type === 'VoteRequest' && m.term === before.term && m.term > 0n) {
      // Deliberate bug: forget that this term's vote was already given.
      before = { ...before, term: before.term - 1n };
    }
    // A retransmission is compared with what the disk holds, as the real shell does.
    const overlap = appendOverlap(before, m);
    const res = stepAcceptor(before, m, overlap === null ? {} : { stored: a.disk.readWal(overlap.beginLsn, overlap.endLsn) });
    for (const r of res.replies) {
      // Only hostile input earns these, and the simulation sends none: a correct proposer or coordinator got one.
      if (r.type === 'Reject' && HOSTILE_INPUT_REASONS.has(r.reason)) this.fail(`acceptor ${a.id} refused ${m.type} as ${r.reason}`);
    }
    const after = res.state;
    let readData: Uint8Array | null = null;
    for (const e of res.effects) {
      // A crash between effects: what was made durable stays, no reply leaves.
      if (this.rng.chance(0.004)) {
        this.trace(`acceptor ${a.id} crashes before ${e.kind}`);
        this.downAcceptor(a);
        return;
      }
      readData = this.applyEffect(a, before, after, e) ?? readData;
    }
    if (after.commitLsn < before.commitLsn) this.fail(`acceptor ${a.id} commit went back`);
    if (after.commitLsn > after.flushLsn) this.fail(`acceptor ${a.id} commit beyond flush`);
    if (after.flushLsn !== a.disk.flushLsn) {
      this.fail(`acceptor ${a.id} state flush ${after.flushLsn} != disk ${a.disk.flushLsn}`);
    }
    a.state = after;
    // The shell persists commitLsn lazily, as the real one does.
    if (after.commitLsn > a.disk.control.commitLsn && this.rng.chance(0.3)) a.disk.persistControl(controlOf(after));
    if (after.termHistory !== before.termHistory) this.checkAcceptorWal(a, START_LSN);
    for (const reply of res.replies) {
      let r: Message = reply;
      if (reply.type === 'ReadWalResponse' && reply.ok) {
        assert(readData !== null, 'ok ReadWalResponse without readWal effect');
        r = { ...reply, data: readData };
      }
      this.send(a.id, from, r);
    }
  }

  private applyEffect(a: AcceptorNode, before: AcceptorState, after: AcceptorState, e: AcceptorEffect): Uint8Array | null {
    switch (e.kind) {
      case 'persistControl':
        a.disk.persistControl(e.control);
        return null;
      case 'truncateWal':
        if (e.lsn < before.commitLsn) this.fail(`acceptor ${a.id} truncates committed WAL at ${e.lsn} < ${before.commitLsn}`);
        a.disk.truncateWal(e.lsn);
        return null;
      case 'writeWal':
        a.disk.writeWal(e.beginLsn, e.data);
        this.checkBytes(a.id, after.termHistory, e.beginLsn, e.data);
        return null;
      case 'flushWal':
        a.disk.flushWal();
        return null;
      case 'readWal':
        return a.disk.readWal(e.beginLsn, e.endLsn);
    }
  }

  private applyProposerStep(slot: ProposerSlot, step: ProposerStep): void {
    slot.state = step.state;
    for (const ev of step.events) {
      if (ev.kind === 'elected') this.onElected(slot, step.state, ev.term, ev.epochStartLsn, ev.donor);
      if (ev.kind === 'committed') {
        this.trace(`proposer ${slot.incarnation} commits ${ev.commitLsn}`);
        const t = step.state.term;
        if (ev.commitLsn > (this.commitByTerm.get(t) ?? 0n)) this.commitByTerm.set(t, ev.commitLsn);
      }
      if (ev.kind === 'memberMissing') this.askJoin(slot, ev.nodeId);
      if (ev.kind === 'memberLost') this.trace(`proposer ${slot.incarnation}: member ${ev.nodeId} lost the timeline (degraded)`);
      if (ev.kind === 'fenced') {
        this.trace(`proposer ${slot.incarnation} fenced: ${ev.reason}`);
        slot.state = null;
        slot.incarnation = 0;
        slot.restartAtMs = this.clock.nowMs + this.rng.int(10, 60);
        return;
      }
    }
    for (const s of step.sends) this.send(slot.incarnation, s.to, s.message);
  }

  private applyCoordinatorStep(step: CoordinatorStep): void {
    const prev = this.coordinator?.phase;
    this.coordinator = step.state;
    if (prev !== step.state.phase) this.trace(`membership change: ${step.state.phase}`);
    for (const s of step.sends) this.send(COORDINATOR, s.to, s.message);
    for (const id of step.pulls) this.pullTimeline(id);
  }

  // --- actors ------------------------------------------------------------------

  private tickAll(): void {
    const now = this.clock.nowMs;
    for (const slot of this.slots) {
      if (slot.state !== null) this.applyProposerStep(slot, tickProposer(slot.state, now));
    }
    if (this.coordinator !== null) this.applyCoordinatorStep(tickCoordinator(this.coordinator, now, 40));
  }

  private computeAppends(): void {
    for (const slot of this.slots) {
      const p = slot.state;
      if (p === null || p.status !== 'elected') continue;
      // Backpressure: the compute stops producing when far ahead of the commit.
      if (p.walEndLsn - p.commitLsn > 512n) continue;
      const n = this.rng.int(1, 12);
      const data = new Uint8Array(n);
      for (let i = 0; i < n; i++) data[i] = walByte(p.term, p.walEndLsn + BigInt(i));
      this.applyProposerStep(slot, appendWal(p, p.walEndLsn, data, this.clock.nowMs));
    }
  }

  private startMembershipChange(): void {
    const current = this.maxConf();
    if (current.newMembers !== undefined || current.generation !== INITIAL_CONF.generation) return;
    // Replace a member that lost the timeline, or else 3.
    const lost = current.members.find((id) => this.acceptors.get(id)?.presence === 'lost');
    const victim = lost ?? 3;
    const desired = [...current.members.filter((id) => id !== victim), 4];
    this.trace(`membership change {${current.members.join(',')}} -> {${desired.join(',')}} starts`);
    this.applyCoordinatorStep(
      startChange(TENANT, TIMELINE, current, desired, (id) => this.acceptors.get(id)?.presence === 'present', this.clock.nowMs),
    );
  }

  private maxConf(): Configuration {
    let c = INITIAL_CONF;
    for (const a of this.acceptors.values()) {
      if (a.presence === 'present' && a.disk.control.conf.generation > c.generation) c = a.disk.control.conf;
    }
    return c;
  }

  /** pull_timeline: copy the durable state of a live old member into a new one. */
  private pullTimeline(id: NodeId): void {
    const existing = this.acceptors.get(id);
    if (existing?.presence === 'present') {
      this.applyCoordinatorStep(timelinePulled(this.coordinator!, id, this.clock.nowMs));
      return;
    }
    // A pull is a join too: into a node that never held the timeline only.
    if (existing !== undefined && (existing.down || existing.ledger || !(existing.diskInitializedAtMs < TIMELINE_CREATED_MS))) return;
    const sources = this.coordinator!.joint.members.map((x) => this.acceptors.get(x)).filter((a) => a !== undefined && a.state !== null);
    if (sources.length === 0) return;
    const src = this.rng.pick(sources)!;
    const disk = src.disk.clone();
    disk.persistControl({ ...disk.control, nodeId: id });
    const state = restoreAcceptor(disk.control, disk.flushLsn);
    const node: AcceptorNode = {
      id,
      disk,
      state,
      down: false,
      presence: 'present',
      ledger: true,
      diskInitializedAtMs: existing?.diskInitializedAtMs ?? this.clock.nowMs,
      restartAtMs: 0,
      durableCommit: state.commitLsn,
      promisedTerm: existing?.promisedTerm ?? 0n,
    };
    this.acceptors.set(id, node);
    this.trace(`acceptor ${id} pulled from ${src.id} at flush ${state.flushLsn}`);
    this.applyCoordinatorStep(timelinePulled(this.coordinator!, id, this.clock.nowMs));
  }

  // --- invariants ----------------------------------------------------------------

  private onElected(slot: ProposerSlot, p: ProposerState, term: Term, epochStartLsn: Lsn, donor: NodeId): void {
    this.elections++;
    this.trace(`proposer ${slot.incarnation} elected term ${term} epoch ${epochStartLsn} donor ${donor}`);
    const other = this.electedBy.get(term);
    if (other !== undefined && other !== slot.incarnation) {
      this.fail(`election safety: term ${term} elected proposers ${other} and ${slot.incarnation}`);
    }
    this.electedBy.set(term, slot.incarnation);
    // Leader completeness: the new proposer's log holds everything lower terms committed.
    let committedEnd = START_LSN;
    for (const [t, lsn] of this.commitByTerm) if (t < term && lsn > committedEnd) committedEnd = lsn;
    if (epochStartLsn < committedEnd) {
      this.fail(`leader completeness: term ${term} epoch starts at ${epochStartLsn} below commit ${committedEnd} of a lower term`);
    }
    this.checkCommitted(`proposer ${slot.incarnation}`, p.termHistory, committedEnd);
  }

  /** The log described by `history` must agree with the committed record below `upTo`, extending it. */
  private checkCommitted(who: string, history: TermHistory, upTo: Lsn, from: Lsn = START_LSN): void {
    const n = Number(upTo - START_LSN);
    for (let i = Number(from - START_LSN); i < n; i++) {
      const t = termAt(history, START_LSN + BigInt(i));
      const c = this.committedTerms[i];
      if (c === undefined) this.committedTerms.push(t);
      else if (c !== t) this.fail(`log safety: ${who} has term ${t} at committed LSN ${START_LSN + BigInt(i)}, committed term ${c}`);
    }
  }

  private checkBytes(id: NodeId, history: TermHistory, beginLsn: Lsn, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      const lsn = beginLsn + BigInt(i);
      const t = termAt(history, lsn);
      if (data[i] !== walByte(t, lsn)) this.fail(`acceptor ${id} WAL at ${lsn} was not written by term ${t} of its history`);
    }
  }

  private checkAcceptorWal(a: AcceptorNode, from: Lsn): void {
    const bytes = a.disk.bytes;
    const off = Number(from - START_LSN);
    this.checkBytes(a.id, a.state!.termHistory, from, bytes.subarray(off));
  }

  private readonly checkedCommit = new Map<string, Lsn>();

  private checkInvariants(): void {
    for (const a of this.acceptors.values()) {
      const s = a.state;
      if (s === null) continue;
      if (s.commitLsn > s.flushLsn) this.fail(`acceptor ${a.id} commit ${s.commitLsn} beyond flush ${s.flushLsn}`);
      if (s.term < a.promisedTerm && this.o.checkPromises !== false) this.fail(`promise forgotten: acceptor ${a.id} is at term ${s.term} after holding ${a.promisedTerm}`);
      a.promisedTerm = s.term;
      const key = `a${a.id}:${s.termHistory.length}:${s.term}`;
      const checked = this.checkedCommit.get(key);
      if (checked !== s.commitLsn) {
        this.checkCommitted(`acceptor ${a.id}`, s.termHistory, s.commitLsn, checked ?? START_LSN);
        this.checkedCommit.set(key, s.commitLsn);
      }
    }
    for (const slot of this.slots) {
      const p = slot.state;
      if (p === null || p.status !== 'elected') continue;
      if (p.commitLsn < slot.lastCommit) this.fail(`proposer ${slot.incarnation} commit went back`);
      if (p.commitLsn !== slot.lastCommit) {
        const from = slot.lastCommit > START_LSN ? slot.lastCommit : START_LSN;
        this.checkCommitted(`proposer ${slot.incarnation}`, p.termHistory, p.commitLsn, from);
        slot.lastCommit = p.commitLsn;
      }
    }
  }
}
