import { Hono } from 'hono';
import { authorize } from '@strata/service-kit';
import type { AppEnv, PageserverDeps } from '../deps.js';
import { POLICY } from '../schemas.js';

export function statusRoutes(deps: PageserverDeps) {
  return new Hono<AppEnv>().get('/v1/status', (c) => {
    authorize(c.var.claims, POLICY.any);
    return c.json({
      service: 'pageserver',
      version: deps.version,
      tenants: deps.tenants.tenantIds().length,
      timelines: deps.tenants.all().length,
      safekeepers: deps.safekeepers ?? [],
      auth: deps.verifier ? deps.verifier.algorithm : 'none',
      remoteStorage: deps.remoteStorage ?? null,
    });
  });
}
