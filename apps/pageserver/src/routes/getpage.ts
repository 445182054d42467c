/**
 * GetPage@LSN, binary (see data-path/getpage-codec.ts):
 * `POST .../getpage[?waitMs=N]`, body N × (space, page, LSN). Each page gets
 * its own status, so one page that does not exist does not fail the batch.
 * With `waitMs`, the request first waits (once, for the highest LSN asked)
 * until the timeline has ingested it. The work is GetPageService's, shared
 * with the pipelined stream (data-path/getpage-stream.ts); zod sees only the
 * path and query, never the pages.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { CorruptFrame } from '@strata/core';
import { authorize, zv } from '@strata/service-kit';
import { GETPAGE_REQUEST_BYTES } from '@strata/core/getpage';
import { GetPageService } from '../data-path/getpage-service.js';
import { DEFAULT_LIMITS, type AppEnv, type PageserverDeps } from '../deps.js';
import { POLICY, timelineParams } from '../schemas.js';

const getpageQuery = z.object({ waitMs: z.coerce.number().int().min(0).optional() }).strict();

export function getpageRoutes(deps: PageserverDeps) {
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const service = new GetPageService({ tenants: deps.tenants, metrics: deps.metrics, log: deps.log, pageCache: deps.pageCache, waitMsMax: limits.waitMsMax });
  return new Hono<AppEnv>().post('/v1/tenants/:tenant/timelines/:timeline/getpage', zv('param', timelineParams), zv('query', getpageQuery), async (c) => {
    const { tenant, timeline } = c.req.valid('param');
    authorize(c.var.claims, POLICY.tenantRead, tenant);
    const { waitMs } = c.req.valid('query');
    const t = deps.tenants.get(tenant, timeline);
    const maxBody = limits.getpageBatchMax * GETPAGE_REQUEST_BYTES;
    const declared = Number(c.req.header('content-length') ?? '0');
    if (declared > maxBody) throw new CorruptFrame(`GetPage batch of ${declared / GETPAGE_REQUEST_BYTES} pages exceeds ${limits.getpageBatchMax}`);
    const body = new Uint8Array(await c.req.arrayBuffer());
    if (body.length === 0) throw new CorruptFrame('GetPage request is empty');
    if (body.length % GETPAGE_REQUEST_BYTES !== 0) throw new CorruptFrame(`GetPage request of ${body.length} bytes is not a multiple of ${GETPAGE_REQUEST_BYTES}`);
    if (body.length > maxBody) throw new CorruptFrame(`GetPage batch of ${body.length / GETPAGE_REQUEST_BYTES} pages exceeds ${limits.getpageBatchMax}`);
    const out = await service.serve(t, body, waitMs);
    return c.body(out as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'application/octet-stream', 'x-strata-page-size': String(t.pageSize) });
  });
}
