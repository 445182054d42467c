import { Hono } from 'hono';
import { authorize } from '@strata/service-kit';
import { POLICY } from '../auth.js';
import type { AppEnv, SafekeeperDeps } from '../deps.js';

export function statusRoutes(deps: SafekeeperDeps) {
  return new Hono<AppEnv>().get('/v1/status', (c) => {
    authorize(c.var.claims, POLICY.any);
    return c.json({
      nodeId: deps.nodeId,
      version: deps.version,
      timelines: deps.timelines.size,
      auth: deps.verifier ? deps.verifier.algorithm : 'none',
      remoteStorage: deps.remoteStorage?.description ?? null,
    });
  });
}
