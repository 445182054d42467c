/** Computes of the local cluster: start/stop through the CLI, as recorded operations. */
import { z } from 'zod';
import type { ConsoleDeps } from '../deps';
import { parseComputeLine, runCli } from './cli';
import { defineOperation } from './operations';
import { processAlive } from './cluster';
import { readComputeFiles, refreshLocalCluster, type ComputeFile } from './registry';
import { branchName, lsnInput, pastIsoTime } from './inputs';
import { withoutPassword } from './secrets';

const lsn = lsnInput;

export function computeNames(deps: Pick<ConsoleDeps, 'home'>): string[] {
  return readComputeFiles(deps.home).map((c) => c.name);
}

/** Stops a compute by name; a compute that is not running is not an error. */
export async function stopComputeIfRunning(deps: ConsoleDeps, name: string): Promise<boolean> {
  try {
    await runCli(deps, ['compute', 'stop', '--name', name], { timeoutMs: 240_000 });
    return true;
  } catch (e) {
    if (e instanceof Error && /no running compute/.test(e.message)) return false;
    throw e;
  }
}

export async function cliComputeStart(deps: ConsoleDeps, input: { branch: string; readOnly: boolean; lsn?: string | undefined; at?: string | undefined }) {
  const args = ['compute', 'start', '--branch', input.branch];
  if (input.readOnly) {
    args.push('--read-only');
    if (input.lsn) args.push('--lsn', input.lsn);
    else if (input.at) args.push('--at', new Date(input.at).toISOString());
  }
  const { stdout } = await runCli(deps, args, { timeoutMs: 300_000 });
  return parseComputeLine(stdout, 'compute start');
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
  steps: () => ['start the compute (strata compute start)', 'refresh the registry'],
  async run(ctx, input) {
    const timelineId = ctx.cluster.registry.branches.find((b) => b.name === input.branch)?.timelineId;
    const running = !input.readOnly && timelineId !== undefined ? runningReadWrite(readComputeFiles(ctx.deps.home), timelineId) : undefined;
    const started = await ctx.step(0, async (detail) => {
      if (running) {
        // Idempotent, and says so: the one read-write compute of the branch is already there.
        detail(`${input.branch} already has a running compute: ${running.name} at ${running.connectionUrl ? withoutPassword(running.connectionUrl) : running.controlUrl}`);
        return { name: running.name, connectionUrl: running.connectionUrl ?? '' };
      }
      const r = await cliComputeStart(ctx.deps, input);
      detail(`${r.name} ready`);
      return r;
    });
    await ctx.step(1, () => refreshLocalCluster(ctx.deps));
    // The result is stored and shown to every viewer: where the compute is, not the password to it.
    return { name: started.name, connectionUrl: withoutPassword(started.connectionUrl), alreadyRunning: running !== undefined };
  },
});

export const computeStop = defineOperation({
  kind: 'compute.stop',
  input: z.object({ name: z.string().min(1).max(200) }),
  steps: () => ['stop the compute (strata compute stop)', 'refresh the registry'],
  async run(ctx, input) {
    await ctx.step(0, () => runCli(ctx.deps, ['compute', 'stop', '--name', input.name], { timeoutMs: 240_000 }));
    await ctx.step(1, () => refreshLocalCluster(ctx.deps));
    return { stopped: input.name };
  },
});
