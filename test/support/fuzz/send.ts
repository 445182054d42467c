/**
 * How the fuzzer talks to a service: raw node:http requests (so odd paths,
 * methods, content types and chunked bodies go out as built, and a reset is
 * told apart from an answer), and raw upgraded streams.
 */
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

export interface FuzzRequest {
  readonly method: string;
  /** Path and query, already percent-encoded where needed. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | undefined;
  /** Send the body chunked, without a content-length. */
  readonly chunked?: boolean;
  /** A streaming reply (WAL stream, basebackup): read the head and a little of the body, then hang up. */
  readonly streaming?: boolean;
}

export type Outcome =
  | { readonly kind: 'answer'; readonly status: number; readonly contentType: string; readonly body: Uint8Array; readonly truncated: boolean }
  | { readonly kind: 'no-answer'; readonly error: string }
  | { readonly kind: 'timeout' };

/** Reply bytes kept to check a body; a larger one (a basebackup, a metrics page) is read and dropped. */
const BODY_KEEP_BYTES = 256 << 10;
/** Of a streaming reply, this much is read before hanging up. */
const STREAM_READ_BYTES = 64 << 10;
/** ... or for this long; an upgraded stream that sends nothing for STREAM_IDLE_MS has answered. */
const STREAM_IDLE_MS = 200;
const STREAM_READ_MS = 300;

export function agentFor(concurrency: number): Agent {
  return new Agent({ keepAlive: true, maxSockets: concurrency });
}

/**
 * One request. A reset on a kept-alive connection the server had already
 * closed (node's documented `reusedSocket` race) is no answer of the service:
 * it is sent again once, on a fresh connection; a reset there is a finding.
 */
export async function send(base: URL, agent: Agent, req: FuzzRequest, timeoutMs: number): Promise<Outcome> {
  const first = await sendOnce(base, agent, req, timeoutMs);
  if (first.outcome.kind !== 'no-answer' || !first.reused) return first.outcome;
  const again = (await sendOnce(base, false, req, timeoutMs)).outcome;
  return again.kind === 'no-answer' ? { kind: 'no-answer', error: `${again.error} (on a fresh connection too, after ${first.outcome.error} on a kept-alive one)` } : again;
}

function sendOnce(base: URL, agent: Agent | false, req: FuzzRequest, timeoutMs: number): Promise<{ outcome: Outcome; reused: boolean }> {
  return new Promise<{ outcome: Outcome; reused: boolean }>((resolveBoth) => {
    let reused = false;
    const resolve = (outcome: Outcome) => resolveBoth({ outcome, reused });
    let settled = false;
    const done = (o: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined && !req.chunked) headers['content-length'] = String(req.body.length);
    let r: ReturnType<typeof httpRequest>;
    try {
      r = httpRequest({ host: base.hostname, port: base.port, method: req.method, path: req.path, headers, agent });
    } catch (e) {
      // node refuses to send it (a character it will not put on the wire): nothing reached the service.
      resolve({ kind: 'answer', status: 0, contentType: 'client-refused', body: new TextEncoder().encode(String(e)), truncated: false });
      return;
    }
    const timer = setTimeout(() => {
      done({ kind: 'timeout' });
      r.destroy();
    }, timeoutMs);
    let answered = false;
    r.on('response', (res: IncomingMessage) => {
      answered = true;
      const chunks: Buffer[] = [];
      let bytes = 0;
      let truncated = false;
      const streaming = req.streaming === true && res.statusCode === 200;
      const limit = streaming ? STREAM_READ_BYTES : Number.POSITIVE_INFINITY;
      const finish = () => done({ kind: 'answer', status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks), truncated });
      if (streaming) {
        // A live stream sends its head and then only keepalives: what came within a moment is the answer.
        setTimeout(() => {
          truncated = true;
          finish();
          res.destroy();
        }, STREAM_READ_MS).unref();
      }
      res.on('data', (c: Buffer) => {
        if (bytes < BODY_KEEP_BYTES) chunks.push(c);
        else truncated = true;
        bytes += c.length;
        if (bytes >= limit) {
          truncated = true;
          finish();
          res.destroy();
        }
      });
      res.on('end', finish);
      // A reply cut after its head (a stream that failed): the head was an answer; the checks look at the status.
      res.on('error', () => {
        truncated = true;
        finish();
      });
      res.on('aborted', () => {
        truncated = true;
      });
    });
    // A reset after the answer began is the body's business (above); before, it is a request that got no answer.
    r.on('error', (e: NodeJS.ErrnoException) => {
      reused = r.reusedSocket;
      // The service answered before it read the whole body (413): the write failing after that is no fault.
      if (!answered) done({ kind: 'no-answer', error: `${e.code ?? ''} ${e.message}`.trim() });
    });
    if (req.body !== undefined && req.body.length > 0) {
      if (req.chunked) {
        const mid = req.body.length >> 1;
        r.write(req.body.subarray(0, mid));
        r.end(req.body.subarray(mid));
      } else r.end(req.body);
    } else r.end();
  });
}

export type StreamOutcome =
  | { readonly kind: 'refused'; readonly status: number; readonly contentType: string; readonly body: Uint8Array }
  | { readonly kind: 'streamed'; readonly received: number; readonly closedBy: 'server' | 'idle' | 'timeout' }
  | { readonly kind: 'no-answer'; readonly error: string };

/**
 * Opens an upgraded stream (`Upgrade: protocol`), writes `chunks` (each its
 * own write, so a frame may straddle them), half-closes, and reads until the
 * server closes or `timeoutMs` passes. A refusal before the upgrade is an
 * HTTP answer and is checked like one.
 */
export function stream(base: URL, path: string, protocol: string, headers: Readonly<Record<string, string>>, chunks: readonly Uint8Array[], timeoutMs: number): Promise<StreamOutcome> {
  return new Promise<StreamOutcome>((resolve) => {
    let settled = false;
    let socket: Socket | undefined;
    const done = (o: StreamOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.destroy();
      resolve(o);
    };
    const r = httpRequest({ host: base.hostname, port: base.port, method: 'GET', path, agent: false, headers: { ...headers, connection: 'Upgrade', upgrade: protocol } });
    const timer = setTimeout(() => {
      if (socket) done({ kind: 'streamed', received: 0, closedBy: 'timeout' });
      else done({ kind: 'no-answer', error: 'no upgrade and no answer before the timeout' });
      r.destroy();
    }, timeoutMs);
    r.on('upgrade', (_res: IncomingMessage, s: Socket, head: Buffer) => {
      socket = s;
      let received = head.length;
      // A server that answered everything and keeps the stream open for more is done with us once it goes quiet.
      let idle: NodeJS.Timeout | undefined;
      const quiet = () => {
        clearTimeout(idle);
        idle = setTimeout(() => done({ kind: 'streamed', received, closedBy: 'idle' }), STREAM_IDLE_MS);
        idle.unref();
      };
      s.on('data', (c: Buffer) => {
        received += c.length;
        quiet();
      });
      quiet();
      s.on('close', () => done({ kind: 'streamed', received, closedBy: 'server' }));
      // Closing on bad frames is the server's right: a reset here is fine.
      s.on('error', () => undefined);
      for (const c of chunks) s.write(c);
      s.end();
    });
    r.on('response', (res: IncomingMessage) => {
      const body: Buffer[] = [];
      res.on('data', (c: Buffer) => body.push(c));
      res.on('end', () => done({ kind: 'refused', status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(body) }));
      res.on('error', () => done({ kind: 'refused', status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(body) }));
    });
    r.on('error', (e: NodeJS.ErrnoException) => {
      if (socket) return;
      done({ kind: 'no-answer', error: `${e.code ?? ''} ${e.message}`.trim() });
    });
    r.end();
  });
}
