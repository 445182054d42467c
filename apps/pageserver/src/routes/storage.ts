/**
 * Storage maintenance and time travel of one timeline: compaction and GC
 * triggers, the LSN ↔ time map (points from the compute's shipper), and
 * LSN-by-timestamp lookups for `branch create --at`.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { LSN_TIME_POINTS_MAX, lsnAtTime, mergeLsnTimes } from '@strata/core/layers';
import { authorize, BadRequest, zv } from '@strata/service-kit';
import type { AppEnv, PageserverDeps } from '../deps.js';
import { NoLsnAtTime } from '../errors.js';
import type { StorageMaintenance } from '../maintenance.js';
import { lsnString, POLICY, timelineParams } from '../schemas.js';

const POINTS_PER_REQUEST_MAX = 10_000;

const compactQuery = z.object({ force: z.enum(['true', 'false']).optional() }).strict();
const gcBody = z
  .object({ pitrMs: z.number().int().min(0).optional(), horizonLsn: lsnString.optional() })
  .strict()
  .refine((b) => b.pitrMs === undefined || b.horizonLsn === undefined, 'give pitrMs or horizonLsn, not both');
const lsnTimesBody = z
  .object({ points: z.array(z.object({ lsn: lsnString, timeMs: z.number().int().min(0).max(8.64e15) }).strict()).min(1).max(POINTS_PER_REQUEST_MAX) })
  .strict();
const byTimeQuery = z.object({ at: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 time') }).strict();

export function storageRoutes(deps: PageserverDeps, maintenance: StorageMaintenance) {
  return new Hono<AppEnv>()
    .post('/v1/tenants/:tenant/timelines/:timeline/compact', zv('param', timelineParams), zv('query', compactQuery), async (c) => {
      const { tenant, timeline } = c.req.valid('param');
      authorize(c.var.claims, POLICY.operator, tenant);
      const t = deps.tenants.get(tenant, timeline);
      // An admin compaction freezes the open layer first, so that images reach the last ingested record.
      t.flush();
      const r = await maintenance.compact(t, 'admin', c.req.valid('query').force === 'true');
      return c.json({
        ...r,
        imageLsn: r.imageLsn?.toString() ?? null,
        durationMs: Math.round(r.durationMs),
        layers: t.layers.length,
      });
    })
    .post('/v1/tenants/:tenant/timelines/:timeline/gc', zv('param', timelineParams), zv('json', gcBody), async (c) => {
      const { tenant, timeline } = c.req.valid('param');
      authorize(c.var.claims, POLICY.operator, tenant);
      const body = c.req.valid('json');
      const r = await maintenance.gc(deps.tenants.get(tenant, timeline), body, 'admin');
      return c.json({
        horizon: r.horizon.toString(),
        retained: r.retained.map(String),
        removedLayers: r.removed,
        layersBefore: r.layersBefore,
        layersAfter: r.layersAfter,
        bytesBefore: r.bytesBefore,
        bytesAfter: r.bytesAfter,
        durationMs: Math.round(r.durationMs),
      });
    })
    .post('/v1/tenants/:tenant/timelines/:timeline/lsn_times', zv('param', timelineParams), zv('json', lsnTimesBody), (c) => {
      const { tenant, timeline } = c.req.valid('param');
      authorize(c.var.claims, POLICY.tenantRead, tenant);
      const t = deps.tenants.get(tenant, timeline);
      const { points } = c.req.valid('json');
      for (const p of points) if (p.lsn < t.initLsn) throw new BadRequest(`LSN ${p.lsn} is below the start ${t.initLsn} of timeline ${timeline}`);
      const merged = mergeLsnTimes(t.metaSnapshot.lsnTimes, points, LSN_TIME_POINTS_MAX);
      t.patchMeta({ lsnTimes: merged });
      return c.json({ points: merged.length });
    })
    .get('/v1/tenants/:tenant/timelines/:timeline/lsn_by_timestamp', zv('param', timelineParams), zv('query', byTimeQuery), (c) => {
      const { tenant, timeline } = c.req.valid('param');
      authorize(c.var.claims, POLICY.tenantRead, tenant);
      const t = deps.tenants.get(tenant, timeline);
      const { at } = c.req.valid('query');
      const atMs = Date.parse(at);
      const points = t.metaSnapshot.lsnTimes;
      const found = lsnAtTime(points, atMs);
      if (found === undefined) throw new NoLsnAtTime(timeline, at);
      // A shipper may report a commit the page server has not ingested yet: answer what can be branched from now.
      const lsn = found < t.lastRecordLsn ? found : t.lastRecordLsn;
      return c.json({ lsn: lsn.toString(), at: new Date(atMs).toISOString() });
    });
}
