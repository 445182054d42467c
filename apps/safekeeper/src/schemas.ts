/** Wire schemas shared by the routes. LSNs and terms are decimal strings in JSON. */
import { z } from 'zod';
import { hexId, lsnString } from '@strata/core/json';
import { boundedLsnString, remoteConfiguration } from './bounds.js';
import { innodbPageSize } from './storage/control-file.js';
import type { Timeline } from './storage/timeline.js';

export { hexId, lsnString };

export const tenantParams = z.object({ tenant: hexId });
export const timelineParams = z.object({ tenant: hexId, timeline: hexId });

/** A new timeline: start LSN below 2^62 and a configuration of the right shape (bounds.ts); known nodes are checked by createHeld. */
export const createTimelineBody = z
  .object({
    timelineId: hexId,
    startLsn: boundedLsnString,
    conf: remoteConfiguration,
    pageSize: innodbPageSize.optional(),
  })
  .strict();

export function lsnJson(v: bigint): string {
  return v.toString();
}

/** The status of one timeline as the admin API shows it. */
export function timelineStatus(t: Timeline) {
  const c = t.control;
  return {
    tenantId: c.tenantId,
    timelineId: c.timelineId,
    nodeId: c.nodeId,
    term: c.term.toString(),
    termHistory: c.termHistory.map((e) => ({ term: e.term.toString(), lsn: lsnJson(e.lsn) })),
    conf: {
      generation: c.conf.generation,
      members: [...c.conf.members],
      ...(c.conf.newMembers ? { newMembers: [...c.conf.newMembers] } : {}),
    },
    timelineStartLsn: lsnJson(c.timelineStartLsn),
    oldestLsn: lsnJson(t.wal.oldestLsn),
    flushLsn: lsnJson(t.flushLsn),
    commitLsn: lsnJson(t.commitLsn),
    backupLsn: lsnJson(c.backupLsn),
    remoteConsistentLsn: lsnJson(c.remoteConsistentLsn),
    peerHorizonLsn: lsnJson(c.peerHorizonLsn),
    walBytesOnDisk: Number(t.wal.bytesOnDisk),
    createdAt: c.createdAt,
    pageSize: t.pageSize,
  };
}
export type TimelineStatus = ReturnType<typeof timelineStatus>;
