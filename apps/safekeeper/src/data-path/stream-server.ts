/**
 * The proposer ↔ safekeeper stream (neon's walproposer connection to
 * `receive_wal.rs`): an HTTP upgrade on the safekeeper's own port (so TLS and
 * the port are the listener's), the JWT checked once, at connect, then
 * consensus frames both ways for as long as the proposer lives.
 *
 * The proposer pipelines: it writes appends without waiting for replies.
 * Frames are stepped in the order they arrive, in batches (what one read of
 * the socket brought, or what queued while BATCHES_IN_FLIGHT_MAX batches were
 * waiting): the acceptor host writes each batch's WAL at once and answers it
 * once durable, and writes that arrive during an fdatasync share the next one
 * (group commit). Replies go out in batch order, each only after the effects
 * it depends on are durable. Of a batch's run of AppendResponses only the
 * last goes out: the proposer only needs the highest flush LSN, and each
 * reply is sent after the whole batch is durable anyway.
 *
 * Bounds: a frame is at most FRAME_BYTES_MAX (decompressed, for a zstd one); past STREAM_HELD_BYTES_MAX
 * received and not yet answered, or while the socket's write buffer holds more
 * than REPLY_BYTES_BUFFERED_MAX, the socket is not read (TCP pushes back on
 * the proposer). A corrupt frame, a message that is not for an acceptor or
 * not for this stream's timeline, or a failed batch closes the connection:
 * the proposer reconnects and retransmits what was not acknowledged.
 *
 * Who may do what on a stream: the token's scope, read once at connect. A
 * compute's `tenant` token is a proposer (acceptor.ts `Sender`): it may
 * greet, vote, be elected and append, never switch membership or bump a
 * term, and its Greeting never changes the configuration. An `admin` or
 * `safekeeperdata` token may do everything. Appends are bound to the
 * connection that was elected (acceptor-host.ts `StreamSession`), and
 * whatever the acceptor refuses as hostile (garbage redo, a resend that
 * differs, a forged configuration) is logged and counted in
 * `safekeeper_consensus_refused_total`.
 */
import { once } from 'node:events';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { AssertionError, CorruptFrame } from '@strata/core';
import { type AcceptorInput, type AcceptorMessage, CONSENSUS_STREAM_PROTOCOL, encodeMessage, FRAME_BYTES_MAX, FrameReader, type Message, type Sender } from '@strata/core/consensus';
import { zstdDecompress } from '@strata/zstd';
import { authorize, Forbidden, type Logger, type TokenVerifier, Unauthenticated } from '@strata/service-kit';
import { POLICY } from '../auth.js';
import { TimelineLost } from '../errors.js';
import type { ConfSync } from '../membership/conf-sync.js';
import type { MembershipLedger } from '../membership/ledger.js';
import type { TimelineRegistry } from '../storage/timelines.js';
import { type Refusal, StreamSession } from './acceptor-host.js';
import type { AcceptorHosts } from './hosts.js';

const STREAM_PATH = /^\/v1\/tenants\/([0-9a-f]{32})\/timelines\/([0-9a-f]{32})\/consensus\/stream(?:\?.*)?$/;
/** Bytes received and not yet answered before the socket stops being read: a few large appends. */
export const STREAM_HELD_BYTES_MAX = 32 << 20;
/** Batches handed to the acceptor host and waiting for durability, per stream. */
const BATCHES_IN_FLIGHT_MAX = 4;
/** Reply bytes the socket may hold unsent before the next batch waits (ReadWalResponses can be large). */
const REPLY_BYTES_BUFFERED_MAX = 8 << 20;
const ACCEPTOR_INPUTS: ReadonlySet<Message['type']> = new Set([
  'Greeting',
  'VoteRequest',
  'ProposerElected',
  'AppendRequest',
  'ReadWalRequest',
  'MembershipSwitchRequest',
  'TermBumpRequest',
]);

export interface ConsensusStreamDeps {
  readonly timelines: TimelineRegistry;
  readonly hosts: AcceptorHosts;
  readonly verifier: TokenVerifier | null;
  readonly log: Logger;
  /** The join rule's ledger: a lost timeline is refused, any other is recorded before its first vote here. */
  readonly ledger?: MembershipLedger | undefined;
  /** Checks a newer configuration a compute's Greeting named with the peers (absent: without --peers). */
  readonly confSync?: ConfSync | undefined;
  /** An assertion failure (a bug): main.ts exits. */
  readonly onBug?: ((e: Error) => void) | undefined;
}

export interface ConsensusStreams {
  /** Streams open now. */
  readonly open: number;
  /**
   * Stop taking streams, let each finish the batch it is making durable (its
   * replies go out), then end every connection: an upgraded socket would
   * otherwise keep the listener's drain waiting for ever.
   */
  close(): Promise<void>;
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' };

function refuse(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ code, message, requestId: '' });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function errorCode(e: unknown): string {
  const code = e instanceof Error ? (e as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'INTERNAL';
}

/** Serve consensus streams on `server`'s upgrade requests for CONSENSUS_STREAM_PROTOCOL (others are left to other listeners). */
export function attachConsensusStream(server: EventEmitter, deps: ConsensusStreamDeps): ConsensusStreams {
  const streams = new Set<Stream>();
  let closing = false;

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (req.headers.upgrade?.toLowerCase() !== CONSENSUS_STREAM_PROTOCOL) {
      // Nobody else takes upgrades here: say so rather than leave the socket hanging.
      if (server.listenerCount('upgrade') === 1) refuse(socket, 400, 'BAD_REQUEST', `cannot upgrade to ${req.headers.upgrade ?? 'nothing'}; use ${CONSENSUS_STREAM_PROTOCOL}`);
      return;
    }
    socket.on('error', () => socket.destroy());
    void (async () => {
      if (closing) return refuse(socket, 503, 'SHUTTING_DOWN', 'the safekeeper is shutting down');
      const m = STREAM_PATH.exec(req.url ?? '');
      if (req.method !== 'GET' || !m) return refuse(socket, 404, 'ROUTE_NOT_FOUND', `no consensus stream at ${req.method} ${req.url}`);
      const [, tenantId, timelineId] = m as unknown as [string, string, string];
      // Without auth everyone is an operator, as on every other route.
      let sender: Sender = 'operator';
      try {
        if (deps.verifier) {
          const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
          if (!bearer) throw new Unauthenticated('missing or malformed Authorization header');
          const claims = await deps.verifier.verify(bearer[1]!);
          authorize(claims, POLICY.tenantData, tenantId);
          sender = (POLICY.operator as readonly string[]).includes(claims.scope) ? 'operator' : 'proposer';
        }
        if (deps.ledger?.has(tenantId, timelineId) === true && !deps.timelines.all().some((t) => t.tenantId === tenantId && t.timelineId === timelineId)) {
          throw new TimelineLost(tenantId, timelineId);
        }
        deps.timelines.get(tenantId, timelineId);
        await deps.ledger?.record(tenantId, timelineId);
      } catch (e) {
        const status = e instanceof Unauthenticated ? 401 : e instanceof Forbidden ? 403 : e instanceof TimelineLost ? 410 : 404;
        return refuse(socket, status, errorCode(e), e instanceof Error ? e.message : String(e));
      }
      if (closing || socket.destroyed) return socket.destroy();
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${CONSENSUS_STREAM_PROTOCOL}\r\nconnection: Upgrade\r\n\r\n`);
      const s = new Stream(socket, tenantId, timelineId, deps, new StreamSession(sender));
      streams.add(s);
      socket.once('close', () => streams.delete(s));
      s.start(head);
    })().catch((e: unknown) => {
      deps.log.error('consensus stream upgrade failed', { error: e });
      socket.destroy();
    });
  };

  server.on('upgrade', onUpgrade);
  return {
    get open() {
      return streams.size;
    },
    async close() {
      closing = true;
      server.off('upgrade', onUpgrade);
      await Promise.all([...streams].map((s) => s.close()));
      streams.clear();
    },
  };
}

/** One proposer's connection. */
class Stream {
  // The proposer may send WAL zstd-compressed (its `compression` option); replies go plain.
  private readonly reader = new FrameReader(FRAME_BYTES_MAX, zstdDecompress);
  /** Received, not yet handed to the acceptor host. */
  private queue: AcceptorInput[] = [];
  private queuedBytes = 0;
  /** Handed to the host and not yet answered: batches, and their bytes. */
  private inFlight = 0;
  private inFlightBytes = 0;
  /** The replies of each batch in flight are written after those of the batches before it. */
  private replies: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly socket: Duplex,
    private readonly tenantId: string,
    private readonly timelineId: string,
    private readonly deps: ConsensusStreamDeps,
    private readonly session: StreamSession,
  ) {}

  start(head: Buffer): void {
    (this.socket as Duplex & { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.once('end', () => {
      try {
        this.reader.end();
      } catch (e) {
        this.drop('connection closed inside a frame', e);
      }
      // The proposer half-closed: answer what it sent, then close our side.
      void this.idle().then(() => this.socket.end());
    });
    this.socket.once('close', () => {
      this.closed = true;
      this.session.live = false;
      this.queue = [];
      this.queuedBytes = 0;
    });
    if (head.length > 0) this.onData(head);
  }

  /** Stop reading; resolves when the batches in flight have answered, and the socket is ended. */
  async close(): Promise<void> {
    this.socket.pause();
    this.queue = [];
    this.queuedBytes = 0;
    await this.idle();
    this.closed = true;
    // Once what was written is flushed, nothing more is read: cut rather than wait for the proposer's end.
    this.socket.end(() => this.socket.destroy());
  }

  /** Every batch handed over has answered (or the stream failed). */
  private async idle(): Promise<void> {
    for (let p = this.replies; ; p = this.replies) {
      await p;
      if (p === this.replies && (this.queue.length === 0 || this.closed)) return;
    }
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.reader.push(chunk, (m, bytes) => {
        if (!ACCEPTOR_INPUTS.has(m.type)) throw new CorruptFrame(`${m.type} is not a message for an acceptor`);
        if (m.tenantId !== this.tenantId || m.timelineId !== this.timelineId) {
          throw new CorruptFrame(`message for ${m.tenantId}/${m.timelineId} on the stream of ${this.tenantId}/${this.timelineId}`);
        }
        this.queue.push(m as AcceptorInput);
        this.queuedBytes += bytes;
      });
    } catch (e) {
      if (!(e instanceof CorruptFrame)) throw e;
      this.drop('corrupt frame', e);
      return;
    }
    if (this.queuedBytes + this.inFlightBytes >= STREAM_HELD_BYTES_MAX) this.socket.pause();
    this.dispatch();
  }

  /**
   * Hand what was received to the acceptor host as one batch, unless
   * BATCHES_IN_FLIGHT_MAX are already waiting for durability: the host steps
   * and writes a batch at once and waits for the fdatasync outside its step
   * queue, so a batch handed over during an fdatasync shares the next one.
   */
  private dispatch(): void {
    if (this.closed || this.queue.length === 0 || this.inFlight >= BATCHES_IN_FLIGHT_MAX) return;
    const batch = this.queue;
    const bytes = this.queuedBytes;
    this.queue = [];
    this.queuedBytes = 0;
    this.inFlight++;
    this.inFlightBytes += bytes;
    let answered: Promise<AcceptorMessage[]>;
    try {
      // Looked up per batch: a timeline deleted (or re-created) under an open stream is not written to.
      const timeline = this.deps.timelines.get(this.tenantId, this.timelineId);
      answered = this.deps.hosts.of(timeline).handle(batch, {
        session: this.session,
        onRefused: (r) => this.refused(r),
        onNewerConfiguration: (generation) => this.deps.confSync?.hint(timeline, generation),
      });
    } catch (e) {
      answered = Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    // Not left unhandled while an earlier batch's replies are still being written.
    answered.catch(() => undefined);
    this.replies = this.replies
      .then(async () => {
        let replies: AcceptorMessage[];
        try {
          replies = await answered;
        } catch (e) {
          if (e instanceof AssertionError) this.deps.onBug?.(e);
          this.drop('batch failed', e);
          return;
        }
        await this.write(replies);
      })
      .finally(() => {
        this.inFlight--;
        this.inFlightBytes -= bytes;
        if (this.socket.isPaused() && this.queuedBytes + this.inFlightBytes < STREAM_HELD_BYTES_MAX / 2 && !this.closed) this.socket.resume();
        this.dispatch();
      });
  }

  private async write(replies: readonly AcceptorMessage[]): Promise<void> {
    if (this.closed) return;
    this.socket.cork();
    let ok = true;
    for (let i = 0; i < replies.length; i++) {
      const r = replies[i]!;
      const next = replies[i + 1];
      // Only the last of a run of acknowledgements: it carries the highest flush and commit LSNs.
      if (r.type === 'AppendResponse' && next?.type === 'AppendResponse' && next.term === r.term && next.generation === r.generation) continue;
      ok = this.socket.write(encodeMessage(r));
    }
    this.socket.uncork();
    if (!ok && this.socket.writableLength > REPLY_BYTES_BUFFERED_MAX && !this.closed) await once(this.socket, 'drain');
  }

  /** A message the acceptor refused as invalid or out of place: nothing was stored; say so where operators look. */
  private refused(r: Refusal): void {
    const labels = { tenant_id: this.tenantId, timeline_id: this.timelineId, reason: r.reason };
    this.deps.timelines.metrics.consensusRefused.inc(labels);
    this.deps.log.warn(`consensus stream: ${r.message.type} refused (${r.reason})`, {
      tenantId: this.tenantId,
      timelineId: this.timelineId,
      sender: this.session.sender,
      reason: r.reason,
      detail: r.detail,
    });
  }

  /** The stream cannot go on: log why and cut the connection; the proposer reconnects. */
  private drop(why: string, e: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
    const known = errorCode(e) !== 'INTERNAL';
    const fields = { tenantId: this.tenantId, timelineId: this.timelineId, error: e };
    if (known) this.deps.log.warn(`consensus stream closed: ${why}`, fields);
    else this.deps.log.error(`consensus stream closed: ${why}`, fields);
    this.socket.destroy();
  }
}
