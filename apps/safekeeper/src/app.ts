/**
 * The safekeeper's HTTP app: `createApp(deps)` builds everything from its
 * arguments (no module-level state), so tests run real apps over temp dirs.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AssertionError, StrataError, type StrataErrorCode } from '@strata/core';
import { RemoteStorageError } from '@strata/remote-storage';
import { authMiddleware } from './auth.js';
import { DEFAULT_LIMITS, type AppEnv, type SafekeeperDeps } from './deps.js';
import { PayloadTooLarge, RouteNotFound, ServiceError, type ServiceErrorCode } from './errors.js';
import { metricsRoutes } from './routes/metrics.js';
import { statusRoutes } from './routes/status.js';
import { consensusRoutes } from './routes/consensus.js';
import { horizonRoutes } from './routes/horizons.js';
import { pullRoutes } from './routes/pull.js';
import { timelineRoutes } from './routes/timelines.js';
import { walRoutes } from './routes/wal.js';

const STATUS: Record<StrataErrorCode | ServiceErrorCode, ContentfulStatusCode> = {
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  TIMELINE_EXISTS: 409,
  CONTROL_FILE_CORRUPT: 500,
  WAL_CORRUPT: 500,
  CORRUPT_REDO: 400,
  UNSUPPORTED_REDO_FORMAT: 400,
  LSN_OUT_OF_RANGE: 400,
  CORRUPT_PAGE: 500,
  UNSUPPORTED_PAGE: 400,
  CORRUPT_FRAME: 400,
  TERM_MISMATCH: 409,
  GENERATION_MISMATCH: 409,
  LSN_GAP: 409,
  TIMELINE_NOT_FOUND: 404,
  NOT_A_MEMBER: 403,
  PEER_FAILED: 502,
  PULL_CONFLICT: 409,
  BAD_ZSTD: 400,
};

export interface ErrorReply {
  code: string;
  message: string;
  requestId: string;
}

export function createApp(deps: SafekeeperDeps) {
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const app = new Hono<AppEnv>();

  app.use(requestId());
  app.use(async (c, next) => {
    await next();
    deps.metrics.httpRequests.inc({ method: c.req.method, route: c.req.routePath, status: String(c.res.status) });
  });
  app.use(authMiddleware(deps.verifier));
  const jsonLimit = bodyLimit({
    maxSize: limits.jsonBodyBytes,
    onError: () => {
      throw new PayloadTooLarge(limits.jsonBodyBytes);
    },
  });
  // The binary data path carries WAL and sets its own, larger limit.
  app.use((c, next) => (c.req.path.endsWith('/consensus') ? next() : jsonLimit(c, next)));

  app.notFound((c) => {
    throw new RouteNotFound(c.req.method, c.req.path);
  });

  app.onError((err, c) => {
    const reply = (status: ContentfulStatusCode, code: string, message: string) =>
      c.json<ErrorReply>({ code, message, requestId: c.var.requestId }, status);
    if (err instanceof StrataError || err instanceof ServiceError) {
      const status = STATUS[err.code];
      if (status >= 500) deps.log.error('request failed', { requestId: c.var.requestId, path: c.req.path, error: err });
      return reply(status, err.code, err.message);
    }
    if (err instanceof RemoteStorageError) {
      deps.log.error('remote storage failed', { requestId: c.var.requestId, path: c.req.path, error: err });
      return reply(502, err.code, err.message);
    }
    if (err instanceof HTTPException && err.status < 500) {
      // Hono's own input checks: malformed JSON, wrong content type.
      return reply(err.status as ContentfulStatusCode, 'BAD_REQUEST', err.message);
    }
    deps.log.error(err instanceof AssertionError ? 'bug: assertion failed' : 'unexpected error', {
      requestId: c.var.requestId,
      path: c.req.path,
      error: err,
    });
    const res = reply(500, 'INTERNAL', 'internal error');
    // An assertion failure is a bug: answer, then let main.ts stop the process.
    if (err instanceof AssertionError) deps.onBug?.(err);
    return res;
  });

  return app
    .route('/', statusRoutes(deps))
    .route('/', timelineRoutes(deps))
    .route('/', walRoutes(deps))
    .route('/', consensusRoutes(deps))
    .route('/', horizonRoutes(deps))
    .route('/', pullRoutes(deps))
    .route('/', metricsRoutes(deps));
}

export type SafekeeperApp = ReturnType<typeof createApp>;
