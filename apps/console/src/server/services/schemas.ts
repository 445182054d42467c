/** What the console reads from the services' admin APIs: only the fields it shows, extra fields tolerated. */
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

export const pageserverStatus = z.looseObject({
  service: z.string(),
  version: z.string(),
  tenants: z.number(),
  timelines: z.number(),
  remoteStorage: z.string().nullable().optional(),
  diskBudgetBytes: z.number().nullable().optional(),
  localLayerBytes: z.number().optional(),
});
export const pageserverTimeline = z.looseObject({
  tenantId: z.string(),
  timelineId: z.string(),
  ancestor: z.looseObject({ timelineId: z.string(), lsn }).nullable(),
  initLsn: lsn,
  lastRecordLsn: lsn,
  diskConsistentLsn: lsn,
  layers: z.number(),
  layerBytes: z.number(),
  openLayerBytes: z.number(),
  walReceiver: z.looseObject({ state: z.string(), safekeeper: z.string().nullable().optional(), commitLsn: lsn.nullable().optional() }).nullable().optional(),
  // The page server's background work (timeline-health.ts there): what the alerts read.
  remote: z.looseObject({ consecutiveFailures: z.number(), lagBytes: lsn, lastError: z.string().nullable() }).nullable().optional(),
  lastErrors: z.array(z.looseObject({ kind: z.string(), count: z.number(), code: z.string(), message: z.string(), at: z.string(), resolvedAt: z.string().nullable() })).optional(),
});
export const pageserverTimelines = z.looseObject({ timelines: z.array(pageserverTimeline) });
export const pageserverTenants = z.looseObject({ tenants: z.array(z.looseObject({ tenantId: z.string(), timelines: z.number() })) });
export const pageCache = z.looseObject({
  capacityBytes: z.number(),
  bytes: z.number(),
  entries: z.number(),
  hits: z.number(),
  misses: z.number(),
  inserts: z.number(),
  evictions: z.number(),
});

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
