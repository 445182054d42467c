/**
 * The proposer's I/O shell: drives the pure proposer of
 * `@strata/core/consensus` with a clock and one consensus stream per
 * safekeeper (consensus-stream.ts; neon's walproposer connections). Frames
 * are written as the proposer produces them, without waiting for replies:
 * appends are pipelined, and the acknowledgements (flush and commit LSNs)
 * come back on the same connection as they are made durable, each stepped
 * at once, so a commit is noticed when its acknowledgement arrives, never on
 * a timer. The timer only drives the proposer's clock (heartbeats,
 * retransmission, re-greeting a silent acceptor) and the connections'
 * liveness checks.
 *
 * Back-pressure: the proposer core sends an acceptor at most
 * `inflightBytesMax` of WAL beyond what it acknowledged (the window of
 * unacknowledged bytes); the shell writes to a socket only while its buffer
 * holds less than SOCKET_BYTES_MAX and queues the rest (bounded too), and a
 * slow safekeeper's TCP window pushes back on that. The compute sees the
 * back-pressure as commits that wait.
 *
 * A stream delivers in order or fails as a whole. So the proposer's resend
 * of WAL that the live connection already carries (it resends after two
 * silent heartbeats, not knowing the WAL is still on its way behind a slow
 * fsync) is dropped; the record of what a connection carries is forgotten
 * when it fails, when the acceptor rejects anything, and when a message that
 * may move the acceptor's log (a greeting, a vote request, ProposerElected)
 * goes out, after which resends go through again. Dropping is always safe,
 * as a lost message is: the proposer retransmits on its own schedule. A
 * retransmission that does arrive twice is harmless too: the acceptor skips
 * what it holds.
 */
import { assert, StrataError } from '@strata/core';
import {
  appendWal,
  encodeAppendRequestParts,
  encodeCompressedFrame,
  encodeMessage,
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
  degradedMembers,
  type MemberPresence,
} from '@strata/core/consensus';
import { zstdCompress } from '@strata/zstd';
import { ConsensusStream, type ConsensusStreamState } from './consensus-stream.js';
import { absentReject, MemberJoiner } from './member-join.js';

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
  /** Certificates to trust for https safekeepers besides the system's. */
  readonly ca?: string | Buffer;
  /** Period of the proposer's clock (heartbeats, retransmission); default heartbeatMs / 2. Commits never wait for it. */
  readonly tickMs?: number;
  readonly heartbeatMs?: number;
  readonly reconnectMs?: number;
  readonly appendBytesMax?: number;
  /** The window: WAL bytes sent to one safekeeper beyond its acknowledged flush LSN. */
  readonly inflightBytesMax?: number;
  /** Connect timeout of a stream, and the silence after which an open one is presumed dead. */
  readonly requestTimeoutMs?: number;
  /** First and longest wait between attempts to connect to a safekeeper. */
  readonly backoffMsMin?: number;
  readonly backoffMsMax?: number;
  /**
   * zstd for frames that carry WAL (each AppendRequest compressed on its own;
   * sent plain when that does not make it smaller). Off by default: on
   * loopback the compression costs more than the bytes it saves.
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

/** One encoded frame: its parts are written back to back (a WAL frame's data is not copied into it). */
interface Frame {
  readonly parts: readonly Uint8Array[];
  readonly bytes: number;
}

/** Bytes a socket may hold unsent before frames wait in the peer's queue. */
const SOCKET_BYTES_MAX = 4 << 20;

interface Peer {
  readonly endpoint: SafekeeperEndpoint;
  readonly conn: ConsensusStream;
  /** Frames waiting for the connection to open or for its socket to drain. */
  queue: Frame[];
  queuedBytes: number;
  /** WAL the live connection and the queue carry, as far as it is contiguous. */
  cover: WalCover | null;
  bytesSent: number;
  /** Resends dropped because the connection or the queue already carried that WAL. */
  resendsDropped: number;
  /** Frames dropped because the queue was full (lost messages: the proposer retransmits). */
  framesDropped: number;
}

type Waiter = { lsn: bigint; resolve: () => void; reject: (e: Error) => void };
type FlushWaiter = { members: readonly NodeId[]; lsn: bigint; resolve: (ok: boolean) => void };

export class ProposerDriver {
  private state: ProposerState;
  /** The peers' connections are corked until the end of this event-loop turn (apply). */
  private corked = false;
  private readonly peers = new Map<NodeId, Peer>();
  private readonly timer: NodeJS.Timeout;
  private readonly commitWaiters: Waiter[] = [];
  private electedWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private flushWaiters: FlushWaiter[] = [];
  private stopped = false;
  private readonly opts: ProposerDriverOptions;
  private readonly queueBytesMax: number;
  /** Set when the proposer is fenced: what fenced it. */
  private fenceCause: FenceCause = 'term';
  /** The cause to record if the message being stepped fences the proposer. */
  private stepCause: FenceCause = 'term';
  /** Brings members that missed the timeline into it (member-join.ts). */
  private readonly joiner: MemberJoiner;

  constructor(opts: ProposerDriverOptions) {
    this.opts = opts;
    this.joiner = new MemberJoiner({ tenantId: opts.tenantId, timelineId: opts.timelineId, endpoints: opts.safekeepers, token: opts.token });
    const heartbeatMs = opts.heartbeatMs ?? 250;
    const appendBytesMax = opts.appendBytesMax ?? 1 << 20;
    const inflightBytesMax = opts.inflightBytesMax ?? 16 << 20;
    // The window, a few batches beyond it (resends, heartbeats), and never less than one largest frame.
    this.queueBytesMax = inflightBytesMax + 4 * appendBytesMax + (1 << 20);
    const step = newProposer(
      {
        proposerId: opts.proposerId,
        tenantId: opts.tenantId,
        timelineId: opts.timelineId,
        acceptors: opts.safekeepers.map((s) => s.nodeId),
        conf: null,
        heartbeatMs,
        reconnectMs: opts.reconnectMs ?? 2000,
        appendBytesMax,
        inflightBytesMax,
      },
      Date.now(),
    );
    this.state = step.state;
    for (const e of opts.safekeepers) this.peers.set(e.nodeId, this.newPeer(e));
    this.timer = setInterval(() => this.onTick(), opts.tickMs ?? Math.max(10, Math.floor(heartbeatMs / 2)));
    this.apply(step);
  }

  private newPeer(endpoint: SafekeeperEndpoint): Peer {
    const o = this.opts;
    // The connection's callbacks run later (never inside its constructor), once the peer exists.
    const ref: { peer?: Peer } = {};
    const conn = new ConsensusStream({
      baseUrl: endpoint.baseUrl,
      tenantId: o.tenantId,
      timelineId: o.timelineId,
      token: o.token,
      ca: o.ca,
      connectTimeoutMs: o.requestTimeoutMs ?? 10_000,
      silenceMsMax: o.requestTimeoutMs ?? 10_000,
      backoffMsMin: o.backoffMsMin,
      backoffMsMax: o.backoffMsMax,
      onOpen: () => this.flushQueue(ref.peer!),
      onDrain: () => this.flushQueue(ref.peer!),
      onMessage: (m) => this.onMessage(ref.peer!, m),
      onClose: (reason) => {
        // What the dead connection carried may never have arrived; what waited for it goes too.
        const peer = ref.peer!;
        peer.cover = null;
        peer.queue = [];
        peer.queuedBytes = 0;
        // Refused for want of the timeline: the proposer decides whether to ask it to join (member-join.ts).
        const absent = absentReject(o.tenantId, o.timelineId, endpoint.nodeId, reason);
        if (absent !== null) this.onMessage(peer, absent);
      },
    });
    ref.peer = { endpoint, conn, queue: [], queuedBytes: 0, cover: null, bytesSent: 0, resendsDropped: 0, framesDropped: 0 };
    return ref.peer;
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
  /** Members whose safekeeper lacks the timeline (being asked to join) or lost it (until replaced). */
  get degradedMembers(): { nodeId: NodeId; presence: MemberPresence }[] {
    return degradedMembers(this.state);
  }
  /** Why the proposer is fenced, or null while it is not. */
  get fence(): ProposerFenced | null {
    return this.state.status === 'fenced' ? this.fenced() : null;
  }
  private fenced(): ProposerFenced {
    return new ProposerFenced(this.state.fencedReason ?? 'fenced', this.fenceCause);
  }
  /** Per-safekeeper transport counters, for metrics and status output. */
  peerStats(): PeerStats[] {
    return [...this.peers.values()].map((p) => {
      const ps = this.state.peers.get(p.endpoint.nodeId);
      return {
        nodeId: p.endpoint.nodeId,
        connection: p.conn.state,
        connects: p.conn.opens,
        failed: p.conn.failures,
        lastError: p.conn.lastError,
        queued: p.queue.length,
        queuedBytes: p.queuedBytes,
        unackedBytes: ps && ps.phase === 'streaming' && ps.nextLsn > ps.flushLsn ? Number(ps.nextLsn - ps.flushLsn) : 0,
        bytesSent: p.bytesSent,
        resendsDropped: p.resendsDropped,
        framesDropped: p.framesDropped,
      };
    });
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
  waitAllFlushed(members: readonly NodeId[], lsn: bigint, timeoutMs: number): Promise<boolean> {
    // A fenced proposer hears no more acknowledgements: nothing to wait for.
    if (this.minFlushLsn(members) >= lsn || this.stopped || this.state.status === 'fenced') return Promise.resolve(this.minFlushLsn(members) >= lsn);
    return new Promise<boolean>((resolve) => {
      const w: FlushWaiter = {
        members,
        lsn,
        resolve: (ok) => {
          clearTimeout(t);
          this.flushWaiters = this.flushWaiters.filter((x) => x !== w);
          resolve(ok);
        },
      };
      const t = setTimeout(() => w.resolve(this.minFlushLsn(members) >= lsn), timeoutMs);
      this.flushWaiters.push(w);
    });
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.joiner.stop();
    for (const p of this.peers.values()) p.conn.close();
    const err = new Error('proposer stopped');
    for (const w of this.commitWaiters.splice(0)) w.reject(err);
    for (const w of this.electedWaiters.splice(0)) w.reject(err);
    for (const w of [...this.flushWaiters]) w.resolve(this.minFlushLsn(w.members) >= w.lsn);
  }

  private onTick(): void {
    const now = Date.now();
    for (const p of this.peers.values()) p.conn.checkLiveness(now);
    this.apply(tickProposer(this.state, now));
  }

  private onMessage(peer: Peer, m: AcceptorMessage): void {
    if (this.stopped) return;
    // The acceptor refused something: what the connection carries may not all be taken.
    if (m.type === 'Reject') peer.cover = null;
    this.stepCause = announcesNewerConfiguration(m, this.generation) ? 'generation' : 'term';
    this.apply(stepProposer(this.state, peer.endpoint.nodeId, m, Date.now()));
    this.stepCause = 'term';
    if (m.type === 'AppendResponse' && this.flushWaiters.length > 0) {
      for (const w of [...this.flushWaiters]) if (this.minFlushLsn(w.members) >= w.lsn) w.resolve(true);
    }
    if (this.state.status === 'fenced') for (const w of [...this.flushWaiters]) w.resolve(false);
  }

  private apply(step: ProposerStep): void {
    this.state = step.state;
    if (step.sends.length > 0 && !this.stopped) {
      // One write per peer for everything the steps of one event-loop turn send. A FUSE compute appends at every
      // log write MariaDB makes; a write per append per peer (writev on uncork) was a third of its CPU in a bulk load.
      if (!this.corked) {
        this.corked = true;
        for (const p of this.peers.values()) p.conn.cork();
        setImmediate(() => this.uncorkAll());
      }
      for (const send of step.sends) {
        const peer = this.peers.get(send.to);
        if (peer) this.send(peer, send.message);
      }
    }
    for (const e of step.events) this.onEvent(e);
  }

  /** The end of the turn: what its steps wrote goes out (a connection opened or replaced since was not corked; uncork is then a no-op). */
  private uncorkAll(): void {
    this.corked = false;
    for (const p of this.peers.values()) p.conn.uncork();
  }

  private onEvent(e: ProposerEvent): void {
    this.opts.onEvent?.(e);
    this.joiner.onEvent(e);
    if (e.kind === 'memberMissing' || e.kind === 'memberLost' || e.kind === 'memberPresent') return;
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

  /** Write `m` to the peer's connection, or queue it; drop a resend of WAL the connection already carries. */
  private send(peer: Peer, m: ProposerMessage): void {
    const wal = m.type === 'AppendRequest' && m.data.length > 0;
    const c = peer.cover;
    const continues = wal && c !== null && c.term === m.term && c.generation === m.generation && m.beginLsn >= c.beginLsn && m.beginLsn <= c.endLsn;
    if (continues && m.endLsn <= c.endLsn) {
      peer.resendsDropped++;
      return;
    }
    const frame = encodeFrame(m, this.opts.compression === 'zstd');
    if (!this.writeOrQueue(peer, frame)) {
      peer.framesDropped++;
      return;
    }
    if (wal) {
      if (continues) c.endLsn = m.endLsn;
      else peer.cover = { term: m.term, generation: m.generation, beginLsn: m.beginLsn, endLsn: m.endLsn };
    } else if (m.type === 'Greeting' || m.type === 'VoteRequest' || m.type === 'ProposerElected') {
      // The acceptor's log may move (a truncation, a new history): resends must go through again.
      peer.cover = null;
    }
  }

  /** False when the frame had to be dropped (the queue is full). */
  private writeOrQueue(peer: Peer, frame: Frame): boolean {
    const conn = peer.conn;
    if (conn.state === 'open' && peer.queue.length === 0 && conn.writableBytes < SOCKET_BYTES_MAX) {
      for (const part of frame.parts) conn.write(part);
      peer.bytesSent += frame.bytes;
      return true;
    }
    if (peer.queuedBytes + frame.bytes > this.queueBytesMax) return false;
    peer.queue.push(frame);
    peer.queuedBytes += frame.bytes;
    return true;
  }

  /** The connection opened or drained: write what waited, while the socket takes it. */
  private flushQueue(peer: Peer): void {
    const conn = peer.conn;
    if (this.stopped || conn.state !== 'open' || peer.queue.length === 0) return;
    conn.cork();
    let i = 0;
    for (; i < peer.queue.length && conn.writableBytes < SOCKET_BYTES_MAX; i++) {
      const f = peer.queue[i]!;
      for (const part of f.parts) conn.write(part);
      peer.bytesSent += f.bytes;
      peer.queuedBytes -= f.bytes;
    }
    peer.queue = i === peer.queue.length ? [] : peer.queue.slice(i);
    conn.uncork();
    assert(peer.queue.length > 0 || peer.queuedBytes === 0, `queue accounting: ${peer.queuedBytes} bytes in no frames`);
  }
}

export interface PeerStats {
  readonly nodeId: NodeId;
  readonly connection: ConsensusStreamState;
  /** Connections opened so far (1 + reconnections). */
  readonly connects: number;
  /** Connection attempts or connections that failed. */
  readonly failed: number;
  readonly lastError: string | null;
  readonly queued: number;
  readonly queuedBytes: number;
  /** WAL sent beyond the acknowledged flush LSN (bounded by inflightBytesMax). */
  readonly unackedBytes: number;
  readonly bytesSent: number;
  readonly resendsDropped: number;
  readonly framesDropped: number;
}

function encodeFrame(m: ProposerMessage, zstd: boolean): Frame {
  if (m.type === 'AppendRequest' && m.data.length > 0) {
    if (zstd) {
      const packed = encodeCompressedFrame(encodeMessage(m), zstdCompress);
      return { parts: [packed], bytes: packed.length };
    }
    const [head, data] = encodeAppendRequestParts(m);
    return { parts: [head, data], bytes: head.length + data.length };
  }
  const f = encodeMessage(m);
  return { parts: [f], bytes: f.length };
}

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
