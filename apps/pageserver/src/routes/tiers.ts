/**
 * The storage tiers, for operators and benchmarks: the memory page cache's
 * counters (and a way to empty it), and evicting a timeline's layer files
 * that are safely in remote storage down to a byte budget (neon has the same
 * per-layer eviction in its management API). JSON, zod-validated.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { authorize, zv } from '@strata/service-kit';
import type { AppEnv, PageserverDeps } from '../deps.js';
import { POLICY, timelineParams } from '../schemas.js';

const evictBody = z.object({ budgetBytes: z.number().int().min(0) }).strict();

export function tierRoutes(deps: PageserverDeps) {
  const cacheStats = () => deps.pageCache?.stats() ?? { capacityBytes: 0, bytes: 0, entries: 0, hits: 0, misses: 0, inserts: 0, evictions: 0, closedByIngest: 0, bases: 0 };
  return new Hono<AppEnv>()
    .get('/v1/page_cache', (c) => {
      authorize(c.var.claims, POLICY.operator);
      return c.json(cacheStats());
    })
    .post('/v1/page_cache/clear', (c) => {
      authorize(c.var.claims, POLICY.operator);
      deps.pageCache?.clear();
      return c.json(cacheStats());
    })
    .post('/v1/tenants/:tenant/timelines/:timeline/evict', zv('param', timelineParams), zv('json', evictBody), (c) => {
      const { tenant, timeline } = c.req.valid('param');
      authorize(c.var.claims, POLICY.operator, tenant);
      const t = deps.tenants.get(tenant, timeline);
      const evicted = t.evictLayers(c.req.valid('json').budgetBytes);
      return c.json({ evicted, localLayerBytes: t.localLayerBytes(), layers: t.layers.length });
    });
}
