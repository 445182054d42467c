/**
 * The operations this console process is running, each with the AbortController an operator's
 * cancel pulls. Held in memory on purpose: only the process running an operation can stop it at a
 * safe point; an operation of another (or a restarted) console is not cancellable here. Each
 * operation records `runner` (this process) so one left by a process that stopped is found and ended.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { OperationRunner } from '@strata/db';

export type CancelRefusal = 'not-running-here' | 'past-point-of-no-return';

interface Entry {
  readonly controller: AbortController;
  /** Set once a step that cannot be undone began (a timeline deleted): the operation runs to its end. */
  committed: boolean;
}

/** Bounds the map: an operation always ends (its runner's `finally`), so this only guards against a leak. */
const RUNNING_MAX = 1_000;

/** This console process, as its operations record it. */
export function thisProcessRunner(): OperationRunner {
  return { host: hostname(), pid: process.pid, boot: randomUUID() };
}

export class RunningOperations {
  private readonly byId = new Map<string, Entry>();

  constructor(readonly runner: OperationRunner = thisProcessRunner()) {}

  /** Registers operation `id` before it runs; its steps watch the returned signal. */
  begin(id: string): AbortSignal {
    if (this.byId.size >= RUNNING_MAX) throw new Error(`more than ${RUNNING_MAX} operations running in one console`);
    const entry: Entry = { controller: new AbortController(), committed: false };
    this.byId.set(id, entry);
    return entry.controller.signal;
  }

  /** From now on a cancel of `id` is refused: what it does next cannot be left half done. */
  commit(id: string): void {
    const e = this.byId.get(id);
    if (e) e.committed = true;
  }

  isCommitted(id: string): boolean {
    return this.byId.get(id)?.committed ?? false;
  }

  /** Pulls the cancel of `id`, or says why it cannot be. */
  cancel(id: string, reason: string): CancelRefusal | undefined {
    const e = this.byId.get(id);
    if (!e) return 'not-running-here';
    if (e.committed) return 'past-point-of-no-return';
    e.controller.abort(new OperationCancelled(reason));
    return undefined;
  }

  end(id: string): void {
    this.byId.delete(id);
  }
}

/** The reason an operation's signal was aborted with: who cancelled it. */
export class OperationCancelled extends Error {
  override readonly name = 'OperationCancelled';
}

/** The words an operation's cancel is recorded with. */
export function cancelMessage(signal: AbortSignal): string {
  return signal.reason instanceof OperationCancelled ? signal.reason.message : 'cancelled';
}
