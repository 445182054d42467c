/**
 * `GET .../basebackup[?lsn=L][&waitMs=N]`: a tar stream of a datadir at `L`
 * (default: the last ingested LSN). `x-strata-basebackup-bytes` carries the
 * stream's total size for progress; `x-strata-lsn` the LSN it is taken at.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { AssertionError, LsnOutOfRange, StrataError } from '@strata/core';
import { authorize, ServiceError, zv } from '@strata/service-kit';
import { basebackupChunks, planBasebackup } from '../data-path/basebackup-tar.js';
import { DEFAULT_LIMITS, type AppEnv, type PageserverDeps } from '../deps.js';
import { BasebackupFailed } from '../errors.js';
import { lsnString, POLICY, timelineParams } from '../schemas.js';

const basebackupQuery = z.object({ lsn: lsnString.optional(), waitMs: z.coerce.number().int().min(0).optional() }).strict();

/**
 * Our typed errors keep their code; anything else (a RangeError deep in the
 * read path, an I/O error) becomes BASEBACKUP_FAILED with its own message, so
 * the compute reports the cause and not a bare INTERNAL. Assertion failures
 * stay what they are: bugs, which the error handler turns into a stop.
 */
function asBasebackupError(timelineId: string, lsn: bigint, e: unknown): unknown {
  if (e instanceof AssertionError || e instanceof StrataError || e instanceof ServiceError) return e;
  return new BasebackupFailed(timelineId, lsn, e);
}

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
    const errors = deps.metrics.lastErrors;
    let plan;
    try {
      await t.ensureAllLocal();
      plan = planBasebackup(t, lsn);
    } catch (e) {
      unpin();
      const err = asBasebackupError(timeline, lsn, e);
      errors.record(tenant, timeline, 'basebackup', err);
      throw err;
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
            errors.ok(tenant, timeline, 'basebackup');
            controller.close();
            return;
          }
          deps.metrics.basebackupBytes.inc(labels, r.value.length);
          controller.enqueue(r.value);
        } catch (e) {
          // Headers are gone already: the client sees a short stream (its size check fails). The cause is logged
          // here and kept in the timeline's status (lastErrors), where the client looks it up to report it.
          log.error('basebackup stream failed', { ...labels, lsn, error: e });
          errors.record(tenant, timeline, 'basebackup', new BasebackupFailed(timeline, lsn, e));
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
