import type { DbOrTx } from '../client.js';
import type { OperatorRole } from '../generated/prisma/enums.js';
import { translate } from './prisma-errors.js';

export type { OperatorRole };

export interface OperatorRow {
  id: string;
  username: string;
  role: OperatorRole;
  createdAt: Date;
}

const publicFields = { id: true, username: true, role: true, createdAt: true } as const;

export function createOperator(db: DbOrTx, input: { username: string; passwordHash: string; role: OperatorRole }): Promise<OperatorRow> {
  return translate(`operator ${input.username}`, () => db.operator.create({ data: input, select: publicFields }));
}

/** The one read that returns the hash: sign-in needs it, nothing else does. */
export function findOperatorCredentials(db: DbOrTx, username: string): Promise<(OperatorRow & { passwordHash: string }) | null> {
  return db.operator.findUnique({ where: { username }, select: { ...publicFields, passwordHash: true } });
}

export function findOperatorById(db: DbOrTx, id: string): Promise<OperatorRow | null> {
  return db.operator.findUnique({ where: { id }, select: publicFields });
}

export function listOperators(db: DbOrTx): Promise<OperatorRow[]> {
  return db.operator.findMany({ select: publicFields, orderBy: { username: 'asc' } });
}

export function countOperators(db: DbOrTx, role?: OperatorRole): Promise<number> {
  return db.operator.count({ where: role ? { role } : {} });
}

export function updateOperatorRole(db: DbOrTx, id: string, role: OperatorRole): Promise<OperatorRow> {
  return translate(`operator ${id}`, () => db.operator.update({ where: { id }, data: { role }, select: publicFields }));
}

export function updateOperatorPassword(db: DbOrTx, id: string, passwordHash: string): Promise<OperatorRow> {
  return translate(`operator ${id}`, () => db.operator.update({ where: { id }, data: { passwordHash }, select: publicFields }));
}

export async function deleteOperator(db: DbOrTx, id: string): Promise<void> {
  await translate(`operator ${id}`, () => db.operator.delete({ where: { id }, select: { id: true } }));
}
