/**
 * GetPage client of one timeline on a page server: the pipelined stream
 * (`getPages`, many batches in flight on one connection, replies in order;
 * see @strata/core/getpage's stream codec) and, for comparison
 * and for callers that want no long-lived connection, the plain HTTP batch
 * (`getPagesHttp`, one keep-alive connection, one batch at a time).
 *
 * Pages in the results are views into the received reply frame (no copy
 * per page); they stay valid, but writing into one writes into the frame:
 * copy a page before changing it.
 */
import { Agent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import {
  decodeGetPageResponse,
  decodeReplyFrame,
  encodeGetPageRequests,
  encodeRequestFrame,
  FrameSplitter,
  GETPAGE_ITEM_HEAD_BYTES,
  GETPAGE_STREAM_PROTOCOL,
  type GetPageItem,
  type GetPageRequest,
} from '@strata/core/getpage';
import { authHeaders, parseErrorReply } from './http.js';
import { PageserverClientError } from './pageserver-http.js';

export interface PageserverClientOptions {
  /** `http://host:port` of the page server, or `https://…` when it serves TLS. */
  readonly url: string;
  /** Certificates to trust for an `https` page server besides the system's (a self-signed one, say). */
  readonly ca?: string | Buffer | undefined;
  readonly tenantId: string;
  readonly timelineId: string;
  /** A JWT with `tenant` (for this tenant), `pageserverapi` or `admin` scope. */
  readonly token?: string | undefined;
  readonly connectTimeoutMs?: number | undefined;
}

export interface GetPagesOptions {
  /** Wait up to this long for the batch's highest LSN to be ingested (pages still beyond answer NOT_YET_AVAILABLE). */
  readonly waitMs?: number | undefined;
}

// Defined beside the page server's HTTP calls (node-free, for the console); exported here as before.
export { PageserverClientError };

interface Pending {
  readonly tag: number;
  readonly count: number;
  resolve(items: GetPageItem[]): void;
  reject(e: Error): void;
}

const TAG_MAX = 0xffff_ffff;
/** A reply frame can be no larger than this many pages (the page server's batch limit is lower). */
const REPLY_PAGES_MAX = 4096;

export class PageserverClient {
  private readonly pending: Pending[] = [];
  private nextTag = 1;
  private failure: PageserverClientError | undefined;
  private httpAgent: Agent | HttpsAgent | undefined;

  private constructor(
    private readonly opts: PageserverClientOptions,
    private readonly socket: Socket,
    /** Bytes per page of this timeline. */
    readonly pageSize: number,
    head: Buffer,
  ) {
    const splitter = new FrameSplitter(12 + REPLY_PAGES_MAX * (GETPAGE_ITEM_HEAD_BYTES + pageSize));
    const onData = (chunk: Buffer): void => {
      try {
        splitter.push(chunk, (frame) => this.onFrame(frame));
      } catch (e) {
        this.fail(new PageserverClientError('CORRUPT_FRAME', `GetPage stream: ${e instanceof Error ? e.message : String(e)}`));
      }
    };
    socket.setNoDelay(true);
    socket.on('data', onData);
    socket.on('error', (e) => this.fail(new PageserverClientError('CONNECTION_FAILED', `GetPage stream: ${e.message}`)));
    socket.on('close', () => this.fail(new PageserverClientError('CONNECTION_CLOSED', 'GetPage stream closed by the page server')));
    if (head.length > 0) onData(head);
  }

  /** Open the GetPage stream of one timeline. */
  static connect(opts: PageserverClientOptions): Promise<PageserverClient> {
    const url = new URL(`/v1/tenants/${opts.tenantId}/timelines/${opts.timelineId}/getpage/stream`, opts.url);
    return new Promise((resolve, reject) => {
      const req = requestFor(url, opts)(url, {
        method: 'GET',
        headers: { connection: 'Upgrade', upgrade: GETPAGE_STREAM_PROTOCOL, ...authHeaders(opts.token) },
        timeout: opts.connectTimeoutMs ?? 10_000,
      });
      req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
        const pageSize = Number(res.headers['x-strata-page-size']);
        if (!Number.isInteger(pageSize) || pageSize <= 0) {
          socket.destroy();
          reject(new PageserverClientError('PROTOCOL', 'GetPage stream opened without x-strata-page-size'));
          return;
        }
        resolve(new PageserverClient(opts, socket, pageSize, head));
      });
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => reject(errorFromReply(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), 'GetPage stream')));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${url.host} in time`)));
      req.on('error', (e) => reject(new PageserverClientError('CONNECTION_FAILED', `cannot open the GetPage stream at ${url.host}: ${e.message}`)));
      req.end();
    });
  }

  /** Batches sent and not answered yet. */
  get inFlight(): number {
    return this.pending.length;
  }

  /**
   * One batch over the stream. Calls may overlap: each is written at once
   * and answered in order, so keeping several in flight hides the round trip.
   */
  getPages(batch: readonly GetPageRequest[], opts: GetPagesOptions = {}): Promise<GetPageItem[]> {
    if (this.failure) return Promise.reject(this.failure);
    const tag = this.nextTag;
    this.nextTag = tag === TAG_MAX ? 1 : tag + 1;
    const frame = encodeRequestFrame(tag, opts.waitMs ?? 0, batch);
    return new Promise((resolve, reject) => {
      this.pending.push({ tag, count: batch.length, resolve, reject });
      this.socket.write(frame);
    });
  }

  /** One batch as `POST .../getpage` on a keep-alive HTTP connection (one batch at a time). */
  async getPagesHttp(batch: readonly GetPageRequest[], opts: GetPagesOptions = {}): Promise<GetPageItem[]> {
    this.httpAgent ??= new URL(this.opts.url).protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets: 1, ...(this.opts.ca ? { ca: this.opts.ca } : {}) }) : new Agent({ keepAlive: true, maxSockets: 1 });
    const o = this.opts;
    const url = new URL(`/v1/tenants/${o.tenantId}/timelines/${o.timelineId}/getpage${opts.waitMs ? `?waitMs=${opts.waitMs}` : ''}`, o.url);
    const body = encodeGetPageRequests(batch);
    const { status, headers, bytes } = await new Promise<{ status: number; headers: IncomingMessage['headers']; bytes: Buffer }>((resolve, reject) => {
      const req = requestFor(url, this.opts)(url, {
        method: 'POST',
        agent: this.httpAgent,
        headers: { 'content-type': 'application/octet-stream', 'content-length': body.length, ...authHeaders(o.token) },
      });
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', (e) => reject(new PageserverClientError('CONNECTION_FAILED', `GetPage over HTTP: ${e.message}`)));
      req.end(body);
    });
    if (status !== 200) throw errorFromReply(status, bytes.toString('utf8'), 'GetPage over HTTP');
    const pageSize = Number(headers['x-strata-page-size']);
    return decodeGetPageResponse(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), batch.length, pageSize);
  }

  close(): void {
    this.fail(new PageserverClientError('CLOSED', 'GetPage client closed'));
    this.socket.destroy();
    this.httpAgent?.destroy();
  }

  private onFrame(frame: Uint8Array): void {
    const p = this.pending.shift();
    if (!p) throw new Error('a GetPage reply nobody asked for');
    // Plain Uint8Array views (not Buffer) so callers get the same type from every path, still without a copy.
    const reply = decodeReplyFrame(new Uint8Array(frame.buffer, frame.byteOffset, frame.length), this.pageSize);
    if (reply.tag !== p.tag) throw new Error(`GetPage reply tagged ${reply.tag}, expected ${p.tag}`);
    if (reply.kind === 'error') p.reject(new PageserverClientError(reply.code, reply.message));
    else if (reply.items.length !== p.count) p.reject(new PageserverClientError('PROTOCOL', `GetPage reply with ${reply.items.length} items for ${p.count} requests`));
    else p.resolve(reply.items);
  }

  private fail(e: PageserverClientError): void {
    this.failure ??= e;
    for (let p = this.pending.shift(); p; p = this.pending.shift()) p.reject(this.failure);
  }
}

/** node's http or https request, with the extra CA for https. */
function requestFor(url: URL, opts: PageserverClientOptions): (url: URL, o: RequestOptions) => ReturnType<typeof httpRequest> {
  if (url.protocol !== 'https:') return httpRequest;
  return (u, o) => httpsRequest(u, { ...o, ...(opts.ca ? { ca: opts.ca } : {}) });
}

function errorFromReply(status: number, text: string, what: string): PageserverClientError {
  const e = parseErrorReply(text);
  return new PageserverClientError(e?.code ?? `HTTP_${status}`, `${what}: HTTP ${status} ${e ? `${e.code}: ${e.message}` : text.slice(0, 500)}`, status);
}
