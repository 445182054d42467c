/**
 * What a FUSE compute needs to serve a datadir at an LSN without copying it
 * (issue 12): `GET .../datadir?lsn=L` lists the tablespaces (path, space id,
 * size in pages from page 0's FSP header) and the redo log's size, and
 * `GET .../aux?lsn=L` returns the aux-file set valid at `L` (aux-set frames,
 * the same encoding the compute POSTs). Pages then come one batch at a time
 * through GetPage@LSN.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hono } from 'hono';
import { z } from 'zod';
import { type AuxFile, encodeAuxSet, LsnOutOfRange, redo } from '@strata/core';
import { listFiles } from '@strata/datadir';
import { authorize, zv } from '@strata/service-kit';
import { DEFAULT_LIMITS, type AppEnv, type PageserverDeps } from '../deps.js';
import { lsnString, POLICY, timelineParams } from '../schemas.js';
import type { Timeline } from '../storage/index.js';

const atQuery = z.object({ lsn: lsnString.optional(), waitMs: z.coerce.number().int().min(0).optional() }).strict();

async function readableAt(t: Timeline, timelineId: string, lsn: bigint | undefined, waitMs: number): Promise<bigint> {
  const at = lsn ?? t.lastRecordLsn;
  if (at < t.initLsn) throw new LsnOutOfRange(at, `before the start ${t.initLsn} of timeline ${timelineId}`);
  t.checkReadable(at);
  await t.waitForLsn(at, waitMs);
  return at;
}

export function datadirRoutes(deps: PageserverDeps) {
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  return new Hono<AppEnv>()
    .get('/v1/tenants/:tenant/timelines/:timeline/datadir', zv('param', timelineParams), zv('query', atQuery), async (c) => {
      const { tenant, timeline } = c.req.valid('param');
      authorize(c.var.claims, POLICY.tenantRead, tenant);
      const q = c.req.valid('query');
      const t = deps.tenants.get(tenant, timeline);
      const lsn = await readableAt(t, timeline, q.lsn, Math.min(q.waitMs ?? 0, limits.waitMsMax));
      const spaces = [...t.tablespacesAt(lsn)].sort((a, b) => a[0] - b[0]);
      const tablespaces = await Promise.all(
        spaces.map(async ([spaceId, path]) => {
          // Page 0 may sit in an evicted layer: the async read brings it back.
          const page0 = await t.getPageAsync({ spaceId, pageNo: 0 }, lsn);
          // Created but never written as of the LSN: an empty file, as MariaDB has it (and as a basebackup writes it).
          return { spaceId, path, sizePages: page0 ? redo.readFspHeader(page0.page).sizePages : 0 };
        }),
      );
      return c.json({ lsn: lsn.toString(), pageSize: t.pageSize, logFileSize: t.logFileSize.toString(), tablespaces });
    })
    .get('/v1/tenants/:tenant/timelines/:timeline/aux', zv('param', timelineParams), zv('query', atQuery), async (c) => {
      const { tenant, timeline } = c.req.valid('param');
      authorize(c.var.claims, POLICY.tenantRead, tenant);
      const q = c.req.valid('query');
      const t = deps.tenants.get(tenant, timeline);
      const lsn = await readableAt(t, timeline, q.lsn, Math.min(q.waitMs ?? 0, limits.waitMsMax));
      const dir = t.auxDirAt(lsn);
      // An aux set is immutable once stored: reading it while a newer one is written is safe.
      const files: AuxFile[] = dir ? listFiles(dir).map((rel) => ({ path: rel, data: readFileSync(join(dir, rel)) })) : [];
      return c.body(encodeAuxSet(files) as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'application/octet-stream', 'x-strata-lsn': lsn.toString() });
    });
}
