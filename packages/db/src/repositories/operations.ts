import type { DbOrTx } from '../client.js';
import type { OperationStatus } from '../generated/prisma/enums.js';
import type { Prisma } from '../generated/prisma/client.js';
import { NotFound } from '../errors.js';

export type { OperationStatus };

export interface OperationStepRow {
  position: number;
  name: string;
  status: OperationStatus;
  detail: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface OperationRow {
  id: string;
  clusterId: string | null;
  kind: string;
  status: OperationStatus;
  actor: { id: string; username: string } | null;
  input: unknown;
  result: unknown;
  errorCode: string | null;
  errorMessage: string | null;
  attempt: number;
  retryOfId: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  steps: OperationStepRow[];
}

const fields = {
  id: true,
  clusterId: true,
  kind: true,
  status: true,
  actor: { select: { id: true, username: true } },
  input: true,
  result: true,
  errorCode: true,
  errorMessage: true,
  attempt: true,
  retryOfId: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
  steps: { select: { position: true, name: true, status: true, detail: true, startedAt: true, finishedAt: true }, orderBy: { position: 'asc' } },
} as const;

export const OPERATIONS_PAGE_MAX = 200;

/** The console process that runs an operation: `boot` is unique per process, so a reused pid is not mistaken for it. */
export interface OperationRunner {
  host: string;
  pid: number;
  boot: string;
}

export function createOperation(
  db: DbOrTx,
  input: {
    clusterId: string | null;
    kind: string;
    actorId: string | null;
    input: Prisma.InputJsonValue;
    steps: string[];
    retryOfId?: string;
    attempt?: number;
    runner?: OperationRunner;
  },
): Promise<OperationRow> {
  return db.operation.create({
    data: {
      clusterId: input.clusterId,
      kind: input.kind,
      actorId: input.actorId,
      input: input.input,
      retryOfId: input.retryOfId ?? null,
      attempt: input.attempt ?? 1,
      runnerHost: input.runner?.host ?? null,
      runnerPid: input.runner?.pid ?? null,
      runnerBoot: input.runner?.boot ?? null,
      steps: { create: input.steps.map((name, position) => ({ name, position })) },
    },
    select: fields,
  });
}

export async function findOperation(db: DbOrTx, id: string): Promise<OperationRow | null> {
  return db.operation.findUnique({ where: { id }, select: fields });
}

export async function getOperation(db: DbOrTx, id: string): Promise<OperationRow> {
  const op = await findOperation(db, id);
  if (!op) throw new NotFound(`operation ${id}`);
  return op;
}

export function listOperations(db: DbOrTx, query: { clusterId?: string; status?: OperationStatus; limit: number; before?: Date }): Promise<OperationRow[]> {
  return db.operation.findMany({
    where: {
      ...(query.clusterId ? { clusterId: query.clusterId } : {}),
      ...(query.status ? { status: query.status } : {}),
      ...(query.before ? { createdAt: { lt: query.before } } : {}),
    },
    select: fields,
    orderBy: { createdAt: 'desc' },
    take: Math.min(query.limit, OPERATIONS_PAGE_MAX),
  });
}

export async function markOperationRunning(db: DbOrTx, id: string, at: Date): Promise<void> {
  await db.operation.update({ where: { id }, data: { status: 'running', startedAt: at }, select: { id: true } });
}

export async function markOperationFinished(db: DbOrTx, id: string, result: Prisma.InputJsonValue, at: Date): Promise<void> {
  await db.operation.update({ where: { id }, data: { status: 'finished', result, finishedAt: at }, select: { id: true } });
}

export async function markOperationFailed(db: DbOrTx, id: string, error: { code: string; message: string }, at: Date): Promise<void> {
  await db.operation.update({ where: { id }, data: { status: 'failed', errorCode: error.code, errorMessage: error.message, finishedAt: at }, select: { id: true } });
}

/** Only a running or scheduled operation is cancelled: one that ended in the meantime keeps its ending. */
export async function markOperationCancelled(db: DbOrTx, id: string, message: string, at: Date): Promise<boolean> {
  const r = await db.operation.updateMany({ where: { id, status: { in: ['scheduled', 'running'] } }, data: { status: 'cancelled', errorCode: 'CANCELLED', errorMessage: message, finishedAt: at } });
  return r.count === 1;
}

export async function markStep(
  db: DbOrTx,
  operationId: string,
  position: number,
  update: { status: OperationStatus; detail?: string | null; at: Date },
): Promise<void> {
  await db.operationStep.update({
    where: { operationId_position: { operationId, position } },
    data: {
      status: update.status,
      ...(update.detail !== undefined ? { detail: update.detail } : {}),
      ...(update.status === 'running' ? { startedAt: update.at } : {}),
      ...(update.status === 'finished' || update.status === 'failed' || update.status === 'cancelled' ? { finishedAt: update.at } : {}),
    },
    select: { id: true },
  });
}

/** Bounds one sweep for abandoned operations; more than this unfinished at once is itself a bug. */
export const UNFINISHED_OPERATIONS_MAX = 1_000;

/** Scheduled and running operations with the process that runs them (null: recorded before runners were). */
export function listUnfinishedOperations(db: DbOrTx): Promise<{ id: string; runner: Partial<OperationRunner> | null }[]> {
  return db.operation
    .findMany({
      where: { status: { in: ['scheduled', 'running'] } },
      select: { id: true, runnerHost: true, runnerPid: true, runnerBoot: true },
      orderBy: { createdAt: 'asc' },
      take: UNFINISHED_OPERATIONS_MAX,
    })
    .then((rows) =>
      rows.map((r) => ({
        id: r.id,
        runner: r.runnerHost === null && r.runnerPid === null && r.runnerBoot === null ? null : { ...(r.runnerHost !== null ? { host: r.runnerHost } : {}), ...(r.runnerPid !== null ? { pid: r.runnerPid } : {}), ...(r.runnerBoot !== null ? { boot: r.runnerBoot } : {}) },
      })),
    );
}

/**
 * Ends an operation whose runner is gone as failed with `error`, and its step that was running with
 * the same words (steps never started stay scheduled). Only a scheduled or running one: an operation
 * that ended meanwhile keeps its ending. Returns whether it was marked.
 */
export async function markOperationAbandoned(db: DbOrTx, id: string, error: { code: string; message: string }, at: Date): Promise<boolean> {
  const r = await db.operation.updateMany({ where: { id, status: { in: ['scheduled', 'running'] } }, data: { status: 'failed', errorCode: error.code, errorMessage: error.message, finishedAt: at } });
  if (r.count !== 1) return false;
  await db.operationStep.updateMany({ where: { operationId: id, status: 'running' }, data: { status: 'failed', detail: error.message, finishedAt: at } });
  return true;
}
