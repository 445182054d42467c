/**
 * Every admin action is an Operation with named steps, recorded in Postgres
 * as it runs (scheduled → running → finished | failed | cancelled). A kind's
 * handler is registered once; `retry` re-runs a failed operation's kind with
 * its input as a new attempt. A cancel stops an operation before its next
 * step (or inside a step that watches the signal), then runs the undo actions
 * its steps registered, newest first, so nothing is left half made.
 */
import type { z } from 'zod';
import {
  createOperation,
  getOperation,
  markOperationCancelled,
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
import { cancelMessage } from './running-operations';
import { redactSecrets } from './secrets';

export interface StepContext {
  deps: ConsoleDeps;
  cluster: LocalCluster;
  /** Aborted when an operator cancels: checked before each step; a step may pass it on to a call that takes one. */
  signal: AbortSignal;
  /**
   * Runs step `position` (of the kind's declared steps), recording its start, end, detail or failure.
   * A cancelled operation starts no further step.
   */
  step<T>(position: number, fn: (detail: (text: string) => void, signal: AbortSignal) => Promise<T>): Promise<T>;
  /** For one long action that reports several steps itself (a membership change): set a step's state directly. */
  mark(position: number, status: 'running' | 'finished' | 'failed', detail?: string): Promise<void>;
  /** What a cancel must undo of what a step made (`what` is recorded: "delete branch dev"). */
  onCancel(what: string, undo: () => Promise<unknown>): void;
  /** Past this point the operation cannot be left half done (a timeline was deleted): a cancel is refused. */
  pointOfNoReturn(): void;
}

interface Undo {
  what: string;
  undo: () => Promise<unknown>;
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
function stepContext(deps: ConsoleDeps, cluster: LocalCluster, opId: string, signal: AbortSignal, undos: Undo[]): StepContext {
  return {
    deps,
    cluster,
    signal,
    onCancel(what, undo) {
      undos.push({ what, undo });
    },
    pointOfNoReturn() {
      deps.running.commit(opId);
    },
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
      // The safe point between steps: nothing of this step was started yet.
      signal.throwIfAborted();
      await markStep(deps.db, opId, position, { status: 'running', at: deps.now() });
      try {
        const r = await fn(setDetail, signal);
        await lastWrite;
        await markStep(deps.db, opId, position, { status: 'finished', detail, at: deps.now() });
        return r;
      } catch (e) {
        await lastWrite;
        // A step that stopped because of the cancel did not fail: it was cancelled (its own error is the abort's echo).
        const cancelled = signal.aborted;
        const text = cancelled ? cancelMessage(signal) : errorMessage(e);
        await markStep(deps.db, opId, position, { status: cancelled ? 'cancelled' : 'failed', detail: redactSecrets(text).slice(0, DETAIL_CHARS_MAX), at: deps.now() });
        throw e;
      }
    },
  };
}

const failureCode = (e: unknown) => (e instanceof ConsoleError ? (e.details.serviceCode ?? e.code) : 'INTERNAL');

/**
 * Undoes, newest first, what the cancelled operation's steps made, and records how it ended: cancelled
 * when everything was undone, failed (CANCEL_INCOMPLETE, naming what is left) when an undo failed.
 */
async function recordCancel(deps: ConsoleDeps, opId: string, signal: AbortSignal, undos: readonly Undo[]): Promise<void> {
  const done: string[] = [];
  for (const u of [...undos].reverse()) {
    try {
      await u.undo();
      done.push(u.what);
    } catch (e) {
      const message = `${cancelMessage(signal)}; could not ${u.what}: ${errorMessage(e)}${done.length ? ` (already undone: ${done.join(', ')})` : ''}`;
      await markOperationFailed(deps.db, opId, { code: 'CANCEL_INCOMPLETE', message: redactSecrets(message) }, deps.now());
      return;
    }
  }
  await markOperationCancelled(deps.db, opId, done.length ? `${cancelMessage(signal)}; undone: ${done.join(', ')}` : cancelMessage(signal), deps.now());
}

async function execute(deps: ConsoleDeps, cluster: LocalCluster, def: AnyKind, op: OperationRow, input: unknown, signal: AbortSignal): Promise<void> {
  const undos: Undo[] = [];
  try {
    await markOperationRunning(deps.db, op.id, deps.now());
    // Cancelled while still scheduled: nothing ran.
    signal.throwIfAborted();
    const result = await def.run(stepContext(deps, cluster, op.id, signal, undos), input);
    // Finished, even when a cancel came during its last step: what it made is whole.
    await markOperationFinished(deps.db, op.id, JSON.parse(JSON.stringify(result)), deps.now());
  } catch (e) {
    if (signal.aborted) await recordCancel(deps, op.id, signal, undos);
    else await markOperationFailed(deps.db, op.id, { code: failureCode(e), message: redactSecrets(errorMessage(e)) }, deps.now());
  } finally {
    deps.running.end(op.id);
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
  const op = await createOperation(deps.db, { clusterId: cluster.cluster.id, kind: rec.kind, actorId: rec.actorId, input: JSON.parse(JSON.stringify(rec.input)) as object, steps: rec.steps, runner: deps.running.runner });
  await markOperationRunning(deps.db, op.id, deps.now());
  // Not registered as running: its caller waits for the answer and bounds it, and its cleanup (stopping
  // the ephemeral compute) is itself a step that a cancel would skip. This signal is never aborted.
  const signal = new AbortController().signal;
  try {
    const answer = await fn(stepContext(deps, cluster, op.id, signal, []));
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
    runner: deps.running.runner,
    ...(retry ? { retryOfId: retry.of.id, attempt: retry.of.attempt + 1 } : {}),
  });
  // Registered before it runs, so a cancel that comes while it is still scheduled is heard.
  const signal = deps.running.begin(op.id);
  deps.background.run(() => execute(deps, cluster, def, op, parsed, signal));
  return op;
}

/** An operator's cancel: pulled when the operation runs in this console and has not passed its point of no return. */
export async function cancelOperation(deps: ConsoleDeps, id: string, by: string): Promise<void> {
  const op = await getOperation(deps.db, id);
  if (op.status !== 'scheduled' && op.status !== 'running') throw conflict(`operation ${id} is ${op.status}; only a scheduled or running operation can be cancelled`);
  const refused = deps.running.cancel(id, `cancelled by ${by}`);
  if (refused === 'past-point-of-no-return') throw conflict(`${op.kind} is past its point of no return (what it does now cannot be left half done): it runs to its end`);
  if (refused === 'not-running-here') throw conflict(`${op.kind} is not running in this console process (it was started by another, or before a restart), so it cannot be stopped from here`);
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
