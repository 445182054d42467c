/** Snapshots of a tenant: create, list, get, delete, restore (= branch at the snapshot). */
import { Hono } from 'hono';
import { z } from 'zod';
import { authorize, zv } from '@strata/service-kit';
import type { AppEnv, PageserverDeps } from '../deps.js';
import { hexId, lsnString, POLICY, tenantParams, timelineInfo } from '../schemas.js';
import { createSnapshot, deleteSnapshot, findSnapshot, listSnapshots, restoreSnapshot, type TenantSnapshot } from '../snapshots.js';
import { snapshotSchema } from '../storage/timeline-meta.js';

const name = snapshotSchema.shape.name;
const snapshotParams = z.object({ tenant: hexId, name });
const createBody = z.object({ name, timelineId: hexId, lsn: lsnString.optional() }).strict();
const restoreBody = z.object({ newTimelineId: hexId.optional() }).strict();

function show(s: TenantSnapshot) {
  return { name: s.name, timelineId: s.timelineId, lsn: s.lsn.toString(), createdAt: new Date(s.createdAtMs).toISOString() };
}

export function snapshotRoutes(deps: PageserverDeps) {
  return new Hono<AppEnv>()
    .get('/v1/tenants/:tenant/snapshots', zv('param', tenantParams), (c) => {
      const { tenant } = c.req.valid('param');
      authorize(c.var.claims, POLICY.tenantRead, tenant);
      return c.json({ snapshots: listSnapshots(deps.tenants, tenant).map(show) });
    })
    .post('/v1/tenants/:tenant/snapshots', zv('param', tenantParams), zv('json', createBody), (c) => {
      const { tenant } = c.req.valid('param');
      authorize(c.var.claims, POLICY.operator, tenant);
      const body = c.req.valid('json');
      const s = createSnapshot(deps.tenants, deps.tenants.get(tenant, body.timelineId), body.name, body.lsn, Date.now());
      return c.json(show(s), 201);
    })
    .get('/v1/tenants/:tenant/snapshots/:name', zv('param', snapshotParams), (c) => {
      const { tenant, name: n } = c.req.valid('param');
      authorize(c.var.claims, POLICY.tenantRead, tenant);
      const { timeline, snapshot } = findSnapshot(deps.tenants, tenant, n);
      return c.json(show({ ...snapshot, timelineId: timeline.timelineId }));
    })
    .delete('/v1/tenants/:tenant/snapshots/:name', zv('param', snapshotParams), (c) => {
      const { tenant, name: n } = c.req.valid('param');
      authorize(c.var.claims, POLICY.operator, tenant);
      return c.json({ deleted: show(deleteSnapshot(deps.tenants, tenant, n)) });
    })
    .post('/v1/tenants/:tenant/snapshots/:name/restore', zv('param', snapshotParams), zv('json', restoreBody), (c) => {
      const { tenant, name: n } = c.req.valid('param');
      authorize(c.var.claims, POLICY.operator, tenant);
      const t = restoreSnapshot(deps.tenants, tenant, n, c.req.valid('json').newTimelineId);
      return c.json(timelineInfo(t, deps.tenants.layerBytes(t)), 201);
    });
}
