/**
 * Snapshots: named, GC-protected `(timeline, lsn)` points of a tenant, kept
 * in their timeline's index (so they travel to remote storage with it).
 * Names are unique per tenant. Restoring one is a branch at its LSN.
 */
import { LsnOutOfRange } from '@strata/core';
import { AlreadyExists, SnapshotNotFound } from './errors.js';
import type { Snapshot, Timeline } from './storage/index.js';
import type { TenantManager } from './tenant-manager.js';

export interface TenantSnapshot extends Snapshot {
  readonly timelineId: string;
}

export function listSnapshots(tenants: TenantManager, tenantId: string): TenantSnapshot[] {
  return tenants
    .list(tenantId)
    .flatMap((t) => t.metaSnapshot.snapshots.map((s) => ({ ...s, timelineId: t.timelineId })))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function findSnapshot(tenants: TenantManager, tenantId: string, name: string): { timeline: Timeline; snapshot: Snapshot } {
  for (const t of tenants.list(tenantId)) {
    const snapshot = t.metaSnapshot.snapshots.find((s) => s.name === name);
    if (snapshot) return { timeline: t, snapshot };
  }
  throw new SnapshotNotFound(tenantId, name);
}

/** A new snapshot of `t` at `lsn` (default: the last ingested record). The LSN must still be readable. */
export function createSnapshot(tenants: TenantManager, t: Timeline, name: string, lsn: bigint | undefined, nowMs: number): TenantSnapshot {
  if (listSnapshots(tenants, t.tenantId).some((s) => s.name === name)) throw new AlreadyExists(`snapshot ${name}`);
  const at = lsn ?? t.lastRecordLsn;
  if (at < t.initLsn || at > t.lastRecordLsn) throw new LsnOutOfRange(at, `outside timeline ${t.timelineId}'s ${t.initLsn}..${t.lastRecordLsn}`);
  t.checkReadable(at);
  const snapshot: Snapshot = { name, lsn: at, createdAtMs: nowMs };
  t.patchMeta({ snapshots: [...t.metaSnapshot.snapshots, snapshot] });
  return { ...snapshot, timelineId: t.timelineId };
}

/** Forget a snapshot; the next GC may drop what only it needed. */
export function deleteSnapshot(tenants: TenantManager, tenantId: string, name: string): TenantSnapshot {
  const { timeline, snapshot } = findSnapshot(tenants, tenantId, name);
  timeline.patchMeta({ snapshots: timeline.metaSnapshot.snapshots.filter((s) => s.name !== name) });
  return { ...snapshot, timelineId: timeline.timelineId };
}

/** Restore = a new branch at the snapshot's LSN (the snapshot stays). */
export function restoreSnapshot(tenants: TenantManager, tenantId: string, name: string, newTimelineId: string | undefined): Timeline {
  const { timeline, snapshot } = findSnapshot(tenants, tenantId, name);
  return tenants.branch(timeline, snapshot.lsn, newTimelineId);
}
