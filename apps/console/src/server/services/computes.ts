/**
 * Computes of the local cluster: started and stopped in-process through
 * @strata/client/local (the compute controller program run detached on this
 * host, as the CLI runs it), as recorded operations.
 */
import { z } from 'zod';
import { lsnByTimestamp } from '@strata/client/pageserver-api';
import { localComputeName, startLocalCompute, stopLocalCompute } from '@strata/client/local';
import type { ConsoleDeps } from '../deps';
import { hostEnvironment } from '../../env';
import { defineOperation } from './operations';
import { pageserverTarget, processAlive } from './cluster';
import { viaLocal } from './local-cluster';
import { readComputeFiles, refreshLocalCluster, type ComputeFile, type LocalCluster } from './registry';
import { branchName, lsnInput, pastIsoTime } from './inputs';
import { withoutPassword } from './secrets';
import { notFound } from './errors';

const lsn = lsnInput;

export function computeNames(deps: Pick<ConsoleDeps, 'home'>): string[] {
  return readComputeFiles(deps.home).map((c) => c.name);
}

/** Stops a compute by name (its clean stop; killed after 3 minutes); a compute that is not running is not an error. */
export async function stopComputeIfRunning(deps: ConsoleDeps, name: string): Promise<boolean> {
  return (await stopLocalCompute(deps.home, name)) !== undefined;
}

export interface ComputeStartInput {
  branch: string;
  readOnly: boolean;
  lsn?: string | undefined;
  at?: string | undefined;
}

/** Starts a compute of a branch (read-only at an LSN or a time); `onLine` hears each stage; `signal` gives the start up (and stops what it started). */
export async function startCompute(deps: ConsoleDeps, c: LocalCluster, input: ComputeStartInput, onLine?: (line: string) => void, signal?: AbortSignal): Promise<{ name: string; connectionUrl: string; alreadyRunning: boolean }> {
  const ps = pageserverTarget(c);
  let at: bigint | undefined = input.lsn !== undefined ? BigInt(input.lsn) : undefined;
  if (input.readOnly && at === undefined && input.at !== undefined) {
    const timelineId = c.registry.branches.find((b) => b.name === input.branch)?.timelineId;
    if (!timelineId) throw notFound(`branch ${input.branch}`);
    const when = new Date(input.at);
    // The page server's LSN ↔ time map turns the time into the last LSN committed by then.
    at = await viaLocal(ps, 'lsn by time', () => lsnByTimestamp(ps, c.registry.tenantId, timelineId, when));
  }
  const r = await viaLocal(
    ps,
    'compute start',
    () => startLocalCompute(deps.home, deps.repoRoot, { branch: input.branch, readOnly: input.readOnly, lsn: input.readOnly ? at : undefined, env: hostEnvironment(), signal, ...(onLine ? { onLine } : {}) }),
    `compute ${localComputeName(input.branch, input.readOnly, input.readOnly ? at : undefined)}`,
  );
  return { name: r.compute.name, connectionUrl: r.compute.connectionUrl, alreadyRunning: r.alreadyRunning };
}

/**
 * The read-write compute already serving a branch (its controller alive), if any: a branch has at
 * most one, so a second start answers with it instead of a silent "ready".
 */
export function runningReadWrite(files: readonly ComputeFile[], timelineId: string, alive: (pid: number | undefined) => boolean = processAlive): ComputeFile | undefined {
  return files.find((f) => f.mode === 'read-write' && f.timelineId === timelineId && alive(f.controllerPid));
}

export const computeStart = defineOperation({
  kind: 'compute.start',
  input: z
    .object({ branch: branchName, readOnly: z.boolean().default(false), lsn: lsn.optional(), at: pastIsoTime.optional() })
    .refine((v) => v.readOnly || (v.lsn === undefined && v.at === undefined), 'an LSN or time needs a read-only compute'),
  steps: () => ['start the compute (its controller on this host)', 'refresh the registry'],
  async run(ctx, input) {
    const timelineId = ctx.cluster.registry.branches.find((b) => b.name === input.branch)?.timelineId;
    const running = !input.readOnly && timelineId !== undefined ? runningReadWrite(readComputeFiles(ctx.deps.home), timelineId) : undefined;
    const started = await ctx.step(0, async (detail, signal) => {
      if (running) {
        // Idempotent, and says so: the one read-write compute of the branch is already there.
        detail(`${input.branch} already has a running compute: ${running.name} at ${running.connectionUrl ? withoutPassword(running.connectionUrl) : running.controlUrl}`);
        return { name: running.name, connectionUrl: running.connectionUrl ?? '', alreadyRunning: true };
      }
      const r = await startCompute(ctx.deps, ctx.cluster, input, detail, signal);
      detail(`${r.name} ready`);
      return r;
    });
    // Cancelled once it is up (the cancel came as it became ready): it is stopped, not left running unasked.
    if (!started.alreadyRunning) ctx.onCancel(`stop compute ${started.name}`, () => stopComputeIfRunning(ctx.deps, started.name));
    await ctx.step(1, () => refreshLocalCluster(ctx.deps));
    // The result is stored and shown to every viewer: where the compute is, not the password to it.
    return { name: started.name, connectionUrl: withoutPassword(started.connectionUrl), alreadyRunning: running !== undefined };
  },
});

export const computeStop = defineOperation({
  kind: 'compute.stop',
  input: z.object({ name: z.string().min(1).max(200) }),
  steps: () => ['stop the compute (clean stop of its controller)', 'refresh the registry'],
  async run(ctx, input) {
    await ctx.step(0, async (detail) => {
      const stopped = await stopLocalCompute(ctx.deps.home, input.name);
      if (!stopped) throw notFound(`running compute ${input.name}`);
      detail(stopped.clean ? `${input.name} stopped` : `${input.name} killed: no clean stop within 3 minutes`);
    });
    await ctx.step(1, () => refreshLocalCluster(ctx.deps));
    return { stopped: input.name };
  },
});
