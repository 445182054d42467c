/**
 * The page server's HTTP app: `createApp(deps)` builds everything from its
 * arguments (no module-level state), so tests run real apps over temp dirs.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { requestId } from 'hono/request-id';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { StrataErrorCode } from '@strata/core';
import { authMiddleware, createErrorHandler, PayloadTooLarge, RouteNotFound, SERVICE_ERROR_STATUS } from '@strata/service-kit';
import { DEFAULT_LIMITS, type AppEnv, type PageserverDeps } from './deps.js';
import type { AlreadyExists, BasebackupFailed, InvalidDatadir, MaintenanceFailed, NoLsnAtTime, RemoteUploadTimedOut, SnapshotNotFound, TenantNotFound, TimelineHasChildren } from './errors.js';
import { StorageMaintenance } from './maintenance.js';
import { basebackupRoutes } from './routes/basebackup.js';
import { datadirRoutes } from './routes/datadir.js';
import { getpageRoutes } from './routes/getpage.js';
import { metricsRoutes } from './routes/metrics.js';
import { snapshotRoutes } from './routes/snapshots.js';
import { statusRoutes } from './routes/status.js';
import { tenantRoutes } from './routes/tenants.js';
import { tierRoutes } from './routes/tiers.js';
import { storageRoutes } from './routes/storage.js';
import { timelineRoutes } from './routes/timelines.js';
import { LsnBeforeGcHorizon, LsnNotYetAvailable, PageNotFound } from './storage/index.js';

type PageserverErrorCode = (TenantNotFound | AlreadyExists | TimelineHasChildren | InvalidDatadir | SnapshotNotFound | NoLsnAtTime | BasebackupFailed | MaintenanceFailed | RemoteUploadTimedOut)['code'] | keyof typeof SERVICE_ERROR_STATUS;

const STATUS: Record<StrataErrorCode | PageserverErrorCode, ContentfulStatusCode> = {
  ...SERVICE_ERROR_STATUS,
  TENANT_NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  TIMELINE_HAS_CHILDREN: 409,
  INVALID_DATADIR: 400,
  SNAPSHOT_NOT_FOUND: 404,
  NO_LSN_AT_TIME: 404,
  BASEBACKUP_FAILED: 500,
  MAINTENANCE_FAILED: 500,
  // Never a reply today (the upload queue retries it); mapped so that any route that waits on an upload answers "retry later".
  REMOTE_UPLOAD_TIMEOUT: 503,
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
};

export function createApp(deps: PageserverDeps) {
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
  // Binary bodies carry their own limits: GetPage batches (getpageBatchMax), aux sets (their route's).
  app.use((c, next) => (c.req.path.endsWith('/getpage') || c.req.path.endsWith('/aux') ? next() : jsonLimit(c, next)));

  app.notFound((c) => {
    throw new RouteNotFound(c.req.method, c.req.path);
  });

  app.onError(
    createErrorHandler<AppEnv>({
      statusByCode: STATUS,
      log: deps.log,
      onBug: deps.onBug,
      // Not yet ingested is a wait that ran out, not a bad LSN: the client retries (503).
      classify: (err) =>
        err instanceof LsnNotYetAvailable
          ? { status: 503, code: 'LSN_NOT_YET_AVAILABLE' }
          : // Gone for good: the layers below the horizon may be deleted (410, not a retryable 503).
            err instanceof LsnBeforeGcHorizon
            ? { status: 410, code: 'LSN_BEFORE_GC_HORIZON' }
          : err instanceof PageNotFound
            ? { status: 404, code: err.code }
            : undefined,
    }),
  );

  const maintenance = deps.maintenance ?? new StorageMaintenance({ tenants: deps.tenants, metrics: deps.metrics, log: deps.log });
  return app
    .route('/', statusRoutes(deps))
    .route('/', tenantRoutes(deps))
    .route('/', timelineRoutes(deps))
    .route('/', getpageRoutes(deps))
    .route('/', basebackupRoutes(deps))
    .route('/', datadirRoutes(deps))
    .route('/', storageRoutes(deps, maintenance))
    .route('/', snapshotRoutes(deps))
    .route('/', tierRoutes(deps))
    .route('/', metricsRoutes(deps));
}

export type PageserverApp = ReturnType<typeof createApp>;
