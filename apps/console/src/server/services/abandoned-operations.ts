/**
 * Operations whose console process stopped (a restart, a crash) would otherwise show "running"
 * forever: nothing is left to finish or fail them. They are found by the process each one recorded
 * and ended as failed, ABANDONED, so the log and the UI show them like any other failure (and a
 * retry can start them again). Swept when the operations are read, which covers both this console's
 * start and another console process stopping while this one runs.
 */
import { listUnfinishedOperations, markOperationAbandoned, type OperationRunner } from '@strata/db';
import type { ConsoleDeps } from '../deps';
import { processAlive } from './cluster';

export const ABANDONED = { code: 'ABANDONED', message: 'the console process running it stopped' } as const;

/**
 * Whether the process that runs an operation is gone. Unknown (another host, whose pids mean nothing
 * here) counts as alive: ending an operation that still runs would be worse than a late sweep.
 * A row without a runner was written before runners were recorded, so by a console that is gone.
 */
export function runnerGone(runner: Partial<OperationRunner> | null, self: OperationRunner, alive: (pid: number) => boolean = processAlive): boolean {
  if (runner === null) return true;
  if (runner.boot === self.boot) return false;
  if (runner.host !== self.host) return false;
  // This pid is this process, but another boot id: a console that ran in this process earlier
  // (a dev server's reload) and whose operations no longer have a runner.
  if (runner.pid === self.pid) return true;
  return runner.pid === undefined || !alive(runner.pid);
}

/** Ends every unfinished operation whose runner is gone; returns their ids. */
export async function sweepAbandonedOperations(deps: Pick<ConsoleDeps, 'db' | 'running' | 'now'>): Promise<string[]> {
  const ended: string[] = [];
  for (const op of await listUnfinishedOperations(deps.db)) {
    if (!runnerGone(op.runner, deps.running.runner)) continue;
    if (await markOperationAbandoned(deps.db, op.id, ABANDONED, deps.now())) ended.push(op.id);
  }
  return ended;
}
