/**
 * Deterministic simulation of one timeline's consensus: acceptors with
 * crashing disks, proposers that crash, restart and compete, a lossy
 * reordering network with partitions, and a membership change
 * {1,2,3} → {1,2,4} in the middle. Every run is a function of its seed.
 *
 * WAL bytes are a function of (term that wrote them, LSN), so every byte
 * says which term's proposer produced it, and the invariants can check
 * logs against term histories without keeping copies.
 *
 * Invariants, checked after every step (a violation throws SimViolation):
 *   - election safety: at most one proposer is elected per term;
 *   - leader completeness: an elected proposer's log holds all committed WAL;
 *   - log safety: the WAL below any node's commitLsn is the committed WAL,
 *     for all nodes and forever (one global record of committed terms);
 *   - committed WAL is never truncated (acceptor asserts + effect check);
 *   - commitLsn is monotonic per acceptor (also across restarts, against
 *     its durable value) and per proposer, and never beyond flushLsn;
 *   - every acceptor's WAL matches its term history, byte for byte.
 * Any assertion failure inside the core is a violation too.
 */
import { assert } from '../assert.js';
import { decodeMessage, encodeMessage } from '../consensus/codec.js';
import {
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
import type { AcceptorInput, AcceptorMessage, Message } from '../consensus/messages.js';
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
import { Prng } from '../prng.js';
import { SimClock } from './clock.js';
import { SimDisk } from './disk.js';
import { SimNetwork } from './network.js';

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
  /** Deliberate bugs, to prove the invariants catch them. */
  readonly bugs?: {
    readonly commitPreviousTermEntries?: boolean;
    readonly voteTwice?: boolean;
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
}

const TENANT = 'aa11';
const TIMELINE = 'bb22';
const START_LSN = 1000n;
const COORDINATOR = 99;
const INITIAL_CONF: Configuration = { generation: 1, members: [1, 2, 3] };
const ALL_ACCEPTORS: readonly NodeId[] = [1, 2, 3, 4];
const PROPOSER_SLOTS = 2;

/** The byte that term `term`'s proposer writes at `lsn`: distinct terms (mod 256) give distinct bytes. */
export function walByte(term: Term, lsn: Lsn): number {
  return (Number(term & 0xffn) * 31 + Number(lsn & 0xffffn) * 7 + 11) & 0xff;
}

interface AcceptorNode {
  readonly id: NodeId;
  disk: SimDisk;
  state: AcceptorState | null; // null: down
  restartAtMs: number;
  /** Durable commit seen at the last crash (commit must not go below it after restart). */
  durableCommit: Lsn;
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

  constructor(private readonly o: SimOptions) {
    this.rng = new Prng(o.seed);
    this.net = new SimNetwork<Message>(this.rng, {
      dropP: 0.03,
      duplicateP: 0.03,
      delayMsMin: 1,
      delayMsMax: this.rng.int(3, 30),
    });
    for (const id of [1, 2, 3]) {
      const st = newAcceptor({ nodeId: id, tenantId: TENANT, timelineId: TIMELINE, conf: INITIAL_CONF, timelineStartLsn: START_LSN });
      this.acceptors.set(id, { id, disk: new SimDisk(controlOf(st), START_LSN), state: st, restartAtMs: 0, durableCommit: START_LSN });
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
      if (a.state === null && now >= a.restartAtMs) {
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
    if (a.state === null) return;
    this.trace(`acceptor ${a.id} crashes`);
    a.disk.crash();
    a.state = null;
    a.durableCommit = a.disk.control.commitLsn;
    a.restartAtMs = this.clock.nowMs + this.rng.int(5, 60);
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
    if (a.state === null) return;
    let before = a.state;
    if (this.o.bugs?.voteTwice === true && m.type === 'VoteRequest' && m.term === before.term && m.term > 0n) {
      // Deliberate bug: forget that this term's vote was already given.
      before = { ...before, term: before.term - 1n };
    }
    const res = stepAcceptor(before, m);
    const after = res.state;
    let readData: Uint8Array | null = null;
    for (const e of res.effects) {
      // A crash between effects: what was made durable stays, no reply leaves.
      if (this.rng.chance(0.004)) {
        this.trace(`acceptor ${a.id} crashes before ${e.kind}`);
        a.disk.crash();
        a.state = null;
        a.durableCommit = a.disk.control.commitLsn;
        a.restartAtMs = this.clock.nowMs + this.rng.int(5, 60);
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
      if (ev.kind === 'committed') this.trace(`proposer ${slot.incarnation} commits ${ev.commitLsn}`);
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
    this.trace('membership change {1,2,3} -> {1,2,4} starts');
    this.applyCoordinatorStep(
      startChange(TENANT, TIMELINE, current, [1, 2, 4], (id) => this.acceptors.has(id), this.clock.nowMs),
    );
  }

  private maxConf(): Configuration {
    let c = INITIAL_CONF;
    for (const a of this.acceptors.values()) if (a.disk.control.conf.generation > c.generation) c = a.disk.control.conf;
    return c;
  }

  /** pull_timeline: copy the durable state of a live old member into a new one. */
  private pullTimeline(id: NodeId): void {
    if (this.acceptors.has(id)) {
      this.applyCoordinatorStep(timelinePulled(this.coordinator!, id, this.clock.nowMs));
      return;
    }
    const sources = [1, 2, 3].map((x) => this.acceptors.get(x)!).filter((a) => a.state !== null);
    if (sources.length === 0) return;
    const src = this.rng.pick(sources);
    const disk = src.disk.clone();
    disk.persistControl({ ...disk.control, nodeId: id });
    const state = restoreAcceptor(disk.control, disk.flushLsn);
    this.acceptors.set(id, { id, disk, state, restartAtMs: 0, durableCommit: state.commitLsn });
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
    // Leader completeness: the new proposer's log holds everything committed.
    const committedEnd = START_LSN + BigInt(this.committedTerms.length);
    if (epochStartLsn < committedEnd) {
      this.fail(`leader completeness: term ${term} epoch starts at ${epochStartLsn} below commit ${committedEnd}`);
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
