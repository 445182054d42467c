/**
 * The WAL streams (core `wal-stream` frames in a chunked reply; the sender is
 * data-path/wal-sender.ts):
 *
 * - `GET .../wal/stream?from=LSN[&keepaliveMs=N]`: committed WAL from `from`
 *   on, pushed as it commits, for as long as the reader reads (the page
 *   server's subscription). Ends with an ERROR frame when this node leaves
 *   the configuration, the timeline goes, or the service stops.
 * - `GET .../snapshot/wal/stream?from=LSN[&to=LSN]`: stored WAL up to `to`
 *   capped by the flush LSN (uncommitted included, for peers: peer recovery,
 *   see `snapshot/wal` in pull.ts), then END. Every chunk is checked against
 *   the term history sent in HELLO: if the log changes below a chunk's end
 *   while it is read (a truncation comes only with a different history below
 *   it), the stream ends with PULL_CONFLICT instead of sending it.
 *
 * Errors found before the first frame (bad LSNs, not a member, unknown
 * timeline) are ordinary HTTP errors. The long-poll `.../wal` and chunked
 * `.../snapshot/wal` routes stay for the CLI and older readers.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { LsnOutOfRange, NotAMember, TimelineNotFound } from '@strata/core';
import { historyUpTo } from '@strata/core/consensus';
import { WAL_STREAM_CONTENT_TYPE } from '@strata/core/wal-stream';
import { authorize, stoppingSignal, zv } from '@strata/service-kit';
import { POLICY } from '../auth.js';
import { WalSender } from '../data-path/wal-sender.js';
import { DEFAULT_LIMITS, type AppEnv, type SafekeeperDeps } from '../deps.js';
import { PullConflict } from '../errors.js';
import { lsnString, timelineParams } from '../schemas.js';
import type { Timeline } from '../storage/timeline.js';
import { sameHistory } from './pull.js';

/** Largest WAL frame payload (also capped by the response limit `walReadBytes`). */
export const WAL_STREAM_CHUNK_BYTES = 1024 * 1024;
export const KEEPALIVE_MS_DEFAULT = 1_000;

const keepaliveMs = z.coerce.number().int().min(10).max(60_000).optional();
const liveQuery = z.object({ from: lsnString, keepaliveMs }).strict();
const boundedQuery = z.object({ from: lsnString, to: lsnString.optional(), keepaliveMs }).strict();

function isMember(deps: SafekeeperDeps, t: Timeline): boolean {
  const conf = t.control.conf;
  return conf.members.includes(deps.nodeId) || (conf.newMembers ?? []).includes(deps.nodeId);
}

/** The timeline is still the registered one (not deleted, not replaced by a pull). */
function stillRegistered(deps: SafekeeperDeps, t: Timeline): void {
  if (deps.timelines.get(t.tenantId, t.timelineId) !== t) throw new TimelineNotFound(t.tenantId, t.timelineId);
}

export function walStreamRoutes(deps: SafekeeperDeps) {
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const bound = deps.walReadBound ?? ((t: Timeline) => t.commitLsn);
  const chunkBytes = Math.min(WAL_STREAM_CHUNK_BYTES, limits.walReadBytes);
  const reply = (sender: WalSender) =>
    new Response(sender.body(), {
      status: 200,
      // A stream ends only by an error or a drain: its connection is not reused (and does not hold a drain open once it ended).
      headers: { 'content-type': WAL_STREAM_CONTENT_TYPE, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', connection: 'close' },
    });
  const common = (t: Timeline, stopping: AbortSignal | undefined) => ({ timeline: t, readBound: bound, chunkBytes, stopping, metrics: deps.metrics, log: deps.log, onBug: deps.onBug });

  return new Hono<AppEnv>()
    .get('/v1/tenants/:tenant/timelines/:timeline/wal/stream', zv('param', timelineParams), zv('query', liveQuery), (c) => {
      const { tenant, timeline: timelineId } = c.req.valid('param');
      authorize(c.var.claims, POLICY.walRead, tenant);
      const { from, keepaliveMs: ka } = c.req.valid('query');
      const t = deps.timelines.get(tenant, timelineId);
      // A node a membership change removed gets no new WAL: readers must go to the members.
      if (!isMember(deps, t)) throw new NotAMember(deps.nodeId, t.control.conf.generation);
      if (from < t.wal.oldestLsn) throw new LsnOutOfRange(from, `WAL before ${t.wal.oldestLsn} is no longer on this safekeeper`);
      const sender = new WalSender({
        ...common(t, stoppingSignal(c)),
        startLsn: from,
        endLsn: null,
        keepaliveMs: ka ?? KEEPALIVE_MS_DEFAULT,
        check: () => {
          stillRegistered(deps, t);
          if (!isMember(deps, t)) throw new NotAMember(deps.nodeId, t.control.conf.generation);
        },
      });
      return reply(sender);
    })
    .get('/v1/tenants/:tenant/timelines/:timeline/snapshot/wal/stream', zv('param', timelineParams), zv('query', boundedQuery), (c) => {
      const { tenant, timeline: timelineId } = c.req.valid('param');
      // Uncommitted WAL leaves a safekeeper only for another safekeeper or an operator.
      authorize(c.var.claims, POLICY.operator, tenant);
      const { from, to, keepaliveMs: ka } = c.req.valid('query');
      const t = deps.timelines.get(tenant, timelineId);
      if (from < t.wal.oldestLsn) throw new LsnOutOfRange(from, `WAL before ${t.wal.oldestLsn} is no longer on this safekeeper`);
      const flush = t.flushLsn;
      if (from > flush) throw new LsnOutOfRange(from, `beyond the flush LSN ${flush}`);
      if (to !== undefined && to < from) throw new LsnOutOfRange(to, `"to" is below "from" ${from}`);
      const end = to === undefined || to > flush ? flush : to;
      // HELLO carries this history; every chunk sent is one it describes.
      const history = t.control.termHistory;
      const sender = new WalSender({
        ...common(t, stoppingSignal(c)),
        startLsn: from,
        endLsn: end,
        keepaliveMs: ka ?? KEEPALIVE_MS_DEFAULT,
        check: (upTo) => {
          stillRegistered(deps, t);
          if (upTo > from && !sameHistory(historyUpTo(history, upTo - 1n), historyUpTo(t.control.termHistory, upTo - 1n))) {
            throw new PullConflict(tenant, timelineId, `the log changed below ${upTo} during the stream`);
          }
        },
      });
      return reply(sender);
    });
}
