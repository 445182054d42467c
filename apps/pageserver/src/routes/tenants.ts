/**
 * Tenants: list, and import a clean datadir as a new tenant's root
 * timeline. The datadir is a path on the page server's machine (the CLI and
 * the control plane run beside it); the safekeepers learn the timeline when
 * the first WAL is pushed from the import LSN.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { authorize, zv } from '@strata/service-kit';
import type { AppEnv, PageserverDeps } from '../deps.js';
import { hexId, POLICY, tenantParams } from '../schemas.js';

const importBody = z
  .object({
    datadir: z.string().min(1).refine((p) => p.startsWith('/'), 'must be an absolute path on the page server'),
    timelineId: hexId.optional(),
  })
  .strict();

export function tenantRoutes(deps: PageserverDeps) {
  const doImport = (datadir: string, tenantId: string | undefined, timelineId: string | undefined) => {
    const r = deps.tenants.importDatadir(datadir, { tenantId, timelineId });
    return { tenantId: r.timeline.tenantId, timelineId: r.timeline.timelineId, lsn: r.lsn.toString(), pages: r.pages, tablespaces: r.tablespaces, auxFiles: r.auxFiles };
  };
  return new Hono<AppEnv>()
    .get('/v1/tenants', (c) => {
      authorize(c.var.claims, POLICY.operator);
      return c.json({ tenants: deps.tenants.tenantIds().map((tenantId) => ({ tenantId, timelines: deps.tenants.list(tenantId).length })) });
    })
    .post('/v1/tenants/import', zv('json', importBody), (c) => {
      authorize(c.var.claims, POLICY.operator);
      const body = c.req.valid('json');
      return c.json(doImport(body.datadir, undefined, body.timelineId), 201);
    })
    .post('/v1/tenants/:tenant/import', zv('param', tenantParams), zv('json', importBody), (c) => {
      const { tenant } = c.req.valid('param');
      authorize(c.var.claims, POLICY.operator, tenant);
      const body = c.req.valid('json');
      return c.json(doImport(body.datadir, tenant, body.timelineId), 201);
    })
    .delete('/v1/tenants/:tenant', zv('param', tenantParams), async (c) => {
      const { tenant } = c.req.valid('param');
      authorize(c.var.claims, POLICY.operator, tenant);
      return c.json({ tenantId: tenant, timelinesDeleted: await deps.tenants.deleteTenant(tenant) });
    });
}
