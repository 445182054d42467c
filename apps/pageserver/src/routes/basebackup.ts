/**
 * `GET .../basebackup[?lsn=L][&waitMs=N]`: a tar stream of a datadir at `L`
 * (default: the last ingested LSN). `x-strata-basebackup-bytes` carries the
 * stream's total size for progress; `x-strata-lsn` the LSN it is taken at.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { LsnOutOfRange } from '@strata/core';
import { authorize, zv } from '@strata/service-kit';
import { basebackupChunks, planBasebackup } from '../data-path/basebackup-tar.js';
import { DEFAULT_LIMITS, type AppEnv, type PageserverDeps } from '../deps.js';
import { lsnString, POLICY, timelineParams } from '../schemas.js';

const basebackupQuery = z.object({ lsn: lsnString.optional(), waitMs: z.coerce.number().int().min(0).optional() }).strict();

export function basebackupRoutes(deps: PageserverDeps) {
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  return new Hono<AppEnv>().get('/v1/tenants/:tenant/timelines/:timeline/basebackup', zv('param', timelineParams), zv('query', basebackupQuery), async (c) => {
    const { tenant, timeline } = c.req.valid('param');
    authorize(c.var.claims, POLICY.tenantRead, tenant);
    const q = c.req.valid('query');
    const t = deps.tenants.get(tenant, timeline);
    const lsn = q.lsn ?? t.lastRecordLsn;
    if (lsn < t.initLsn) throw new LsnOutOfRange(lsn, `before the start ${t.initLsn} of timeline ${timeline}: take the basebackup from its ancestor`);
    t.checkReadable(lsn);
    await t.waitForLsn(lsn, Math.min(q.waitMs ?? 0, limits.waitMsMax));
    // A basebackup reads every page: bring evicted layers back from remote storage first, and keep
    // them (no eviction) until the stream ends.
    const unpin = t.pin();
    let plan;
    try {
      await t.ensureAllLocal();
      plan = planBasebackup(t, lsn);
    } catch (e) {
      unpin();
      throw e;
    }
    const chunks = basebackupChunks(t, plan);
    const labels = { tenant_id: tenant, timeline_id: timeline };
    const log = deps.log;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        try {
          const r = chunks.next();
          if (r.done) {
            unpin();
            controller.close();
            return;
          }
          deps.metrics.basebackupBytes.inc(labels, r.value.length);
          controller.enqueue(r.value);
        } catch (e) {
          // Headers are gone already: the client sees a short stream (its size check fails); the cause is logged here.
          log.error('basebackup stream failed', { ...labels, lsn, error: e });
          unpin();
          controller.error(e);
        }
      },
      cancel() {
        unpin();
        chunks.return(undefined);
      },
    });
    return c.body(stream, 200, {
      'content-type': 'application/x-tar',
      'x-strata-lsn': lsn.toString(),
      'x-strata-basebackup-bytes': String(plan.tarBytes),
    });
  });
}
