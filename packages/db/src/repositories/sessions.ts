import type { DbOrTx } from '../client.js';
import type { OperatorRow } from './operators.js';

export interface SessionRow {
  id: string;
  operatorId: string;
  expiresAt: Date;
  operator: OperatorRow;
}

const fields = {
  id: true,
  operatorId: true,
  expiresAt: true,
  operator: { select: { id: true, username: true, role: true, createdAt: true } },
} as const;

export function createSession(db: DbOrTx, input: { tokenHash: string; operatorId: string; expiresAt: Date }): Promise<SessionRow> {
  return db.session.create({ data: input, select: fields });
}

/** A session that has not expired at `now`, with its operator. */
export function findLiveSession(db: DbOrTx, tokenHash: string, now: Date): Promise<SessionRow | null> {
  return db.session.findFirst({ where: { tokenHash, expiresAt: { gt: now } }, select: fields });
}

export async function touchSession(db: DbOrTx, id: string, now: Date, expiresAt: Date): Promise<void> {
  await db.session.updateMany({ where: { id }, data: { lastSeenAt: now, expiresAt } });
}

export async function deleteSessionByTokenHash(db: DbOrTx, tokenHash: string): Promise<void> {
  await db.session.deleteMany({ where: { tokenHash } });
}

export async function deleteSessionsOf(db: DbOrTx, operatorId: string): Promise<void> {
  await db.session.deleteMany({ where: { operatorId } });
}

export async function deleteExpiredSessions(db: DbOrTx, now: Date): Promise<number> {
  return (await db.session.deleteMany({ where: { expiresAt: { lte: now } } })).count;
}
