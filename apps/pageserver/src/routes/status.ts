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
      // The local tier against its budget: what the console's "disk budget near full" alert reads.
      diskBudgetBytes: deps.diskBudgetBytes ?? null,
      localLayerBytes: deps.tenants.all().reduce((n, t) => n + deps.tenants.layerBytes(t), 0),
    });
  });
}
