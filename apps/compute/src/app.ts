/**
 * A compute's control endpoint (loopback): status, Prometheus metrics, the
 * shipper's LSN → time stamps, and a clean stop.
 *
 * Every route but the bare health check needs the cluster's admin token:
 * status and metrics name the timeline, ports and LSNs, and `POST /v1/stop`
 * ends the database. Loopback is no protection on its own, because a
 * browser on the same machine can be made to send requests to it; so a
 * request that carries a browser's cross-site markers (`Origin`,
 * `Sec-Fetch-Site` other than none/same-origin) is refused even before the
 * token is looked at. Without a key (a keyless test cluster on loopback),
 * the token check is off, as in the other services, but that refusal stays.
 */
import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import { requestId } from 'hono/request-id';
import {
  authMiddleware,
  authorize,
  type AuthEnv,
  createErrorHandler,
  Forbidden,
  type Logger,
  PROMETHEUS_CONTENT_TYPE,
  RouteNotFound,
  SERVICE_ERROR_STATUS,
  type TokenVerifier,
} from '@strata/service-kit';
import type { Compute } from './compute.js';

export interface ComputeAppDeps {
  readonly compute: Compute;
  readonly onStop: () => void;
  /** Verifies the admin token; null only for a keyless cluster on loopback. */
  readonly verifier: TokenVerifier | null;
  readonly log: Logger;
}

/** No browser page has any business here: a cross-site marker means someone else's page sent it. */
const refuseBrowsers = createMiddleware(async (c, next) => {
  const site = c.req.header('sec-fetch-site');
  if (c.req.header('origin') !== undefined || (site !== undefined && site !== 'none' && site !== 'same-origin')) {
    throw new Forbidden('the compute control port does not serve browser requests');
  }
  await next();
});

const adminOnly = createMiddleware<AuthEnv>(async (c, next) => {
  authorize(c.var.claims, ['admin']);
  await next();
});

export function createApp(deps: ComputeAppDeps) {
  const { compute, onStop } = deps;
  const app = new Hono<AuthEnv>();
  app.use(requestId());
  app.notFound((c) => {
    throw new RouteNotFound(c.req.method, c.req.path);
  });
  app.onError(createErrorHandler<AuthEnv>({ statusByCode: SERVICE_ERROR_STATUS, log: deps.log }));
  // Liveness only: no name, no LSN, nothing a prober learns beyond "a compute listens here".
  app.get('/v1/health', (c) => c.text('ok'));
  app.use(refuseBrowsers, authMiddleware(deps.verifier), adminOnly);
  return app
    .get('/v1/status', (c) => c.json(compute.status()))
    .get('/metrics', (c) => c.body(compute.metrics.render(), 200, { 'content-type': PROMETHEUS_CONTENT_TYPE }))
    .get('/v1/lsn-times', (c) => c.json({ stamps: compute.stamps().map((s) => ({ lsn: s.lsn.toString(), unixMs: s.unixMs })) }))
    .post('/v1/stop', (c) => {
      onStop();
      return c.json({ stopping: true }, 202);
    });
}

export type ComputeApp = ReturnType<typeof createApp>;
