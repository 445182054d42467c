/**
 * The server side of the pipelined GetPage stream (getpage-stream-codec.ts):
 * an HTTP upgrade on the page server's own port, authenticated and
 * authorized like `POST .../getpage`, then frames in, frames out, in order.
 *
 * Frames are answered one at a time; while one waits (for an LSN, for a
 * download) the next ones queue, and past FRAMES_QUEUED_MAX queued frames,
 * or while the socket's write buffer is full, the socket stops being read:
 * a fast client cannot make the server buffer without bound.
 */
import { once } from 'node:events';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { AssertionError, CorruptFrame } from '@strata/core';
import { authorize, type Claims, Forbidden, type Logger, type TokenVerifier, Unauthenticated } from '@strata/service-kit';
import type { PageserverMetrics } from '../metrics.js';
import { POLICY } from '../schemas.js';
import type { PageCache } from '../storage/page-cache.js';
import type { TenantManager } from '../tenant-manager.js';
import { GetPageService } from './getpage-service.js';
import { decodeRequestFrame, encodeErrorFrame, FRAME_HEAD_BYTES, FrameSplitter, GETPAGE_REQUEST_BYTES, GETPAGE_STREAM_PROTOCOL, writeReplyFrameHeadOfLength } from '@strata/core/getpage';

const STREAM_PATH = /^\/v1\/tenants\/([0-9a-f]{32})\/timelines\/([0-9a-f]{32})\/getpage\/stream(?:\?.*)?$/;
/** Frames read but not yet answered before the socket stops being read. */
const FRAMES_QUEUED_MAX = 64;
/**
 * Reply bytes the socket may hold unsent before the next frame waits: a few
 * batches, so the next answer is computed while the last is still being sent
 * (a write past node's 16 KiB mark would otherwise stall every batch).
 */
const REPLY_BYTES_BUFFERED_MAX = 8 << 20;

export interface GetPageStreamDeps {
  readonly tenants: TenantManager;
  readonly metrics: PageserverMetrics;
  readonly log: Logger;
  readonly verifier: TokenVerifier | null;
  readonly pageCache?: PageCache | undefined;
  readonly batchMax: number;
  readonly waitMsMax: number;
  /** An assertion failure (a bug): main.ts exits. */
  readonly onBug?: ((e: Error) => void) | undefined;
}

export interface GetPageStreams {
  /** Streams open now. */
  readonly open: number;
  /** End every stream (shutdown: an upgraded socket would keep server.close() waiting). */
  closeAll(): void;
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' };

function reject(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ code, message });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function errorCode(e: unknown): string {
  const code = e instanceof Error ? (e as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'INTERNAL';
}

/** Serve GetPage streams on `server`'s upgrade requests for GETPAGE_STREAM_PROTOCOL (others are left to other listeners). */
/** `server`: the node http(s) server the app listens with (its 'upgrade' events). */
export function attachGetPageStream(server: EventEmitter, deps: GetPageStreamDeps): GetPageStreams {
  const service = new GetPageService({ tenants: deps.tenants, metrics: deps.metrics, log: deps.log, pageCache: deps.pageCache, waitMsMax: deps.waitMsMax });
  const sockets = new Set<Duplex>();
  // The largest frame a client may send: a full batch.
  const frameBytesMax = FRAME_HEAD_BYTES + deps.batchMax * GETPAGE_REQUEST_BYTES;

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (req.headers.upgrade?.toLowerCase() !== GETPAGE_STREAM_PROTOCOL) {
      // Nobody else takes upgrades here: answer, or the socket stays open for ever (the fuzzer's `Upgrade: h2c` hung).
      if (server.listenerCount('upgrade') === 1) reject(socket, 400, 'BAD_REQUEST', `cannot upgrade to ${req.headers.upgrade ?? 'nothing'}; use ${GETPAGE_STREAM_PROTOCOL}`);
      return;
    }
    socket.on('error', () => socket.destroy());
    void (async () => {
      const m = STREAM_PATH.exec(req.url ?? '');
      if (req.method !== 'GET' || !m) return reject(socket, 404, 'ROUTE_NOT_FOUND', `no GetPage stream at ${req.method} ${req.url}`);
      const [, tenantId, timelineId] = m as unknown as [string, string, string];
      let claims: Claims | undefined;
      try {
        if (deps.verifier) {
          const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
          if (!bearer) throw new Unauthenticated('missing or malformed Authorization header');
          claims = await deps.verifier.verify(bearer[1]!);
          authorize(claims, POLICY.tenantRead, tenantId);
        }
        deps.tenants.get(tenantId, timelineId);
      } catch (e) {
        const status = e instanceof Unauthenticated ? 401 : e instanceof Forbidden ? 403 : 404;
        return reject(socket, status, errorCode(e), e instanceof Error ? e.message : String(e));
      }
      serveStream(socket, head, tenantId, timelineId);
    })().catch((e: unknown) => {
      deps.log.error('GetPage stream upgrade failed', { error: e });
      socket.destroy();
    });
  };

  const serveStream = (socket: Duplex, head: Buffer, tenantId: string, timelineId: string): void => {
    const pageSize = deps.tenants.get(tenantId, timelineId).pageSize;
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${GETPAGE_STREAM_PROTOCOL}\r\nconnection: Upgrade\r\nx-strata-page-size: ${pageSize}\r\n\r\n`);
    (socket as Duplex & { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const splitter = new FrameSplitter(frameBytesMax);
    const queue: Uint8Array[] = [];
    let running = false;
    let closed = false;
    socket.once('close', () => {
      closed = true;
    });

    const answer = async (frame: Uint8Array): Promise<boolean> => {
      let tag = 0;
      try {
        const f = decodeRequestFrame(frame, deps.batchMax);
        tag = f.tag;
        // Looked up per frame: a timeline deleted under an open stream answers TIMELINE_NOT_FOUND.
        const t = deps.tenants.get(tenantId, timelineId);
        const reply = await service.serveParts(t, f.requests, f.waitMs || undefined, FRAME_HEAD_BYTES);
        writeReplyFrameHeadOfLength(reply.heads, reply.size, tag, f.requests.length / GETPAGE_REQUEST_BYTES);
        if (closed) return true;
        // One writev for the whole reply: the pages go to the socket from where they are held, uncopied.
        socket.cork();
        let ok = true;
        for (const part of reply.parts) ok = socket.write(part);
        socket.uncork();
        // Past the socket's buffer mark: answer the next frame once this one is on its way, not before.
        if (!ok && socket.writableLength > REPLY_BYTES_BUFFERED_MAX) await once(socket, 'drain');
        return true;
      } catch (e) {
        if (e instanceof AssertionError) deps.onBug?.(e);
        const known = errorCode(e) !== 'INTERNAL';
        if (!known) deps.log.error('GetPage stream frame failed', { tenantId, timelineId, error: e });
        if (!closed) socket.write(encodeErrorFrame(tag, errorCode(e), e instanceof Error ? e.message : String(e)));
        // After a framing error or a bug the stream cannot be trusted: the client reconnects.
        return known && !(e instanceof CorruptFrame);
      }
    };

    const pump = async (): Promise<void> => {
      if (running) return;
      running = true;
      try {
        for (let f = queue.shift(); f !== undefined && !closed; f = queue.shift()) {
          if (!(await answer(f))) {
            socket.end();
            return;
          }
          if (socket.isPaused() && queue.length < FRAMES_QUEUED_MAX / 2) socket.resume();
        }
      } finally {
        running = false;
      }
    };

    const onData = (chunk: Buffer): void => {
      try {
        splitter.push(chunk, (frame) => queue.push(frame));
      } catch (e) {
        if (!(e instanceof CorruptFrame)) throw e;
        socket.end(encodeErrorFrame(0, e.code, e.message));
        return;
      }
      if (queue.length >= FRAMES_QUEUED_MAX) socket.pause();
      void pump();
    };
    socket.on('data', onData);
    if (head.length > 0) onData(head);
  };

  server.on('upgrade', onUpgrade);
  return {
    get open() {
      return sockets.size;
    },
    closeAll() {
      server.off('upgrade', onUpgrade);
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
  };
}
