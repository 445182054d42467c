import { Hono } from 'hono';
import { authorize, zv } from '@strata/service-kit';
import { POLICY } from '../auth.js';
import type { AppEnv, SafekeeperDeps } from '../deps.js';
import { createTimelineBody, tenantParams, timelineParams, timelineStatus } from '../schemas.js';
import { createHeld, joinTimeline, joinTimelineBody, refuseLost } from '../membership/join.js';

/** Admin API of timelines: create, list, status, delete; join (a member that missed the creation). */
export function timelineRoutes(deps: SafekeeperDeps) {
  return new Hono<AppEnv>()
    .post('/v1/tenants/:tenant/timelines', zv('param', tenantParams), zv('json', createTimelineBody), async (c) => {
      const { tenant } = c.req.valid('param');
      authorize(c.var.claims, POLICY.tenantData, tenant);
      const body = c.req.valid('json');
      const { timeline, created } = await createHeld(deps, {
        tenantId: tenant,
        timelineId: body.timelineId,
        startLsn: body.startLsn,
        conf: body.conf,
        ...(body.pageSize !== undefined ? { pageSize: body.pageSize } : {}),
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
      refuseLost(deps, tenant, timeline);
      return c.json(timelineStatus(deps.timelines.get(tenant, timeline)));
    })
    .post('/v1/tenants/:tenant/timelines/:timeline/join', zv('param', timelineParams), zv('json', joinTimelineBody), async (c) => {
      const { tenant, timeline } = c.req.valid('param');
      authorize(c.var.claims, POLICY.tenantData, tenant);
      const { timeline: t, created } = await joinTimeline(deps, tenant, timeline, c.req.valid('json'));
      if (created) deps.log.info('joined timeline as a fresh acceptor', { tenantId: tenant, timelineId: timeline, generation: t.control.conf.generation });
      return c.json(timelineStatus(t), created ? 201 : 200);
    })
    .delete('/v1/tenants/:tenant/timelines/:timeline', zv('param', timelineParams), async (c) => {
      const { tenant, timeline } = c.req.valid('param');
      authorize(c.var.claims, POLICY.operator, tenant);
      await deps.timelines.delete(tenant, timeline);
      await deps.ledger?.forget(tenant, timeline);
      deps.log.info('timeline deleted', { tenantId: tenant, timelineId: timeline });
      return c.json({ deleted: true });
    });
}
