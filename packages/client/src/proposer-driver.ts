/**
 * The proposer's I/O shell: drives the pure proposer of
 * `@strata/core/consensus` with a clock and HTTP. Each safekeeper gets at
 * most one request in flight, carrying every queued frame, so messages to
 * one acceptor arrive in order; a failed request is a dropped message, which
 * the proposer's own retransmission and reconnect logic already handles.
 *
 * The proposer resends unacknowledged WAL once an acceptor has been silent for
 * two heartbeats; it does not know that the WAL is still in the request in
 * flight (a large batch on a busy machine takes longer than that). Such a
 * resend of a range the request in flight or the queue already carries is
 * dropped, so that a slow request does not make the next one carry the same
 * WAL again (and be slower still). Dropping is always safe, as a lost message
 * is: if the request in flight fails, the proposer resends later.
 */
import { assert, StrataError } from '@strata/core';
import { authHeaders } from './http.js';
import { ACCEPT_ZSTD, consensusReplyBytes, encodeBody } from './wire-zstd.js';
import {
  appendWal,
  decodeFrames,
  encodeFrames,
  newProposer,
  proposerMembers,
  type AcceptorMessage,
  type NodeId,
  type ProposerEvent,
  type ProposerMessage,
  type ProposerState,
  type ProposerStep,
  stepProposer,
  tickProposer,
} from '@strata/core/consensus';

export interface SafekeeperEndpoint {
  readonly nodeId: NodeId;
  /** e.g. http://127.0.0.1:7676 */
  readonly baseUrl: string;
}

export interface ProposerDriverOptions {
  readonly tenantId: string;
  readonly timelineId: string;
  readonly proposerId: NodeId;
  readonly safekeepers: readonly SafekeeperEndpoint[];
  readonly token?: string;
  readonly tickMs?: number;
  readonly heartbeatMs?: number;
  readonly reconnectMs?: number;
  readonly appendBytesMax?: number;
  readonly inflightBytesMax?: number;
  readonly requestTimeoutMs?: number;
  /**
   * zstd for request bodies that carry WAL (AppendRequest) and for replies.
   * Off by default until measured: on loopback the compression may cost more
   * than the bytes it saves.
   */
  readonly compression?: 'zstd' | 'none';
  readonly onEvent?: (e: ProposerEvent) => void;
}

/**
 * Why a proposer stopped: `term` — another proposer holds a higher term
 * (two writers: the compute must stop); `generation` — the timeline moved to
 * a newer membership configuration, so this proposer's quorums are stale
 * while nobody else necessarily writes: a new proposer may take over.
 */
export type FenceCause = 'term' | 'generation';

export class ProposerFenced extends StrataError {
  readonly code = 'PROPOSER_FENCED' as const;
  constructor(
    readonly reason: string,
    readonly fencedBy: FenceCause = 'term',
  ) {
    super(`proposer fenced: ${reason}`);
    this.name = 'ProposerFenced';
  }
}

/** Does `m` tell a proposer at generation `generation` of a newer configuration? */
function announcesNewerConfiguration(m: AcceptorMessage, generation: number): boolean {
  if (m.type === 'Reject' && m.reason === 'lowerGeneration') return true;
  if (m.type === 'GreetingResponse') return m.conf.generation > generation;
  return m.generation > generation;
}

/** A contiguous LSN range of WAL that AppendRequests of one term and generation carry. */
interface WalCover {
  readonly term: bigint;
  readonly generation: number;
  readonly beginLsn: bigint;
  endLsn: bigint;
}

interface Peer {
  readonly endpoint: SafekeeperEndpoint;
  queue: ProposerMessage[];
  inFlight: boolean;
  /** WAL the request in flight and the queue carry, as far as it is contiguous. */
  cover: WalCover | null;
  requestsFailed: number;
  bytesSent: number;
  /** Resends dropped because the request in flight or the queue already carried that WAL. */
  resendsDropped: number;
}

/**
 * Queues `m` for `peer` unless it is WAL that `peer.cover` already holds;
 * extends the cover with WAL that continues it, or starts a new one.
 */
function enqueue(peer: Peer, m: ProposerMessage): void {
  if (m.type === 'AppendRequest' && m.data.length > 0) {
    const c = peer.cover;
    const same = c !== null && c.term === m.term && c.generation === m.generation && m.beginLsn >= c.beginLsn && m.beginLsn <= c.endLsn;
    if (same && m.endLsn <= c.endLsn) {
      peer.resendsDropped++;
      return;
    }
    if (same) c.endLsn = m.endLsn;
    else peer.cover = { term: m.term, generation: m.generation, beginLsn: m.beginLsn, endLsn: m.endLsn };
  }
  peer.queue.push(m);
}

/** The cover of what is queued alone (the request in flight is over). */
function recover(peer: Peer): void {
  const queued = peer.queue;
  peer.queue = [];
  peer.cover = null;
  for (const m of queued) enqueue(peer, m);
}

type Waiter = { lsn: bigint; resolve: () => void; reject: (e: Error) => void };

export class ProposerDriver {
  private state: ProposerState;
  private readonly peers = new Map<NodeId, Peer>();
  private readonly timer: NodeJS.Timeout;
  private readonly commitWaiters: Waiter[] = [];
  private electedWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private stopped = false;
  private readonly opts: ProposerDriverOptions;
  /** Set when the proposer is fenced: what fenced it. */
  private fenceCause: FenceCause = 'term';
  /** The cause to record if the message being stepped fences the proposer. */
  private stepCause: FenceCause = 'term';

  constructor(opts: ProposerDriverOptions) {
    this.opts = opts;
    for (const e of opts.safekeepers) {
      this.peers.set(e.nodeId, { endpoint: e, queue: [], inFlight: false, cover: null, requestsFailed: 0, bytesSent: 0, resendsDropped: 0 });
    }
    const step = newProposer(
      {
        proposerId: opts.proposerId,
        tenantId: opts.tenantId,
        timelineId: opts.timelineId,
        acceptors: opts.safekeepers.map((s) => s.nodeId),
        conf: null,
        heartbeatMs: opts.heartbeatMs ?? 250,
        reconnectMs: opts.reconnectMs ?? 2000,
        appendBytesMax: opts.appendBytesMax ?? 1 << 20,
        inflightBytesMax: opts.inflightBytesMax ?? 16 << 20,
      },
      Date.now(),
    );
    this.state = step.state;
    this.timer = setInterval(() => this.apply(tickProposer(this.state, Date.now())), opts.tickMs ?? 50);
    this.apply(step);
  }

  get status(): ProposerState['status'] {
    return this.state.status;
  }
  get commitLsn(): bigint {
    return this.state.commitLsn;
  }
  get endLsn(): bigint {
    return this.state.walEndLsn;
  }
  get epochStartLsn(): bigint {
    return this.state.epochStartLsn;
  }
  get term(): bigint {
    return this.state.term;
  }
  /** Generation of the configuration the proposer works in (0 before it learned one). */
  get generation(): number {
    return this.state.conf?.generation ?? 0;
  }
  /** Members of the configuration (old and new while joint); the given safekeepers until one is learned. */
  get members(): NodeId[] {
    return proposerMembers(this.state);
  }
  /** Why the proposer is fenced, or null while it is not. */
  get fence(): ProposerFenced | null {
    return this.state.status === 'fenced' ? this.fenced() : null;
  }
  private fenced(): ProposerFenced {
    return new ProposerFenced(this.state.fencedReason ?? 'fenced', this.fenceCause);
  }
  /** Per-safekeeper transport counters, for metrics and status output. */
  peerStats(): Array<{ nodeId: NodeId; queued: number; failed: number; bytesSent: number; resendsDropped: number }> {
    return [...this.peers.values()].map((p) => ({
      nodeId: p.endpoint.nodeId,
      queued: p.queue.length,
      failed: p.requestsFailed,
      bytesSent: p.bytesSent,
      resendsDropped: p.resendsDropped,
    }));
  }

  waitElected(timeoutMs: number): Promise<void> {
    if (this.state.status === 'elected') return Promise.resolve();
    if (this.state.status === 'fenced') return Promise.reject(this.fenced());
    return withTimeout(new Promise<void>((resolve, reject) => this.electedWaiters.push({ resolve, reject })), timeoutMs, 'election');
  }

  /** Hand over whole mtrs `[beginLsn, beginLsn + data.length)`, contiguous with what came before. */
  append(beginLsn: bigint, data: Uint8Array): void {
    if (this.state.status === 'fenced') throw this.fenced();
    assert(this.state.status === 'elected', `append while ${this.state.status}`);
    this.apply(appendWal(this.state, beginLsn, data, Date.now()));
  }

  waitCommitted(lsn: bigint, timeoutMs: number): Promise<void> {
    if (this.state.commitLsn >= lsn) return Promise.resolve();
    if (this.state.status === 'fenced') return Promise.reject(this.fenced());
    return withTimeout(
      new Promise<void>((resolve, reject) => this.commitWaiters.push({ lsn, resolve, reject })),
      timeoutMs,
      `commit of LSN ${lsn} (committed ${this.state.commitLsn})`,
    );
  }

  /** Lowest flush LSN acknowledged in this term among the given members (0 for one not streaming yet). */
  minFlushLsn(members: readonly NodeId[]): bigint {
    let min: bigint | undefined;
    for (const id of members) {
      const p = this.state.peers.get(id);
      const f = p && p.phase === 'streaming' ? p.flushLsn : 0n;
      if (min === undefined || f < min) min = f;
    }
    return min ?? 0n;
  }

  /** Best effort: wait until every listed member has flushed `lsn` (a lagging one catching up), or the time runs out. */
  async waitAllFlushed(members: readonly NodeId[], lsn: bigint, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    // A fenced proposer hears no more acknowledgements: nothing to wait for.
    while (Date.now() < deadline && !this.stopped && this.state.status !== 'fenced') {
      if (this.minFlushLsn(members) >= lsn) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.minFlushLsn(members) >= lsn;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    const err = new Error('proposer stopped');
    for (const w of this.commitWaiters.splice(0)) w.reject(err);
    for (const w of this.electedWaiters.splice(0)) w.reject(err);
  }

  private apply(step: ProposerStep): void {
    this.state = step.state;
    for (const send of step.sends) {
      const peer = this.peers.get(send.to);
      if (peer) enqueue(peer, send.message);
    }
    for (const e of step.events) this.onEvent(e);
    for (const peer of this.peers.values()) this.flushPeer(peer);
  }

  private onEvent(e: ProposerEvent): void {
    this.opts.onEvent?.(e);
    if (e.kind === 'elected') {
      for (const w of this.electedWaiters.splice(0)) w.resolve();
    } else if (e.kind === 'committed') {
      for (let i = this.commitWaiters.length - 1; i >= 0; i--) {
        const w = this.commitWaiters[i]!;
        if (w.lsn <= e.commitLsn) {
          this.commitWaiters.splice(i, 1);
          w.resolve();
        }
      }
    } else {
      this.fenceCause = this.stepCause;
      const err = this.fenced();
      for (const w of this.commitWaiters.splice(0)) w.reject(err);
      for (const w of this.electedWaiters.splice(0)) w.reject(err);
    }
  }

  private flushPeer(peer: Peer): void {
    if (this.stopped || peer.inFlight || peer.queue.length === 0) return;
    const batch = peer.queue.splice(0);
    peer.inFlight = true;
    void this.exchange(peer, batch).finally(() => {
      peer.inFlight = false;
      this.flushPeer(peer);
    });
  }

  private async exchange(peer: Peer, batch: ProposerMessage[]): Promise<void> {
    // Only WAL is worth compressing; the other messages are a few dozen bytes.
    const zstd = this.opts.compression === 'zstd';
    const { body, headers: encoding } = encodeBody(encodeFrames(batch), zstd && batch.some((m) => m.type === 'AppendRequest'));
    const size = body.length;
    const { tenantId, timelineId } = this.opts;
    let replies: AcceptorMessage[];
    try {
      const res = await fetch(`${peer.endpoint.baseUrl}/v1/tenants/${tenantId}/timelines/${timelineId}/consensus`, {
        method: 'POST',
        headers: {
          'content-type': 'application/octet-stream',
          ...encoding,
          ...(zstd ? ACCEPT_ZSTD : {}),
          ...authHeaders(this.opts.token),
        },
        body,
        signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 10_000),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
      replies = decodeFrames(await consensusReplyBytes(res, REPLY_BYTES_MAX)) as AcceptorMessage[];
      peer.bytesSent += size;
    } catch {
      // A lost exchange is a dropped message: the proposer retransmits on its own schedule.
      peer.requestsFailed++;
      recover(peer);
      return;
    }
    // Before the replies are stepped: what they make the proposer resend must go out.
    recover(peer);
    if (this.stopped) return;
    for (const m of replies) {
      this.stepCause = announcesNewerConfiguration(m, this.generation) ? 'generation' : 'term';
      this.apply(stepProposer(this.state, peer.endpoint.nodeId, m, Date.now()));
      this.stepCause = 'term';
    }
  }
}

/** Largest reply accepted once decompressed: a few frames of at most FRAME_BYTES_MAX each. */
const REPLY_BYTES_MAX = 64 * 1024 * 1024;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
