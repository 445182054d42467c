/**
 * Timelines: list, details, branch, delete, wait for an LSN, and store an
 * aux-file set. All JSON; LSNs as decimal strings.
 */
import { layerFileName } from '@strata/core/layers';
import { sizedLayers } from '../storage/index.js';
import { Hono } from 'hono';
import { z } from 'zod';
import { decodeAuxSet, LsnOutOfRange } from '@strata/core';
import { isAuxPath } from '@strata/datadir';
import { authorize, BadRequest, readBodyBytes, zv } from '@strata/service-kit';
import { DEFAULT_LIMITS, type AppEnv, type PageserverDeps } from '../deps.js';
import { hexId, lsnString, POLICY, tenantParams, timelineInfo, timelineParams } from '../schemas.js';
import type { Timeline } from '../storage/index.js';
import { lastErrors, remoteHealth } from '../timeline-health.js';

const branchBody = z.object({ newTimelineId: hexId.optional(), lsn: lsnString }).strict();
const waitQuery = z.object({ lsn: lsnString, timeoutMs: z.coerce.number().int().min(0).optional() }).strict();
const auxQuery = z.object({ lsn: lsnString }).strict();
/** An aux set is a datadir's .frm, db.opt and Aria system tables: megabytes, not more. */
const AUX_SET_BYTES_MAX = 256 << 20;

export function timelineRoutes(deps: PageserverDeps) {
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const info = (t: Timeline) => {
    const r = deps.receivers?.status(t);
    return {
      ...timelineInfo(t, deps.tenants.layerBytes(t)),
      children: deps.tenants.children(t).map((c) => c.timelineId),
      walReceiver: r ? { state: r.state, safekeeper: r.safekeeper, commitLsn: r.commitLsn?.toString() ?? null } : null,
      // The upload queue (null without remote storage) and the last error of each kind of background work.
      remote: remoteHealth(t),
      lastErrors: lastErrors(t, deps.metrics.lastErrors),
    };
  };
  return new Hono<AppEnv>()
    .get('/v1/tenants/:tenant/timelines', zv('param', tenantParams), (c) => {
      const { tenant } = c.req.valid('param');
      authorize(c.var.claims, POLICY.tenantRead, tenant);
      return c.json({ timelines: deps.tenants.list(tenant).map(info) });
    })
    .get('/v1/tenants/:tenant/timelines/:timeline', zv('param', timelineParams), (c) => {
      const { tenant, timeline } = c.req.valid('param');
      authorize(c.var.claims, POLICY.tenantRead, tenant);
      return c.json(info(deps.tenants.get(tenant, timeline)));
    })
    /** Every layer of the timeline: key and LSN ranges, and whether it is on local disk (else only in remote storage). */
    .get('/v1/tenants/:tenant/timelines/:timeline/layers', zv('param', timelineParams), (c) => {
      const { tenant, timeline } = c.req.valid('param');
      authorize(c.var.claims, POLICY.tenantRead, tenant);
      const t = deps.tenants.get(tenant, timeline);
      const layers = sizedLayers(t).map(({ desc, bytes }) => ({
        name: layerFileName(desc),
        kind: desc.kind,
        keyStart: desc.keyStart,
        keyEnd: desc.keyEnd,
        lsnStart: desc.lsnStart.toString(),
        lsnEnd: desc.lsnEnd.toString(),
        local: bytes !== Number.MAX_SAFE_INTEGER,
        ...(bytes !== Number.MAX_SAFE_INTEGER ? { sizeBytes: bytes } : {}),
        uploaded: t.remote ? t.remote.isUploaded(layerFileName(desc)) : false,
      }));
      return c.json({ tenantId: tenant, timelineId: timeline, layers });
    })
    .post('/v1/tenants/:tenant/timelines/:timeline/branch', zv('param', timelineParams), zv('json', branchBody), (c) => {
      const { tenant, timeline } = c.req.valid('param');
      authorize(c.var.claims, POLICY.operator, tenant);
      const body = c.req.valid('json');
      const t = deps.tenants.branch(deps.tenants.get(tenant, timeline), body.lsn, body.newTimelineId);
      return c.json(info(t), 201);
    })
    .delete('/v1/tenants/:tenant/timelines/:timeline', zv('param', timelineParams), async (c) => {
      const { tenant, timeline } = c.req.valid('param');
      authorize(c.var.claims, POLICY.operator, tenant);
      await deps.tenants.delete(deps.tenants.get(tenant, timeline));
      return c.json({ deleted: true });
    })
    .get('/v1/tenants/:tenant/timelines/:timeline/wait_lsn', zv('param', timelineParams), zv('query', waitQuery), async (c) => {
      const { tenant, timeline } = c.req.valid('param');
      authorize(c.var.claims, POLICY.tenantRead, tenant);
      const { lsn, timeoutMs } = c.req.valid('query');
      const t = deps.tenants.get(tenant, timeline);
      await t.waitForLsn(lsn, Math.min(timeoutMs ?? 0, limits.waitMsMax));
      return c.json({ lsn: lsn.toString(), lastRecordLsn: t.lastRecordLsn.toString() });
    })
    .post('/v1/tenants/:tenant/timelines/:timeline/aux', zv('param', timelineParams), zv('query', auxQuery), async (c) => {
      // The compute stores the aux files (.frm, Aria system tables) of its datadir as of a committed LSN;
      // the body is the files themselves (aux-set frames), never a path on this machine.
      const { tenant, timeline } = c.req.valid('param');
      authorize(c.var.claims, POLICY.computeWrite, tenant);
      const { lsn } = c.req.valid('query');
      const t = deps.tenants.get(tenant, timeline);
      // A set may run ahead of ingest: the compute stores it once the quorum committed its LSN, and a crash
      // right after a DDL must not lose the .frm while the page server catches up.
      if (lsn < t.initLsn) throw new LsnOutOfRange(lsn, `below timeline ${timeline}'s start ${t.initLsn}`);
      const files = decodeAuxSet(await readBodyBytes(c, AUX_SET_BYTES_MAX));
      // A datadir always has aux files (the Aria system tables, .frm): an empty set is not one a compute sends, and it was
      // stored with no directory, after which every basebackup and aux read of the timeline failed (500, ENOENT: the fuzzer).
      if (files.length === 0) throw new BadRequest('an aux set holds at least one file');
      const notAux = files.find((f) => !isAuxPath(f.path));
      if (notAux) throw new BadRequest(`${notAux.path} is not an aux file (tablespaces and redo logs come from the redo log)`);
      const stored = t.putAuxSet(lsn, files);
      return c.json({ lsn: lsn.toString(), files: stored }, 201);
    });
}
