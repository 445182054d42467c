/**
 * The HTTP plumbing every Strata service shares: one error mapper
 * (`{code, message, requestId}`), and a listener that binds (with TLS when
 * configured) and reports the address it actually got.
 */
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Context, Env } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AssertionError, StrataError } from '@strata/core';
import { ServiceError } from './errors.js';
import type { Logger } from './log.js';

export interface ErrorReply {
  code: string;
  message: string;
  requestId: string;
}

export interface ErrorHandlerOptions {
  /** HTTP status of every error code the service raises; codes missing here answer 500. */
  readonly statusByCode: Readonly<Record<string, ContentfulStatusCode>>;
  readonly log: Logger;
  /**
   * The service's own mapping, checked before the table: errors of other
   * families (remote storage: 502), or a domain error the service answers
   * with a more precise code. `logAs` names the log line of a server error
   * (default "request failed").
   */
  readonly classify?: (err: Error) => { status: ContentfulStatusCode; code: string; logAs?: string } | undefined;
  /** Called with an assertion failure (a bug) after it was answered; main.ts exits. */
  readonly onBug?: ((error: Error) => void) | undefined;
}

/** `app.onError(createErrorHandler(...))`: typed errors keep their code, anything else is a logged 500. */
export function createErrorHandler<E extends Env>(opts: ErrorHandlerOptions) {
  return (err: Error, c: Context<E>): Response => {
    // Set by hono's requestId() middleware, which every service mounts first.
    const requestId = (c.var as { requestId?: string }).requestId ?? '';
    const reply = (status: ContentfulStatusCode, code: string, message: string) => c.json<ErrorReply>({ code, message, requestId }, status);
    // The service's own view first: it may refine a domain error's code.
    const classified = opts.classify?.(err);
    if (classified) {
      if (classified.status >= 500 && classified.status !== 503) {
        opts.log.error(classified.logAs ?? 'request failed', { requestId, path: c.req.path, error: err });
      }
      return reply(classified.status, classified.code, err.message);
    }
    if (err instanceof StrataError || err instanceof ServiceError) {
      const status = opts.statusByCode[err.code] ?? 500;
      // Client errors are the client's to log; ours are logged here, where they are handled.
      if (status >= 500) opts.log.error('request failed', { requestId, path: c.req.path, error: err });
      return reply(status, err.code, err.message);
    }
    if (err instanceof HTTPException && err.status < 500) {
      // Hono's own input checks: malformed JSON, wrong content type.
      return reply(err.status as ContentfulStatusCode, 'BAD_REQUEST', err.message);
    }
    opts.log.error(err instanceof AssertionError ? 'bug: assertion failed' : 'unexpected error', { requestId, path: c.req.path, error: err });
    const res = reply(500, 'INTERNAL', 'internal error');
    // An assertion failure is a bug: answer, then let main.ts stop the process.
    if (err instanceof AssertionError) opts.onBug?.(err);
    return res;
  };
}

export interface Listening {
  /** `http(s)://host:port` actually bound (port 0 resolves here). */
  readonly url: string;
  readonly port: number;
  readonly server: ServerType;
  close(): Promise<void>;
  /**
   * Graceful stop: requests already running finish, while any request that
   * arrives after this (on a kept-alive connection, which server.close()
   * alone would go on serving) is answered 503 SHUTTING_DOWN with
   * `Connection: close`. Resolves when every connection has ended.
   */
  drain(): Promise<void>;
}

export interface ListenOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: { cert: Buffer; key: Buffer } | undefined;
}

/** The answer to a request that arrives while a service drains. */
function shuttingDown(): Response {
  const body: ErrorReply = { code: 'SHUTTING_DOWN', message: 'the service is shutting down', requestId: '' };
  return new Response(JSON.stringify(body), { status: 503, headers: { 'content-type': 'application/json', connection: 'close' } });
}

/**
 * What `listen` adds to the bindings a request's handler sees (hono's
 * `c.env`, next to @hono/node-server's `incoming`/`outgoing`): `stopping` is
 * aborted when the service starts to drain, so a response that streams for
 * as long as it is read (the safekeeper's WAL stream) ends then, instead of
 * holding the drain open.
 */
export interface ServiceBindings {
  readonly stopping?: AbortSignal;
}

/** The drain signal of a request served by `listen` (undefined under `app.request` in tests). */
export function stoppingSignal(c: Context): AbortSignal | undefined {
  const env: unknown = c.env;
  const s = typeof env === 'object' && env !== null ? (env as ServiceBindings).stopping : undefined;
  return s instanceof AbortSignal ? s : undefined;
}

export async function listen(fetch: (req: Request, env: ServiceBindings) => Response | Promise<Response>, opts: ListenOptions): Promise<Listening> {
  let draining = false;
  const stopping = new AbortController();
  const server: ServerType = await new Promise((resolveServer, reject) => {
    const s = serve(
      {
        fetch: (req, env: object) => (draining ? shuttingDown() : fetch(req, Object.assign(env, { stopping: stopping.signal }))),
        hostname: opts.host,
        port: opts.port,
        ...(opts.tls ? { createServer: createHttpsServer, serverOptions: opts.tls } : {}),
      },
      () => resolveServer(s),
    );
    s.once('error', reject);
  });
  /**
   * Stops taking connections and answers any request that still arrives on a kept-alive one with 503;
   * resolves once every connection has ended (cut after `cutAfterMs`, when given).
   */
  const stop = (cutAfterMs?: number): Promise<void> =>
    new Promise<void>((r) => {
      draining = true;
      stopping.abort();
      const s = server as ServerType & { closeIdleConnections?: () => void; closeAllConnections?: () => void };
      server.close(() => r());
      s.closeIdleConnections?.();
      if (cutAfterMs !== undefined) setTimeout(() => s.closeAllConnections?.(), cutAfterMs).unref();
    });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `${opts.tls ? 'https' : 'http'}://${host}:${port}`;
  return {
    url,
    port,
    server,
    // Long-polls and streams would hold close() open: it ends idle keep-alive sockets at once and the rest after 2 s.
    close: () => stop(2000),
    drain: () => stop(),
  };
}

/** `HOST:PORT` (IPv6 as `[::1]:PORT`) → parts, or undefined. */
export function parseListen(s: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}


