/**
 * The page server reports how far it has persisted a timeline in remote
 * storage: `POST .../remote_consistent_lsn {lsn}`. WAL below both this and
 * the backup LSN is needed by nobody, and is removed here
 * (`Timeline.updateHorizons`).
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { authorize, zv } from '@strata/service-kit';
import { POLICY } from '../auth.js';
import type { AppEnv, SafekeeperDeps } from '../deps.js';
import { lsnJson, lsnString, timelineParams } from '../schemas.js';

const remoteConsistentBody = z.object({ lsn: lsnString }).strict();

export function horizonRoutes(deps: SafekeeperDeps) {
  return new Hono<AppEnv>().post(
    '/v1/tenants/:tenant/timelines/:timeline/remote_consistent_lsn',
    zv('param', timelineParams),
    zv('json', remoteConsistentBody),
    async (c) => {
      const { tenant, timeline: timelineId } = c.req.valid('param');
      authorize(c.var.claims, POLICY.pageserver, tenant);
      const { lsn } = c.req.valid('json');
      const timeline = deps.timelines.get(tenant, timelineId);
      // The page server persisted only WAL a quorum committed, but this
      // safekeeper may not hold all of it yet (it lags, or learns commits
      // late): keep the part of the horizon that covers WAL stored here.
      // Removal stays safe, since it also waits for the backup, which covers
      // only what this safekeeper knows committed.
      const recorded = lsn < timeline.flushLsn ? lsn : timeline.flushLsn;
      let removedBytes = 0n;
      // Reports may arrive out of order (retries, a page server restart): the horizon never goes back.
      if (recorded > timeline.control.remoteConsistentLsn) {
        removedBytes = await timeline.updateHorizons({ remoteConsistentLsn: recorded });
        if (removedBytes > 0n) deps.log.info('wal removed', { ...timeline.labels(), remoteConsistentLsn: lsn, removedBytes });
      }
      const control = timeline.control;
      return c.json({
        remoteConsistentLsn: lsnJson(control.remoteConsistentLsn),
        backupLsn: lsnJson(control.backupLsn),
        oldestLsn: lsnJson(timeline.wal.oldestLsn),
        removedBytes: Number(removedBytes),
      });
    },
  );
}
