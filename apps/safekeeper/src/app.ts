/**
 * The safekeeper's HTTP app: `createApp(deps)` builds everything from its
 * arguments (no module-level state), so tests run real apps over temp dirs.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { requestId } from 'hono/request-id';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { StrataErrorCode } from '@strata/core';
import { RemoteStorageError } from '@strata/remote-storage';
import { authMiddleware, createErrorHandler, PayloadTooLarge, RouteNotFound, SERVICE_ERROR_STATUS } from '@strata/service-kit';
import { DEFAULT_LIMITS, type AppEnv, type SafekeeperDeps } from './deps.js';
import type { SafekeeperErrorCode } from './errors.js';
import { metricsRoutes } from './routes/metrics.js';
import { statusRoutes } from './routes/status.js';
import { consensusRoutes } from './routes/consensus.js';
import { horizonRoutes } from './routes/horizons.js';
import { pullRoutes } from './routes/pull.js';
import { timelineRoutes } from './routes/timelines.js';
import { walRoutes } from './routes/wal.js';
import { walStreamRoutes } from './routes/wal-stream.js';

const STATUS: Record<StrataErrorCode | SafekeeperErrorCode | keyof typeof SERVICE_ERROR_STATUS, ContentfulStatusCode> = {
  ...SERVICE_ERROR_STATUS,
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
  TIMELINE_LOST: 410,
  JOIN_REFUSED: 409,
  UNKNOWN_MEMBER: 400,
  PULL_SOURCE_NOT_ALLOWED: 400,
};

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

  app.onError(
    createErrorHandler<AppEnv>({
      statusByCode: STATUS,
      log: deps.log,
      onBug: deps.onBug,
      // Remote storage (WAL backup, restore on pull) failing is an upstream failure: 502 with its own code.
      classify: (err) => (err instanceof RemoteStorageError ? { status: 502, code: err.code, logAs: 'remote storage failed' } : undefined),
    }),
  );

  return app
    .route('/', statusRoutes(deps))
    .route('/', timelineRoutes(deps))
    .route('/', walRoutes(deps))
    .route('/', walStreamRoutes(deps))
    .route('/', consensusRoutes(deps))
    .route('/', horizonRoutes(deps))
    .route('/', pullRoutes(deps))
    .route('/', metricsRoutes(deps));
}

export type SafekeeperApp = ReturnType<typeof createApp>;
