/** Wire schemas shared by the routes. LSNs are decimal strings in JSON. */
import { z } from 'zod';
import { hexId, lsnString } from '@strata/core/json';
import type { Scope } from '@strata/service-kit';
import type { Timeline } from './storage/index.js';

export { hexId, lsnString };

export const tenantParams = z.object({ tenant: hexId });
export const timelineParams = z.object({ tenant: hexId, timeline: hexId });

/** Who may do what on the page server. */
export const POLICY = {
  /** Read one tenant's pages and timelines: its computes, operators and the control plane. */
  tenantRead: ['admin', 'pageserverapi', 'tenant'],
  /** What a compute writes for its own tenant: aux-file sets, LSN times. */
  computeWrite: ['admin', 'pageserverapi', 'tenant'],
  /** Create, branch, delete, import: the control plane and operators. */
  operator: ['admin', 'pageserverapi'],
  /** Anyone with a valid token. */
  any: ['admin', 'safekeeperdata', 'tenant', 'pageserverapi'],
} as const satisfies Record<string, readonly Scope[]>;

/** A timeline as the admin API shows it. */
export function timelineInfo(t: Timeline, layerBytes: number) {
  const meta = t.metaSnapshot;
  return {
    tenantId: t.tenantId,
    timelineId: t.timelineId,
    ancestor: meta.ancestor ? { timelineId: meta.ancestor.timelineId, lsn: meta.ancestor.lsn.toString() } : null,
    initLsn: t.initLsn.toString(),
    lastRecordLsn: t.lastRecordLsn.toString(),
    diskConsistentLsn: t.diskConsistentLsn.toString(),
    pageSize: t.pageSize,
    layers: t.layers.length,
    layerBytes,
    openLayerBytes: t.openLayerBytes,
  };
}
export type TimelineInfo = ReturnType<typeof timelineInfo>;
