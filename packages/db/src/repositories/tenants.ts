import type { DbOrTx } from '../client.js';
import { translate } from './prisma-errors.js';

export interface TenantRow {
  id: string;
  clusterId: string;
  tenantId: string;
  name: string;
  createdAt: Date;
}

export interface BranchRow {
  id: string;
  name: string;
  timelineId: string;
  parentName: string | null;
  lsn: string | null;
  createdAt: Date;
}

export interface SnapshotRow {
  id: string;
  name: string;
  branchName: string;
  lsn: string;
  createdAt: Date;
}

const tenantFields = { id: true, clusterId: true, tenantId: true, name: true, createdAt: true } as const;
const branchFields = { id: true, name: true, timelineId: true, parentName: true, lsn: true, createdAt: true } as const;
const snapshotFields = { id: true, name: true, branchName: true, lsn: true, createdAt: true } as const;

export function upsertTenant(db: DbOrTx, input: { clusterId: string; tenantId: string; name: string }): Promise<TenantRow> {
  return translate(`tenant ${input.name}`, () =>
    db.tenant.upsert({
      where: { clusterId_tenantId: { clusterId: input.clusterId, tenantId: input.tenantId } },
      create: input,
      update: {},
      select: tenantFields,
    }),
  );
}

export function createTenant(db: DbOrTx, input: { clusterId: string; tenantId: string; name: string }): Promise<TenantRow> {
  return translate(`tenant ${input.name}`, () => db.tenant.create({ data: input, select: tenantFields }));
}

export function listTenants(db: DbOrTx, clusterId: string): Promise<TenantRow[]> {
  return db.tenant.findMany({ where: { clusterId }, select: tenantFields, orderBy: { createdAt: 'asc' } });
}

export function findTenant(db: DbOrTx, id: string): Promise<TenantRow | null> {
  return db.tenant.findUnique({ where: { id }, select: tenantFields });
}

export async function deleteTenant(db: DbOrTx, id: string): Promise<void> {
  await translate(`tenant ${id}`, () => db.tenant.delete({ where: { id }, select: { id: true } }));
}

/** Makes the branch mirror of a tenant exactly `branches` (by name). */
export async function syncBranches(
  db: DbOrTx,
  tenantId: string,
  branches: { name: string; timelineId: string; parentName: string | null; lsn: string | null; createdAt: Date }[],
): Promise<void> {
  await db.branch.deleteMany({ where: { tenantId, name: { notIn: branches.map((b) => b.name) } } });
  for (const b of branches) {
    await db.branch.upsert({
      where: { tenantId_name: { tenantId, name: b.name } },
      create: { tenantId, ...b },
      update: { timelineId: b.timelineId, parentName: b.parentName, lsn: b.lsn, createdAt: b.createdAt },
      select: { id: true },
    });
  }
}

export function listBranches(db: DbOrTx, tenantId: string): Promise<BranchRow[]> {
  return db.branch.findMany({ where: { tenantId }, select: branchFields, orderBy: { createdAt: 'asc' } });
}

/** Makes the snapshot mirror of a tenant exactly `snapshots` (by name). */
export async function syncSnapshots(db: DbOrTx, tenantId: string, snapshots: { name: string; branchName: string; lsn: string; createdAt: Date }[]): Promise<void> {
  await db.snapshot.deleteMany({ where: { tenantId, name: { notIn: snapshots.map((s) => s.name) } } });
  for (const s of snapshots) {
    await db.snapshot.upsert({
      where: { tenantId_name: { tenantId, name: s.name } },
      create: { tenantId, ...s },
      update: { branchName: s.branchName, lsn: s.lsn, createdAt: s.createdAt },
      select: { id: true },
    });
  }
}

export function listSnapshots(db: DbOrTx, tenantId: string): Promise<SnapshotRow[]> {
  return db.snapshot.findMany({ where: { tenantId }, select: snapshotFields, orderBy: { createdAt: 'asc' } });
}
