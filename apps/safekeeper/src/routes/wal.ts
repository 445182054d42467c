import { Hono } from 'hono';
import { z } from 'zod';
import { LsnOutOfRange, NotAMember } from '@strata/core';
import { ZSTD_CODING, acceptsZstd, zstdCompress } from '@strata/zstd';
import { authorize, zv } from '@strata/service-kit';
import { POLICY } from '../auth.js';
import { DEFAULT_LIMITS, type AppEnv, type SafekeeperDeps } from '../deps.js';
import { lsnString, timelineParams } from '../schemas.js';
import type { Timeline } from '../storage/timeline.js';

const walQuery = z
  .object({
    from: lsnString,
    to: lsnString.optional(),
    /** Long-poll: wait up to this long for a commit beyond `from` when there is nothing to send. */
    waitMs: z.coerce.number().int().min(0).optional(),
  })
  .strict();

/**
 * The WAL read path: `GET .../wal?from=LSN[&to=LSN][&waitMs=N]` answers the
 * stored bytes `[from, end)` as application/octet-stream, where `end` is `to`
 * capped by the read bound (the commit LSN) and by the response size limit.
 * Headers say where it ended so that a reader continues from there.
 */
export function walRoutes(deps: SafekeeperDeps) {
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const bound = deps.walReadBound ?? ((t: Timeline) => t.commitLsn);
  return new Hono<AppEnv>().get(
    '/v1/tenants/:tenant/timelines/:timeline/wal',
    zv('param', timelineParams),
    zv('query', walQuery),
    async (c) => {
      const { tenant, timeline: timelineId } = c.req.valid('param');
      authorize(c.var.claims, POLICY.walRead, tenant);
      const { from, to, waitMs } = c.req.valid('query');
      const timeline = deps.timelines.get(tenant, timelineId);
      const conf = timeline.control.conf;
      // A node a membership change removed gets no new WAL: readers must go to the members (the page server re-picks on this error).
      if (!conf.members.includes(deps.nodeId) && !(conf.newMembers ?? []).includes(deps.nodeId)) throw new NotAMember(deps.nodeId, conf.generation);
      if (to !== undefined && to < from) throw new LsnOutOfRange(to, `"to" is below "from" ${from}`);
      if (from < timeline.wal.oldestLsn) {
        throw new LsnOutOfRange(from, `WAL before ${timeline.wal.oldestLsn} is no longer on this safekeeper`);
      }
      if (waitMs && bound(timeline) <= from && (to === undefined || to > from)) {
        await timeline.commits.wait(from, Math.min(waitMs, limits.walWaitMsMax), c.req.raw.signal);
      }
      const readable = bound(timeline);
      let end = to === undefined || to > readable ? readable : to;
      if (end - from > BigInt(limits.walReadBytes)) end = from + BigInt(limits.walReadBytes);
      // A reader ahead of this safekeeper gets nothing, and the headers to know it.
      if (end < from) end = from;
      const bytes = end === from ? new Uint8Array(0) : await timeline.readWal(from, end);
      deps.metrics.walBytesSent.inc(timeline.labels(), bytes.length);
      // zstd only when the reader asks; the headers keep naming uncompressed LSNs.
      const zstd = acceptsZstd(c.req.header('accept-encoding'));
      const body = zstd ? zstdCompress(bytes) : bytes;
      return c.body(body as Uint8Array<ArrayBuffer>, 200, {
        'content-type': 'application/octet-stream',
        vary: 'accept-encoding',
        ...(zstd ? { 'content-encoding': ZSTD_CODING } : {}),
        'x-strata-begin-lsn': from.toString(),
        'x-strata-end-lsn': end.toString(),
        'x-strata-commit-lsn': timeline.commitLsn.toString(),
        'x-strata-flush-lsn': timeline.flushLsn.toString(),
      });
    },
  );
}
