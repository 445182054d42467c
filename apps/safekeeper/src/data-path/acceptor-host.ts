/**
 * Runs the pure acceptor of `@strata/core/consensus` over one timeline's
 * storage. Requests for a timeline are stepped one at a time, in order;
 * no reply leaves before everything it depends on is durable.
 *
 * Group commit: stepping a request and queueing its WAL writes is quick,
 * and the wait for durability happens after, outside the step queue. So the
 * requests that arrive while one fdatasync runs are all stepped and written
 * behind it, and one next fdatasync (the timeline's `syncWal`) covers them
 * all. Effects that need durable WAL first (control writes, truncation,
 * reads) wait for it inside the step queue, as they must keep their order.
 *
 * What is stored is checked before stepping (core acceptor.ts decides,
 * this shell brings the bytes and the CPU): an append must be whole mtrs
 * with valid CRC-32C (`appendRedoError`), a resend must equal the WAL it
 * overlaps (read here, compared by the step), and on a proposer stream an
 * append must come from the connection whose ProposerElected for its term
 * the acceptor took (`StreamSession`). A refused message changes nothing.
 */
import { assert, LsnOutOfRange, redo } from '@strata/core';
import {
  type AcceptorControl,
  type AcceptorInput,
  type AcceptorMessage,
  type AcceptorState,
  type AcceptorStep,
  appendOverlap,
  appendRedoError,
  controlOf,
  peerRecoveryRange,
  refuse,
  type RejectReason,
  restoreAcceptor,
  type Sender,
  type StepContext,
  type TermHistory,
  stepAcceptor,
} from '@strata/core/consensus';
import { unknownMembers } from '../bounds.js';
import type { Timeline } from '../storage/timeline.js';

/** Largest WAL copied from a peer in one `recoverFromPeer` call. */
export const PEER_RECOVERY_CHUNK_BYTES = 16 * 1024 * 1024;

/**
 * One proposer connection's proof of election: the term whose
 * ProposerElected it sent and the acceptor took (neon binds the term to the
 * walproposer's connection the same way). Appends on the connection must
 * carry that term; another connection, or one that was never elected,
 * gets `notElected` (the proposer answers by asking for a vote again).
 * A ReadWalRequest is not bound: it stores nothing, a tenant token may read
 * its timeline's WAL through the wal route anyway, and the proposer asks its
 * donor for WAL right after the election, before that connection's
 * ProposerElected need have been answered.
 */
export class StreamSession {
  electedTerm: bigint | null = null;
  /** False once its connection closed: the term it held may go to the proposer's next connection. */
  live = true;
  constructor(readonly sender: Sender) {}
}

/** A message refused before or by the step, for the caller's log and metrics. */
export interface Refusal {
  readonly message: AcceptorInput;
  readonly reason: RejectReason;
  readonly detail: string;
}

export interface HandleOptions {
  /** The proposer stream's connection; absent for the HTTP route (no binding, operator sender). */
  readonly session?: StreamSession | undefined;
  /** Called for each message refused as hostile or out of place (see REFUSALS_REPORTED). */
  readonly onRefused?: ((r: Refusal) => void) | undefined;
  /**
   * A proposer that may not switch membership greeted with a newer
   * configuration than ours (not adopted): the caller may check with the
   * peers whether one of them holds it (membership/conf-sync.ts).
   */
  readonly onNewerConfiguration?: ((generation: number) => void) | undefined;
}

/** Refusals worth a log line and a metric: what a correct proposer or coordinator does not earn. */
const REFUSALS_REPORTED: ReadonlySet<RejectReason> = new Set(['badRedo', 'conflict', 'badConfiguration', 'notAuthorized', 'badTerm', 'badHistory']);

export class AcceptorHost {
  private state: AcceptorState;
  private queue: Promise<unknown> = Promise.resolve();
  /** End of the WAL once the writes queued so far are done (the acceptor's flush LSN, not yet durable). */
  private writeEnd: bigint;
  /** The last WAL write handed to the timeline (it writes in order: when this one is done, all are). */
  private lastWrite: Promise<unknown> = Promise.resolve();
  /** A failed WAL write: the acceptor's state is ahead of its storage, so it answers nothing more. */
  private broken: Error | undefined;
  /**
   * The connection appends are taken from: the last one elected here. While
   * it is open, no other connection is elected for its term, so a second
   * client holding the same token cannot repeat the election and append
   * beside the proposer (its bytes would become the timeline's).
   */
  private electedSession: StreamSession | null = null;
  /** `Date.now()` of the last proposer request handled (0: none since this host was made). */
  lastProposerMessageAt = 0;

  constructor(
    private readonly nodeId: number,
    private readonly timeline: Timeline,
    /** Nodes a configuration may name (this one and its --peers); undefined: shape checks only (no peers given). */
    private readonly knownNodes?: ReadonlySet<number> | undefined,
  ) {
    this.state = restoreAcceptor(controlFromTimeline(nodeId, timeline), timeline.flushLsn);
    assert(timeline.writtenLsn === timeline.flushLsn, 'a host starts over durable WAL only');
    this.writeEnd = timeline.flushLsn;
  }

  get acceptor(): AcceptorState {
    return this.state;
  }

  /** Step every message in order, make its effects durable, and return the replies. */
  async handle(messages: readonly AcceptorInput[], options: HandleOptions = {}): Promise<AcceptorMessage[]> {
    this.lastProposerMessageAt = Date.now();
    const batch = await this.serialize(() => this.stepAndWrite(messages, options));
    await batch.written;
    await this.timeline.syncWal(batch.flushLsn);
    // Readers may see what a quorum flushed as soon as this node knows of it; the control file catches up on its next write.
    if (batch.commitLsn > this.timeline.commits.lsn) this.timeline.commits.advance(batch.commitLsn);
    return batch.replies;
  }

  /**
   * Peer recovery (core `peerRecoveryRange`): appends the WAL a peer with the
   * same term history holds beyond this acceptor's flush LSN, at most
   * PEER_RECOVERY_CHUNK_BYTES per call. The range is computed against the
   * state at the time the call runs (after any proposer request queued
   * before it); only the flush LSN moves. Returns the bytes appended (0 when
   * the peer's WAL is not ours to take, or no longer ahead).
   */
  recoverFromPeer(peerTermHistory: TermHistory, peerFlushLsn: bigint, fetch: (from: bigint, to: bigint) => Promise<Uint8Array>): Promise<number> {
    return this.serialize(async () => {
      this.assertUsable();
      const range = peerRecoveryRange(this.state, { termHistory: peerTermHistory, flushLsn: peerFlushLsn });
      if (!range) return 0;
      const to = range.to - range.from > BigInt(PEER_RECOVERY_CHUNK_BYTES) ? range.from + BigInt(PEER_RECOVERY_CHUNK_BYTES) : range.to;
      const fetched = await fetch(range.from, to);
      // Whole mtrs only (range.from is an mtr end, as every flush LSN is): a
      // proposer's next append starts at our flush LSN and must start an mtr.
      // The rest comes with the next call. Bytes with no mtr end at all (WAL
      // that is not redo, which only tests write) are copied as they are.
      const cut = redo.mtrCut(fetched, 0, fetched.length, fetched.length);
      const bytes = cut <= 0 ? fetched : fetched.subarray(0, cut);
      if (bytes.length === 0) return 0;
      assert(BigInt(bytes.length) <= to - range.from, `peer recovery fetched ${bytes.length} bytes for ${range.from}..${to}`);
      assert(range.from === this.writeEnd, `peer recovery from ${range.from} but the WAL ends at ${this.writeEnd}`);
      const flushLsn = await this.guard(this.timeline.appendWal(range.from, bytes));
      this.writeEnd = flushLsn;
      this.state = { ...this.state, flushLsn };
      assert(this.timeline.flushLsn === this.state.flushLsn, `storage flush ${this.timeline.flushLsn} != acceptor flush ${this.state.flushLsn}`);
      return bytes.length;
    });
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private assertUsable(): void {
    if (this.broken) throw this.broken;
  }

  /** A storage failure leaves the acceptor's state ahead of its storage: nothing more is answered. */
  private guard<T>(p: Promise<T>): Promise<T> {
    return p.catch((e: unknown) => {
      this.broken ??= e instanceof Error ? e : new Error(String(e));
      throw e;
    });
  }

  /**
   * Steps the messages and queues their WAL writes without waiting for
   * them; returns the replies and what they wait for: the writes, then
   * durability up to `flushLsn`.
   */
  private async stepAndWrite(
    messages: readonly AcceptorInput[],
    options: HandleOptions,
  ): Promise<{ replies: AcceptorMessage[]; written: Promise<unknown>; flushLsn: bigint; commitLsn: bigint }> {
    this.assertUsable();
    const replies: AcceptorMessage[] = [];
    const writes: Promise<unknown>[] = [];
    // WAL stepped but not yet handed to the timeline: contiguous writes of one batch become one.
    let pending: { begin: bigint; parts: Uint8Array[]; bytes: number } | null = null;
    const queuePending = (): void => {
      if (!pending) return;
      const data = concat(pending.parts, pending.bytes);
      assert(pending.begin === this.writeEnd, `WAL write at ${pending.begin} but the WAL ends at ${this.writeEnd}`);
      const w = this.guard(this.timeline.writeWal(pending.begin, data));
      writes.push(w);
      this.lastWrite = w;
      this.writeEnd = pending.begin + BigInt(pending.bytes);
      pending = null;
    };
    // Everything stepped so far durable: for effects that depend on it.
    const durable = async (): Promise<void> => {
      queuePending();
      // An earlier batch's writes may still be in flight (its handle() waits outside the step queue):
      // the last write queued finishing means every write up to writeEnd has.
      await Promise.all([...writes.splice(0), this.lastWrite]);
      await this.guard(this.timeline.syncWal(this.writeEnd));
    };
    const session = options.session;
    for (const m of messages) {
      const step = await this.screenAndStep(m, session, durable, options.onRefused);
      if (m.type === 'Greeting' && session?.sender === 'proposer' && m.conf !== null && m.conf.generation > step.state.conf.generation) {
        options.onNewerConfiguration?.(m.conf.generation);
      }
      if (session && m.type === 'ProposerElected' && step.replies[0]?.type === 'AppendResponse' && step.replies[0].term === m.term) {
        // The acceptor follows this proposer now (an out-termed one is answered with the higher term).
        session.electedTerm = m.term;
        this.electedSession = session;
      }
      let reads: Map<number, Uint8Array> | null = null;
      for (const e of step.effects) {
        switch (e.kind) {
          case 'writeWal':
            if (pending && pending.begin + BigInt(pending.bytes) === e.beginLsn) {
              pending.parts.push(e.data);
              pending.bytes += e.data.length;
            } else {
              queuePending();
              pending = { begin: e.beginLsn, parts: [e.data], bytes: e.data.length };
            }
            break;
          case 'flushWal':
            // Deferred to the end of the batch (or to the next effect that needs it).
            break;
          case 'truncateWal':
            await durable();
            await this.guard(this.timeline.truncateWal(e.lsn));
            this.writeEnd = e.lsn;
            break;
          case 'persistControl':
            await durable();
            await this.guard(this.timeline.updateConsensus(consensusPatch(e.control)));
            break;
          case 'readWal': {
            await durable();
            reads ??= new Map();
            reads.set(replies.length + step.replies.findIndex((r) => r.type === 'ReadWalResponse'), await this.timeline.readWal(e.beginLsn, e.endLsn));
            break;
          }
        }
      }
      this.state = step.state;
      for (const r of step.replies) {
        const idx = replies.length;
        const data = reads?.get(idx);
        replies.push(data && r.type === 'ReadWalResponse' ? { ...r, data } : r);
      }
    }
    queuePending();
    assert(this.writeEnd === this.state.flushLsn, `storage end ${this.writeEnd} != acceptor flush ${this.state.flushLsn}`);
    // Every write queued so far, an earlier batch's too: a batch with no WAL of its own (a heartbeat, an
    // empty append announcing a commit) still reports the flush LSN of WAL an earlier batch is writing.
    // The timeline writes in queue order, so the last one queued finishing means all of them have.
    return { replies, written: Promise.all([...writes, this.lastWrite]), flushLsn: this.state.flushLsn, commitLsn: this.state.commitLsn };
  }

  /**
   * The checks that need this shell (the connection, CPU for CRCs, the
   * stored bytes), then the step. A refusal is a step with a Reject and no
   * effects.
   */
  private async screenAndStep(
    m: AcceptorInput,
    session: StreamSession | undefined,
    durable: () => Promise<void>,
    onRefused: HandleOptions['onRefused'],
  ): Promise<AcceptorStep> {
    const refused = (reason: RejectReason, detail: string): AcceptorStep => {
      onRefused?.({ message: m, reason, detail });
      return refuse(this.state, m, reason);
    };
    const ctx: { sender?: Sender; stored?: Uint8Array } = {};
    if (session) ctx.sender = session.sender;
    if (m.type === 'ProposerElected' && session) {
      const holder = this.electedSession;
      if (holder !== null && holder !== session && holder.live && holder.electedTerm === m.term) {
        // The proposer reconnecting sees this only until its old connection's close is seen here; then it is elected again.
        return refused('notElected', `term ${m.term} is held by another open connection`);
      }
    }
    if (m.type === 'MembershipSwitchRequest') {
      // A node nobody here can reach would count toward a quorum that can never form.
      const unknown = unknownMembers(m.conf, this.knownNodes);
      if (unknown.length > 0) return refused('badConfiguration', `configuration names node${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}, unknown here (known: ${[...this.knownNodes!].sort((a, b) => a - b).join(', ')})`);
    }
    if (m.type === 'AppendRequest') {
      if (session && session.electedTerm !== m.term) {
        return refused('notElected', `append of term ${m.term} on a connection elected for ${session.electedTerm ?? 'no term'}`);
      }
      // Checked before anything else of it: the whole of it, as it arrived.
      const redoError = appendRedoError(m, { pageSize: this.timeline.pageSize });
      if (redoError !== undefined) return refused('badRedo', `[${m.beginLsn}, ${m.endLsn}): ${redoError}`);
      const overlap = appendOverlap(this.state, m);
      if (overlap !== null) {
        // Rare (a retransmission): the overlap may still be in this batch's pending writes.
        await durable();
        try {
          ctx.stored = await this.timeline.readWal(overlap.beginLsn, overlap.endLsn);
        } catch (e) {
          if (!(e instanceof LsnOutOfRange)) throw e;
          return refused('conflict', `overlap [${overlap.beginLsn}, ${overlap.endLsn}) is no longer stored here: ${e.message}`);
        }
      }
    }
    const step = stepAcceptor(this.state, m, ctx as StepContext);
    const reject = step.replies[0];
    if (reject?.type === 'Reject' && REFUSALS_REPORTED.has(reject.reason)) onRefused?.({ message: m, reason: reject.reason, detail: describe(m) });
    return step;
  }
}

function describe(m: AcceptorInput): string {
  switch (m.type) {
    case 'AppendRequest':
      return `append [${m.beginLsn}, ${m.endLsn}) of term ${m.term}`;
    case 'Greeting':
    case 'MembershipSwitchRequest':
      return `${m.type} with configuration ${JSON.stringify(m.conf)}`;
    case 'VoteRequest':
    case 'ProposerElected':
    case 'TermBumpRequest':
      return `${m.type} for term ${m.term}`;
    case 'ReadWalRequest':
      return `${m.type} [${m.beginLsn}, ${m.endLsn})`;
  }
}

function concat(parts: Uint8Array[], bytes: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(bytes);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function controlFromTimeline(nodeId: number, t: Timeline): AcceptorControl {
  const c = t.control;
  return {
    nodeId,
    tenantId: c.tenantId,
    timelineId: c.timelineId,
    conf: c.conf,
    term: c.term,
    termHistory: c.termHistory,
    timelineStartLsn: c.timelineStartLsn,
    commitLsn: c.commitLsn,
  };
}

function consensusPatch(control: AcceptorControl) {
  const conf = {
    generation: control.conf.generation,
    members: [...control.conf.members],
    ...(control.conf.newMembers ? { newMembers: [...control.conf.newMembers] } : {}),
  };
  return { term: control.term, termHistory: control.termHistory.map((e) => ({ ...e })), conf, commitLsn: control.commitLsn };
}

export { controlOf };
