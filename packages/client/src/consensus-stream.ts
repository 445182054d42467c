/**
 * The proposer's end of one safekeeper's consensus stream (the safekeeper's
 * data-path/stream-server.ts): an HTTP upgrade to CONSENSUS_STREAM_PROTOCOL
 * (TLS for an https safekeeper, the JWT presented once), then consensus
 * frames both ways. It knows nothing of the protocol: it connects, writes
 * frames, hands over every message it reads, and reconnects with backoff
 * when the connection fails, for as long as it is not closed.
 *
 * What the safekeeper sends is checked like anything else from the network:
 * a frame that is corrupt, oversized, not an acceptor's message or not for
 * this timeline ends the connection (and a new one is made).
 */
import { type ClientRequest, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { CorruptFrame } from '@strata/core';
import { type AcceptorMessage, CONSENSUS_STREAM_PROTOCOL, FrameReader, type Message } from '@strata/core/consensus';
import { authHeaders, parseErrorReply } from './http.js';

export interface ConsensusStreamOptions {
  /** `http://host:port` or `https://host:port` of the safekeeper. */
  readonly baseUrl: string;
  readonly tenantId: string;
  readonly timelineId: string;
  readonly token?: string | undefined;
  /** Certificates to trust for an https safekeeper besides the system's. */
  readonly ca?: string | Buffer | undefined;
  /** A connection attempt that has not been upgraded by then fails. */
  readonly connectTimeoutMs?: number | undefined;
  /** First wait after a failure; doubled per consecutive failure up to backoffMsMax, with jitter. */
  readonly backoffMsMin?: number | undefined;
  readonly backoffMsMax?: number | undefined;
  /**
   * An open connection on which frames were written but nothing was read for
   * this long is presumed dead (a partition does not close TCP) and is cut.
   */
  readonly silenceMsMax?: number | undefined;
  readonly onOpen: () => void;
  readonly onMessage: (m: AcceptorMessage) => void;
  /** The socket can take more frames again (after write() returned false). */
  readonly onDrain: () => void;
  /** The connection ended or an attempt failed; a new attempt follows after the backoff unless closed. */
  readonly onClose: (reason: string) => void;
}

export type ConsensusStreamState = 'connecting' | 'open' | 'waiting' | 'closed';

const ACCEPTOR_MESSAGES: ReadonlySet<Message['type']> = new Set([
  'GreetingResponse',
  'VoteResponse',
  'AppendResponse',
  'ReadWalResponse',
  'MembershipSwitchResponse',
  'TermBumpResponse',
  'Reject',
]);

export class ConsensusStream {
  private stateNow: ConsensusStreamState = 'waiting';
  private socket: Socket | null = null;
  /** The connection attempt under way. */
  private req: ClientRequest | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Failures since a connection last delivered a message. */
  private failuresInRow = 0;
  private lastReadMs = 0;
  private lastWriteMs = 0;
  /** Connections opened, attempts failed: for status and tests. */
  opens = 0;
  failures = 0;
  lastError: string | null = null;

  constructor(private readonly opts: ConsensusStreamOptions) {
    this.connect();
  }

  get state(): ConsensusStreamState {
    return this.stateNow;
  }

  /** Bytes written and not yet handed to the kernel. */
  get writableBytes(): number {
    return this.socket?.writableLength ?? 0;
  }

  /** Write one frame; false once the socket's buffer is past its mark (wait for onDrain). Only while open. */
  write(frame: Uint8Array): boolean {
    if (this.stateNow !== 'open' || this.socket === null) throw new Error(`consensus stream is ${this.stateNow}`);
    this.lastWriteMs = Date.now();
    return this.socket.write(frame);
  }

  cork(): void {
    if (this.stateNow === 'open') this.socket?.cork();
  }

  uncork(): void {
    if (this.stateNow === 'open') this.socket?.uncork();
  }

  /** Cut an open connection that wrote and heard nothing for silenceMsMax (call it from a timer). */
  checkLiveness(nowMs: number): void {
    const silenceMs = this.opts.silenceMsMax ?? 10_000;
    if (this.stateNow !== 'open' || this.lastWriteMs <= this.lastReadMs) return;
    if (nowMs - this.lastReadMs >= silenceMs) this.fail(`no answer for ${nowMs - this.lastReadMs} ms`);
  }

  /** Stop for good: frames already written are flushed, then the connection ends. */
  close(): void {
    if (this.stateNow === 'closed') return;
    this.stateNow = 'closed';
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // An attempt under way would hold the process up to the connect timeout.
    this.req?.destroy();
    this.req = null;
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.end();
      setTimeout(() => s.destroy(), 1000).unref();
    }
  }

  private connect(): void {
    if (this.stateNow === 'closed') return;
    this.stateNow = 'connecting';
    const o = this.opts;
    const url = new URL(`/v1/tenants/${o.tenantId}/timelines/${o.timelineId}/consensus/stream`, o.baseUrl);
    const options: RequestOptions = {
      method: 'GET',
      headers: { connection: 'Upgrade', upgrade: CONSENSUS_STREAM_PROTOCOL, ...authHeaders(o.token) },
      timeout: o.connectTimeoutMs ?? 5000,
    };
    const req = url.protocol === 'https:' ? httpsRequest(url, { ...options, ...(o.ca ? { ca: o.ca } : {}) }) : httpRequest(url, options);
    this.req = req;
    let settled = false;
    const failAttempt = (reason: string): void => {
      if (settled) return;
      settled = true;
      if (this.req === req) this.req = null;
      req.destroy();
      this.failed(reason);
    };
    req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      if (settled || this.stateNow === 'closed') {
        socket.destroy();
        return;
      }
      settled = true;
      if (this.req === req) this.req = null;
      if (res.headers.upgrade?.toLowerCase() !== CONSENSUS_STREAM_PROTOCOL) {
        socket.destroy();
        this.failed(`upgraded to ${res.headers.upgrade ?? 'nothing'}, not ${CONSENSUS_STREAM_PROTOCOL}`);
        return;
      }
      this.opened(socket, head);
    });
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        // An error reply is a few hundred bytes: more is not read.
        if (bytes < 64 * 1024) chunks.push(c);
        bytes += c.length;
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const e = parseErrorReply(text);
        failAttempt(`HTTP ${res.statusCode ?? 0}${e ? ` ${e.code}: ${e.message}` : ''}`);
      });
      res.on('error', (e) => failAttempt(e.message));
    });
    req.on('timeout', () => failAttempt(`no upgrade from ${url.host} in time`));
    req.on('error', (e) => failAttempt(`cannot connect to ${url.host}: ${e.message}`));
    req.end();
  }

  private opened(socket: Socket, head: Buffer): void {
    this.socket = socket;
    this.stateNow = 'open';
    this.opens++;
    this.lastReadMs = Date.now();
    this.lastWriteMs = this.lastReadMs;
    socket.setNoDelay(true);
    // The connect timeout stays on the socket after the upgrade: silence is checkLiveness's job now.
    socket.setTimeout(0);
    const reader = new FrameReader();
    const { tenantId, timelineId } = this.opts;
    const onData = (chunk: Buffer): void => {
      if (this.socket !== socket) return;
      this.lastReadMs = Date.now();
      try {
        reader.push(chunk, (m) => {
          if (!ACCEPTOR_MESSAGES.has(m.type)) throw new CorruptFrame(`${m.type} is not an acceptor's message`);
          if (m.tenantId !== tenantId || m.timelineId !== timelineId) throw new CorruptFrame(`message for ${m.tenantId}/${m.timelineId} on the stream of ${tenantId}/${timelineId}`);
          this.failuresInRow = 0;
          this.opts.onMessage(m as AcceptorMessage);
        });
      } catch (e) {
        if (!(e instanceof CorruptFrame)) throw e;
        this.fail(`corrupt frame from the safekeeper: ${e.message}`);
      }
    };
    socket.on('data', onData);
    socket.on('drain', () => {
      if (this.socket === socket) this.opts.onDrain();
    });
    socket.on('error', (e) => {
      if (this.socket === socket) this.fail(e.message);
    });
    socket.on('close', () => {
      if (this.socket === socket) this.fail('closed by the safekeeper');
    });
    this.opts.onOpen();
    if (head.length > 0) onData(head);
  }

  /** The open connection is lost. */
  private fail(reason: string): void {
    const s = this.socket;
    this.socket = null;
    s?.destroy();
    this.failed(reason);
  }

  /** An attempt or a connection failed: report, then try again after the backoff. */
  private failed(reason: string): void {
    if (this.stateNow === 'closed') return;
    this.stateNow = 'waiting';
    this.failures++;
    this.failuresInRow++;
    this.lastError = reason;
    this.opts.onClose(reason);
    const min = this.opts.backoffMsMin ?? 20;
    const max = this.opts.backoffMsMax ?? 2000;
    const base = Math.min(max, min * 2 ** Math.min(this.failuresInRow - 1, 16));
    // Jitter, so that proposers cut off together do not all come back in the same millisecond.
    const delayMs = base / 2 + Math.random() * (base / 2);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delayMs);
  }
}
