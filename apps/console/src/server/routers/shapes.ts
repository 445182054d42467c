/** Output schemas shared by routers. Dates cross the wire as ISO strings, LSNs as decimal strings. */
import { z } from 'zod';
import { isRetryable, operationTarget } from '../services/operation-info';
import { redactDeep, redactSecrets } from '../services/secrets';

export const iso = z.string();
export const OPERATION_STATUSES = ['scheduled', 'running', 'finished', 'failed', 'cancelled'] as const;
type OperationStatus = (typeof OPERATION_STATUSES)[number];
export const toIso = (d: Date | null) => (d ? d.toISOString() : null);

export const operationStepOut = z.object({
  position: z.number(),
  name: z.string(),
  status: z.enum(OPERATION_STATUSES),
  detail: z.string().nullable(),
  startedAt: iso.nullable(),
  finishedAt: iso.nullable(),
});

export const operationOut = z.object({
  id: z.string(),
  kind: z.string(),
  /** What it acted on (`branch dev from main at LSN 123`), so rows of one kind can be told apart. */
  target: z.string().nullable(),
  status: z.enum(OPERATION_STATUSES),
  /** A failure a retry could fix; false for one that can only fail again (CONFLICT, INVALID, …). */
  retryable: z.boolean(),
  actor: z.string().nullable(),
  input: z.unknown(),
  result: z.unknown(),
  errorCode: z.string().nullable(),
  errorMessage: z.string().nullable(),
  attempt: z.number(),
  retryOfId: z.string().nullable(),
  createdAt: iso,
  startedAt: iso.nullable(),
  finishedAt: iso.nullable(),
  steps: z.array(operationStepOut),
});
export type OperationOut = z.infer<typeof operationOut>;

export function showOperation(op: {
  id: string;
  kind: string;
  status: OperationStatus;
  actor: { username: string } | null;
  input: unknown;
  result: unknown;
  errorCode: string | null;
  errorMessage: string | null;
  attempt: number;
  retryOfId: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  steps: { position: number; name: string; status: OperationStatus; detail: string | null; startedAt: Date | null; finishedAt: Date | null }[];
}): OperationOut {
  // Operations are a log every viewer reads: no password in it, even one recorded before redaction existed.
  return {
    ...op,
    target: operationTarget(op.kind, op.input),
    retryable: op.status === 'failed' && isRetryable(op.kind, op.errorCode),
    input: redactDeep(op.input),
    result: redactDeep(op.result),
    errorMessage: op.errorMessage === null ? null : redactSecrets(op.errorMessage),
    actor: op.actor?.username ?? null,
    createdAt: op.createdAt.toISOString(),
    startedAt: toIso(op.startedAt),
    finishedAt: toIso(op.finishedAt),
    steps: op.steps.map((s) => ({ ...s, detail: s.detail === null ? null : redactSecrets(s.detail), startedAt: toIso(s.startedAt), finishedAt: toIso(s.finishedAt) })),
  };
}
