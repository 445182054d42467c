import { Hono } from 'hono';
import { authorize, zv } from '@strata/service-kit';
import { POLICY } from '../auth.js';
import type { AppEnv, SafekeeperDeps } from '../deps.js';
import { createTimelineBody, tenantParams, timelineParams, timelineStatus } from '../schemas.js';

/** Admin API of timelines: create, list, status, delete. */
export function timelineRoutes(deps: SafekeeperDeps) {
  return new Hono<AppEnv>()
    .post('/v1/tenants/:tenant/timelines', zv('param', tenantParams), zv('json', createTimelineBody), async (c) => {
      const { tenant } = c.req.valid('param');
      authorize(c.var.claims, POLICY.tenantData, tenant);
      const body = c.req.valid('json');
      const { timeline, created } = await deps.timelines.create({
        tenantId: tenant,
        timelineId: body.timelineId,
        startLsn: body.startLsn,
        conf: body.conf,
      });
      if (created) deps.log.info('timeline created', { tenantId: tenant, timelineId: body.timelineId, startLsn: body.startLsn });
      return c.json(timelineStatus(timeline), created ? 201 : 200);
    })
    .get('/v1/tenants/:tenant/timelines', zv('param', tenantParams), (c) => {
      const { tenant } = c.req.valid('param');
      authorize(c.var.claims, POLICY.walRead, tenant);
      return c.json({ timelines: deps.timelines.list(tenant).map(timelineStatus) });
    })
    .get('/v1/tenants/:tenant/timelines/:timeline', zv('param', timelineParams), (c) => {
      const { tenant, timeline } = c.req.valid('param');
      authorize(c.var.claims, POLICY.walRead, tenant);
      return c.json(timelineStatus(deps.timelines.get(tenant, timeline)));
    })
    .delete('/v1/tenants/:tenant/timelines/:timeline', zv('param', timelineParams), async (c) => {
      const { tenant, timeline } = c.req.valid('param');
      authorize(c.var.claims, POLICY.operator, tenant);
      await deps.timelines.delete(tenant, timeline);
      deps.log.info('timeline deleted', { tenantId: tenant, timelineId: timeline });
      return c.json({ deleted: true });
    });
}
