/**
 * The local cluster's registry, `$STRATA_HOME/cluster.json`, written by
 * `./strata up` and changed by the CLI and the console alike through
 * @strata/client/local (under its lock). Read here with that module's schema
 * and mirrored into Postgres (cluster, nodes, tenant, branches) on every
 * refresh.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { listNodes, syncBranches, syncNodes, upsertCluster, upsertTenant, type ClusterRow, type NodeRow, type TenantRow } from '@strata/db';
import type { ConsoleDeps } from '../deps';
import { LocalClusterError, type LocalClusterState, requireLocalCluster } from '@strata/client/local';
import { ConsoleError } from './errors';

/** The registry as @strata/client/local reads it (one schema with the CLI; fields the console does not name pass through). */
export type Registry = LocalClusterState;

const computeFileSchema = z.looseObject({
  name: z.string(),
  mode: z.string(),
  timelineId: z.string(),
  controlUrl: z.string(),
  connectionUrl: z.string().optional(),
  port: z.number().optional(),
  controllerPid: z.number().int().positive().optional(),
});
export type ComputeFile = z.infer<typeof computeFileSchema>;

export const LOCAL_CLUSTER_NAME = 'local';

export function readRegistry(home: string): Registry {
  try {
    return requireLocalCluster(home);
  } catch (e) {
    if (e instanceof LocalClusterError) throw new ConsoleError('NO_CLUSTER', e.message);
    throw e;
  }
}

/** The admin token the services expect as `Authorization: Bearer …` (none on a cluster without auth). */
export function adminToken(home: string, registry: Registry): string | undefined {
  const file = registry.auth?.adminTokenFile;
  if (!file || !existsSync(file)) return undefined;
  return readFileSync(file, 'utf8').trim();
}

/** Computes recorded under the home (`computes/<name>/compute.json`); a running check is the caller's. */
export function readComputeFiles(home: string): ComputeFile[] {
  const dir = join(home, 'computes');
  if (!existsSync(dir)) return [];
  const out: ComputeFile[] = [];
  for (const name of readdirSync(dir).sort()) {
    const file = join(dir, name, 'compute.json');
    if (!existsSync(file)) continue;
    try {
      const r = computeFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
      if (r.success) out.push(r.data);
    } catch {
      // A compute being written right now: the next refresh sees it.
    }
  }
  return out;
}

export interface LocalCluster {
  cluster: ClusterRow;
  tenant: TenantRow;
  registry: Registry;
  nodes: NodeRow[];
  token: string | undefined;
}

/** Reads cluster.json and mirrors it into Postgres; every read of the console starts here. */
export async function refreshLocalCluster(deps: ConsoleDeps): Promise<LocalCluster> {
  const registry = readRegistry(deps.home);
  const now = deps.now();
  // The copy in Postgres leaves out the database account: its password stays in the 0600 cluster.json only.
  const { db: _account, ...mirrored } = registry;
  const cluster = await upsertCluster(deps.db, { name: LOCAL_CLUSTER_NAME, home: deps.home, registry: JSON.parse(JSON.stringify(mirrored)), now });
  await syncNodes(deps.db, cluster.id, 'safekeeper', registry.safekeepers.map((s) => ({ name: String(s.id), url: s.url })));
  await syncNodes(deps.db, cluster.id, 'pageserver', [{ name: 'pageserver', url: registry.pageserver.url }]);
  await syncNodes(deps.db, cluster.id, 'compute', readComputeFiles(deps.home).map((c) => ({ name: c.name, url: c.controlUrl })));
  const tenant = await upsertTenant(deps.db, { clusterId: cluster.id, tenantId: registry.tenantId, name: 'main' });
  await syncBranches(
    deps.db,
    tenant.id,
    registry.branches.map((b) => ({ name: b.name, timelineId: b.timelineId, parentName: b.parent, lsn: b.lsn, createdAt: new Date(b.createdAt) })),
  );
  return { cluster, tenant, registry, nodes: await listNodes(deps.db, cluster.id), token: adminToken(deps.home, registry) };
}
