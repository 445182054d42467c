import type { DbOrTx } from '../client.js';
import type { NodeKind } from '../generated/prisma/enums.js';
import type { Prisma } from '../generated/prisma/client.js';

export type { NodeKind };

export interface ClusterRow {
  id: string;
  name: string;
  home: string | null;
  registry: unknown;
  refreshedAt: Date | null;
  createdAt: Date;
}

export interface NodeRow {
  id: string;
  clusterId: string;
  kind: NodeKind;
  name: string;
  url: string;
  version: string | null;
  healthy: boolean | null;
  lastError: string | null;
  lastSeenAt: Date | null;
}

const clusterFields = { id: true, name: true, home: true, registry: true, refreshedAt: true, createdAt: true } as const;
const nodeFields = { id: true, clusterId: true, kind: true, name: true, url: true, version: true, healthy: true, lastError: true, lastSeenAt: true } as const;

/** Creates the cluster or refreshes its registry copy (by name). */
export function upsertCluster(db: DbOrTx, input: { name: string; home: string | null; registry: Prisma.InputJsonValue; now: Date }): Promise<ClusterRow> {
  return db.cluster.upsert({
    where: { name: input.name },
    create: { name: input.name, home: input.home, registry: input.registry, refreshedAt: input.now },
    update: { home: input.home, registry: input.registry, refreshedAt: input.now },
    select: clusterFields,
  });
}

export function listClusters(db: DbOrTx): Promise<ClusterRow[]> {
  return db.cluster.findMany({ select: clusterFields, orderBy: { createdAt: 'asc' } });
}

export function findCluster(db: DbOrTx, id: string): Promise<ClusterRow | null> {
  return db.cluster.findUnique({ where: { id }, select: clusterFields });
}

export function findClusterByName(db: DbOrTx, name: string): Promise<ClusterRow | null> {
  return db.cluster.findUnique({ where: { name }, select: clusterFields });
}

/**
 * Makes the cluster's nodes of `kind` exactly `nodes` (by name): new ones are added, changed
 * URLs updated, vanished ones removed. Health columns are kept for nodes that stay.
 */
export async function syncNodes(db: DbOrTx, clusterId: string, kind: NodeKind, nodes: { name: string; url: string }[]): Promise<void> {
  await db.node.deleteMany({ where: { clusterId, kind, name: { notIn: nodes.map((n) => n.name) } } });
  for (const n of nodes) {
    await db.node.upsert({
      where: { clusterId_kind_name: { clusterId, kind, name: n.name } },
      create: { clusterId, kind, name: n.name, url: n.url },
      update: { url: n.url },
      select: { id: true },
    });
  }
}

export function listNodes(db: DbOrTx, clusterId: string, kind?: NodeKind): Promise<NodeRow[]> {
  return db.node.findMany({ where: { clusterId, ...(kind ? { kind } : {}) }, select: nodeFields, orderBy: [{ kind: 'asc' }, { name: 'asc' }] });
}

export async function recordNodeHealth(
  db: DbOrTx,
  id: string,
  health: { healthy: boolean; version: string | null; lastError: string | null; at: Date },
): Promise<void> {
  await db.node.updateMany({
    where: { id },
    data: {
      healthy: health.healthy,
      lastError: health.lastError,
      ...(health.version !== null ? { version: health.version } : {}),
      ...(health.healthy ? { lastSeenAt: health.at } : {}),
    },
  });
}
