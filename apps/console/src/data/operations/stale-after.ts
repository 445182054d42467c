/**
 * What an ended operation made stale, by its kind (`branch.create` → `branch`): the one place that
 * knows which views an action touches. Invalidation waits for the end, because an operation runs in
 * the background after the mutation that started it has returned.
 */
import type { QueryKey } from '@tanstack/react-query';
import type { Trpc } from '../../lib/trpc-types';
import { branchKeys } from '../branches/keys';
import { computeKeys } from '../computes/keys';
import { overviewKeys } from '../overview/keys';
import { pageserverKeys } from '../pageservers/keys';
import { safekeeperKeys } from '../safekeepers/keys';
import { snapshotKeys } from '../snapshots/keys';
import { tenantKeys } from '../tenants/keys';
import { operationKeys } from './keys';

type Keys = (trpc: Trpc) => QueryKey;

// A timeline appears, moves or goes: every view that lists timelines or what runs on them.
const TIMELINES: Keys[] = [branchKeys.all, snapshotKeys.all, computeKeys.all, tenantKeys.all, overviewKeys.all, pageserverKeys.all, safekeeperKeys.all];

const BY_DOMAIN: Record<string, Keys[]> = {
  branch: TIMELINES,
  // Restoring a snapshot creates a branch.
  snapshot: TIMELINES,
  compute: [computeKeys.all, overviewKeys.all],
  // GC and compaction change layers, sizes and horizons (the branch tree shows sizes).
  pageserver: [pageserverKeys.all, branchKeys.all, overviewKeys.all],
  safekeepers: [safekeeperKeys.all, overviewKeys.all],
  tenant: [tenantKeys.all, pageserverKeys.all, overviewKeys.all],
};

export function staleAfter(trpc: Trpc, kind: string): QueryKey[] {
  const domain = kind.split('.')[0] ?? '';
  // A kind this map does not know yet may touch anything in the cluster.
  const keys = BY_DOMAIN[domain] ?? TIMELINES;
  return [operationKeys.lists, ...keys].map((k) => k(trpc));
}
