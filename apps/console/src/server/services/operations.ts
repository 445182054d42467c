/**
 * Every admin action is an Operation with named steps, recorded in Postgres
 * as it runs (scheduled → running → finished | failed). A kind's handler is
 * registered once; `retry` re-runs a failed operation's kind with its input
 * as a new attempt.
 */
import type { z } from 'zod';
import {
  createOperation,
  getOperation,
  markOperationFailed,
  markOperationFinished,
  markOperationRunning,
  markStep,
  type OperationRow,
} from '@strata/db';
import type { ConsoleDeps } from '../deps';
import { ConsoleError, conflict, errorMessage } from './errors';
import { isRetryable } from './operation-info';
import type { LocalCluster } from './registry';
import { redactSecrets } from './secrets';

export interface StepContext {
  deps: ConsoleDeps;
  cluster: LocalCluster;
  /** Runs step `position` (of the kind's declared steps), recording its start, end, detail or failure. */
  step<T>(position: number, fn: (detail: (text: string) => void) => Promise<T>): Promise<T>;
  /** For one long action that reports several steps itself (a membership change): set a step's state directly. */
  mark(position: number, status: 'running' | 'finished' | 'failed', detail?: string): Promise<void>;
}

export interface OperationKind<S extends z.ZodType> {
  kind: string;
  input: S;
  steps: (input: z.infer<S>) => string[];
  run: (ctx: StepContext, input: z.infer<S>) => Promise<Record<string, unknown>>;
}

/** A kind with its input type erased: each call parses the input with the kind's own schema first. */
interface AnyKind {
  kind: string;
  parse: (input: unknown) => unknown;
  steps: (input: unknown) => string[];
  run: (ctx: StepContext, input: unknown) => Promise<Record<string, unknown>>;
}
const kinds = new Map<string, AnyKind>();

function erase<S extends z.ZodType>(def: OperationKind<S>): AnyKind {
  return {
    kind: def.kind,
    parse: (i) => def.input.parse(i),
    steps: (i) => def.steps(def.input.parse(i)),
    run: (ctx, i) => def.run(ctx, def.input.parse(i)),
  };
}

export function defineOperation<S extends z.ZodType>(def: OperationKind<S>): OperationKind<S> {
  kinds.set(def.kind, erase(def));
  return def;
}

const DETAIL_CHARS_MAX = 2_000;

/** The step recorder of operation `opId`: what a kind's `run` reports its progress through. */
function stepContext(deps: ConsoleDeps, cluster: LocalCluster, opId: string): StepContext {
  return {
    deps,
    cluster,
    async mark(position, status, detail) {
      await markStep(deps.db, opId, position, { status, ...(detail !== undefined ? { detail: redactSecrets(detail).slice(0, DETAIL_CHARS_MAX) } : {}), at: deps.now() });
    },
    async step(position, fn) {
      let detail: string | null = null;
      let lastWrite = Promise.resolve();
      const setDetail = (text: string) => {
        // Progress lines come from CLIs, which print connection URLs: stored without their passwords.
        detail = redactSecrets(text).slice(0, DETAIL_CHARS_MAX);
        // Progress lines are written as they come so the browser sees them while the step runs.
        lastWrite = lastWrite.then(() => markStep(deps.db, opId, position, { status: 'running', detail, at: deps.now() })).catch(() => undefined);
      };
      await markStep(deps.db, opId, position, { status: 'running', at: deps.now() });
      try {
        const r = await fn(setDetail);
        await lastWrite;
        await markStep(deps.db, opId, position, { status: 'finished', detail, at: deps.now() });
        return r;
      } catch (e) {
        await lastWrite;
        await markStep(deps.db, opId, position, { status: 'failed', detail: redactSecrets(errorMessage(e)).slice(0, DETAIL_CHARS_MAX), at: deps.now() });
        throw e;
      }
    },
  };
}

const failureCode = (e: unknown) => (e instanceof ConsoleError ? (e.details.serviceCode ?? e.code) : 'INTERNAL');

async function execute(deps: ConsoleDeps, cluster: LocalCluster, def: AnyKind, op: OperationRow, input: unknown): Promise<void> {
  await markOperationRunning(deps.db, op.id, deps.now());
  try {
    const result = await def.run(stepContext(deps, cluster, op.id), input);
    await markOperationFinished(deps.db, op.id, JSON.parse(JSON.stringify(result)), deps.now());
  } catch (e) {
    await markOperationFailed(deps.db, op.id, { code: failureCode(e), message: redactSecrets(errorMessage(e)) }, deps.now());
  }
}

/**
 * An action that answers its caller directly (a time-travel query), recorded in the operations log as
 * it runs like any other: who ran what, on which branch and point in time, each step, and how it
 * ended. Its answer goes back to the caller; the log keeps `summarize(answer)`. A failure is
 * recorded and thrown on.
 */
export async function runRecorded<T>(
  deps: ConsoleDeps,
  cluster: LocalCluster,
  rec: { kind: string; input: Record<string, unknown>; steps: string[]; actorId: string | null },
  fn: (ctx: StepContext) => Promise<T>,
  summarize: (answer: T) => Record<string, unknown>,
): Promise<T> {
  const op = await createOperation(deps.db, { clusterId: cluster.cluster.id, kind: rec.kind, actorId: rec.actorId, input: JSON.parse(JSON.stringify(rec.input)) as object, steps: rec.steps });
  await markOperationRunning(deps.db, op.id, deps.now());
  try {
    const answer = await fn(stepContext(deps, cluster, op.id));
    await markOperationFinished(deps.db, op.id, JSON.parse(JSON.stringify(summarize(answer))), deps.now());
    return answer;
  } catch (e) {
    await markOperationFailed(deps.db, op.id, { code: failureCode(e), message: redactSecrets(errorMessage(e)) }, deps.now());
    throw e;
  }
}

/**
 * Records the operation and starts it in the background; the returned row is `scheduled`.
 * The browser follows it through `operations.get`.
 */
export async function startOperation<S extends z.ZodType>(
  deps: ConsoleDeps,
  cluster: LocalCluster,
  def: OperationKind<S>,
  input: z.infer<S>,
  actorId: string | null,
  retry?: { of: OperationRow },
): Promise<OperationRow> {
  return startErased(deps, cluster, erase(def), input, actorId, retry);
}

async function startErased(deps: ConsoleDeps, cluster: LocalCluster, def: AnyKind, input: unknown, actorId: string | null, retry?: { of: OperationRow }): Promise<OperationRow> {
  const parsed = def.parse(input);
  const op = await createOperation(deps.db, {
    clusterId: cluster.cluster.id,
    kind: def.kind,
    actorId,
    input: JSON.parse(JSON.stringify(parsed)) as object,
    steps: def.steps(parsed),
    ...(retry ? { retryOfId: retry.of.id, attempt: retry.of.attempt + 1 } : {}),
  });
  deps.background.run(() => execute(deps, cluster, def, op, parsed));
  return op;
}

/** A failed operation a retry could fix, or a CONFLICT saying why it would only fail again. */
export async function retryableOperation(deps: Pick<ConsoleDeps, 'db'>, id: string): Promise<OperationRow> {
  const op = await getOperation(deps.db, id);
  if (op.status !== 'failed') throw conflict(`operation ${id} is ${op.status}; only failed operations can be retried`);
  if (!isRetryable(op.kind, op.errorCode)) throw conflict(`${op.kind} failed with ${op.errorCode}, which a retry would only repeat: fix the cause, then start it again`);
  return op;
}

export async function retryOperation(deps: ConsoleDeps, cluster: LocalCluster, id: string, actorId: string | null): Promise<OperationRow> {
  const op = await retryableOperation(deps, id);
  const def = kinds.get(op.kind);
  if (!def) throw new ConsoleError('INVALID', `operation kind ${op.kind} cannot be retried by this console`);
  return startErased(deps, cluster, def, op.input, actorId, { of: op });
}
