/**
 * What the console reads from the services' admin APIs that have no typed
 * client call yet (the safekeepers, the computes): only the fields it shows,
 * extra fields tolerated. The page server's replies are checked by
 * @strata/client/pageserver-api.
 */
import { lsnDecimal } from '@strata/core/json';
import { z } from 'zod';

/** A decimal LSN, kept as text (the browser shows it). */
export const lsn = lsnDecimal;

export const safekeeperStatus = z.looseObject({ nodeId: z.number(), version: z.string() });
export const safekeeperTimeline = z.looseObject({
  tenantId: z.string(),
  timelineId: z.string(),
  nodeId: z.number(),
  term: z.string(),
  termHistory: z.array(z.looseObject({ term: z.string(), lsn })),
  conf: z.looseObject({ generation: z.number(), members: z.array(z.number()), newMembers: z.array(z.number()).optional() }),
  flushLsn: lsn,
  commitLsn: lsn,
  backupLsn: lsn,
  remoteConsistentLsn: lsn,
  walBytesOnDisk: z.number().optional(),
});
export const safekeeperTimelines = z.looseObject({ timelines: z.array(safekeeperTimeline) });

export const computeStatus = z.looseObject({
  name: z.string(),
  mode: z.string(),
  state: z.string(),
  timelineId: z.string(),
  port: z.number(),
  startLsn: lsn.optional(),
  shipper: z.looseObject({ shippedLsn: lsn, commitLsn: lsn, lagBytes: z.string(), lagMs: z.number() }).nullable().optional(),
  error: z.string().nullable().optional(),
});
