/**
 * GetPage@LSN, binary (see data-path/getpage-codec.ts):
 * `POST .../getpage[?waitMs=N]`, body N × (space, page, LSN). Each page gets
 * its own status, so one page that does not exist does not fail the batch.
 * With `waitMs`, the request first waits (once, for the highest LSN asked)
 * until the timeline has ingested it.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { CorruptFrame, LsnOutOfRange, StrataError } from '@strata/core';
import { authorize, zv } from '@strata/service-kit';
import { decodeGetPageRequests, encodeGetPageResponse, type GetPageItem, GetPageStatus } from '../data-path/getpage-codec.js';
import { DEFAULT_LIMITS, type AppEnv, type PageserverDeps } from '../deps.js';
import { POLICY, timelineParams } from '../schemas.js';
import { LsnNotYetAvailable } from '../storage/index.js';

const getpageQuery = z.object({ waitMs: z.coerce.number().int().min(0).optional() }).strict();

export function getpageRoutes(deps: PageserverDeps) {
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  return new Hono<AppEnv>().post('/v1/tenants/:tenant/timelines/:timeline/getpage', zv('param', timelineParams), zv('query', getpageQuery), async (c) => {
    const { tenant, timeline } = c.req.valid('param');
    authorize(c.var.claims, POLICY.tenantRead, tenant);
    const { waitMs } = c.req.valid('query');
    const t = deps.tenants.get(tenant, timeline);
    const maxBody = limits.getpageBatchMax * 16;
    const declared = Number(c.req.header('content-length') ?? '0');
    if (declared > maxBody) throw new CorruptFrame(`GetPage batch of ${declared / 16} pages exceeds ${limits.getpageBatchMax}`);
    const body = new Uint8Array(await c.req.arrayBuffer());
    const reqs = decodeGetPageRequests(body, limits.getpageBatchMax);
    deps.metrics.getpageBatchSize.observe(reqs.length);
    let maxLsn = 0n;
    for (const r of reqs) if (r.lsn > maxLsn) maxLsn = r.lsn;
    if (waitMs && maxLsn > t.lastRecordLsn) {
      const t0 = performance.now();
      // Not ingested in time: the pages beyond say so one by one below.
      await t.waitForLsn(maxLsn, Math.min(waitMs, limits.waitMsMax)).catch((e: unknown) => {
        if (!(e instanceof LsnNotYetAvailable)) throw e;
      });
      deps.metrics.getpageSeconds.observe((performance.now() - t0) / 1000, { stage: 'wait' });
    }
    // Layers evicted to remote storage come back before the synchronous reconstruction (a no-op when all are local).
    for (const r of reqs) {
      if (r.lsn > t.lastRecordLsn) continue;
      await deps.tenants.resolveRead(t, r.lsn).prepareRead({ spaceId: r.spaceId, pageNo: r.pageNo }, r.lsn).catch(() => undefined);
    }
    const items: GetPageItem[] = reqs.map((r) => {
      const t0 = performance.now();
      let item: GetPageItem;
      try {
        if (r.lsn > t.lastRecordLsn) {
          item = { status: GetPageStatus.NOT_YET_AVAILABLE, lsn: t.lastRecordLsn };
        } else {
          const page = deps.tenants.resolveRead(t, r.lsn).getPageRaw({ spaceId: r.spaceId, pageNo: r.pageNo }, r.lsn);
          item = page ? { status: GetPageStatus.OK, lsn: page.lsn, page: page.page } : { status: GetPageStatus.NOT_FOUND, lsn: 0n };
        }
      } catch (e) {
        if (e instanceof LsnNotYetAvailable) item = { status: GetPageStatus.NOT_YET_AVAILABLE, lsn: t.lastRecordLsn };
        else if (e instanceof LsnOutOfRange) item = { status: GetPageStatus.LSN_OUT_OF_RANGE, lsn: 0n };
        else if (e instanceof StrataError) {
          // A corrupt layer or an unsupported page: this page fails, the batch goes on; logged here where it is handled.
          deps.log.error('GetPage failed', { tenantId: tenant, timelineId: timeline, spaceId: r.spaceId, pageNo: r.pageNo, lsn: r.lsn, error: e });
          item = { status: GetPageStatus.ERROR, lsn: 0n };
        } else throw e;
      }
      deps.metrics.getpageSeconds.observe((performance.now() - t0) / 1000, { stage: 'reconstruct' });
      deps.metrics.getpagePages.inc({ status: String(item.status) });
      return item;
    });
    const out = encodeGetPageResponse(items, t.pageSize);
    return c.body(out as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'application/octet-stream', 'x-strata-page-size': String(t.pageSize) });
  });
}
