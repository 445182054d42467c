/**
 * A real HTTP proxy on loopback in front of a real object store (s3rver),
 * which answers chosen requests itself with a 500 or holds them back for a
 * while: how tests show what an S3 outage or a slow S3 does, without a mock.
 * Requests pass through unchanged (the Host header too, which SigV4 signs).
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  readonly method: string;
  /** Path and query, e.g. `/bucket/tenants/…/index.json`. */
  readonly url: string;
}

/** What to do with one request: pass it on, answer 500 (an S3 InternalError), or pass it on after a delay. */
export type Fault = 'pass' | 'fail' | { readonly delayMs: number };

export interface FaultProxy {
  /** `http://127.0.0.1:PORT`: the endpoint the client under test uses. */
  readonly endpoint: string;
  /** Decides each request; replace it at any time. */
  rule: (r: ProxiedRequest) => Fault;
  /** Requests seen, by the fault applied. */
  readonly counts: { pass: number; fail: number; delay: number };
  stop(): Promise<void>;
}

const INTERNAL_ERROR =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>injected by the test proxy: We encountered an internal error. Please try again.</Message></Error>';

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const to = new URL(target);
  const timers = new Set<NodeJS.Timeout>();
  const proxy: { rule: (r: ProxiedRequest) => Fault; counts: FaultProxy['counts'] } = { rule: () => 'pass', counts: { pass: 0, fail: 0, delay: 0 } };

  const forward = (req: IncomingMessage, res: import('node:http').ServerResponse): void => {
    const upstream = httpRequest({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    // A client that gave up (an aborted upload) ends the upstream request too.
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  };

  const server: Server = createServer((req, res) => {
    const fault = proxy.rule({ method: req.method ?? 'GET', url: req.url ?? '/' });
    if (fault === 'fail') {
      proxy.counts.fail++;
      // Read the body first, as S3 does, so the client sees a reply and not a reset.
      req.resume();
      req.on('end', () => res.writeHead(500, { 'content-type': 'application/xml' }).end(INTERNAL_ERROR));
      return;
    }
    if (fault === 'pass') {
      proxy.counts.pass++;
      forward(req, res);
      return;
    }
    proxy.counts.delay++;
    req.pause();
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!res.destroyed) forward(req, res);
    }, fault.delayMs);
    timers.add(timer);
    res.on('close', () => {
      clearTimeout(timer);
      timers.delete(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get rule() {
      return proxy.rule;
    },
    set rule(r) {
      proxy.rule = r;
    },
    counts: proxy.counts,
    async stop() {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
