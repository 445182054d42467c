/**
 * `strata compute start|stop|list`: a compute in the foreground (SIGTERM or
 * SIGINT = clean stop), recorded in a state file under its data directory
 * so that `compute list` and `compute stop` find it.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { authHeaders } from '@strata/client';
import { ComputeError, type ControllerArgs, ControllerArgsError, freePort, readStateFile, runController } from '@strata/compute';
import { isRunning } from '@strata/client/local';
import { strataHome } from '../local/state.js';
import { StrataError } from '@strata/core';

export class ComputeCommandError extends StrataError {
  readonly code = 'COMPUTE_COMMAND_FAILED' as const;
  override readonly name = 'ComputeCommandError';
}

function computesDir(): string {
  return join(strataHome(), 'computes');
}

export { freePort };

/** The controller's own arguments, less what `computeStart` fills in from STRATA_HOME. */
export type ComputeStartArgs = Omit<ControllerArgs, 'defaultDataDir' | 'openableRoots'>;

/** Runs until the compute stops; returns the process exit code. The controller itself is @strata/compute's (the console's computes run the same one), and so are its refusals (ControllerArgsError). */
export async function computeStart(args: ComputeStartArgs): Promise<number> {
  return runController({
    ...args,
    defaultDataDir: (name) => join(computesDir(), name),
    // The home's directories may be opened for mariadbd's unprivileged user (search only).
    openableRoots: [strataHome()],
  });
}

/** One line per compute recorded under STRATA_HOME: name, timeline, port, pids, shipper lag. */
export async function computeList(out: (line: string) => void, branchOf: (timelineId: string) => string | undefined = () => undefined, token?: string): Promise<void> {
  const dir = computesDir();
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir).sort()) {
    const s = readStateFile(join(dir, entry));
    if (!s || !isRunning(s.controllerPid)) continue;
    let lag = '-';
    if (s.controlUrl) {
      const r = await fetch(`${s.controlUrl}/v1/status`, { headers: authHeaders(token), signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      const body = r?.ok ? ((await r.json()) as { shipper?: { lagBytes?: string; lagMs?: number } | null }) : undefined;
      if (body?.shipper) lag = `${body.shipper.lagBytes ?? '?'}B/${body.shipper.lagMs ?? '?'}ms`;
    }
    out(`compute ${s.name} branch ${branchOf(s.timelineId) ?? '-'} timeline ${s.timelineId} ${s.mode} port ${s.port} pid ${s.controllerPid} mariadbd ${s.mariadbdPid} lag ${lag} ${s.connectionUrl}`);
  }
}

/** SIGTERM to a compute recorded under STRATA_HOME, then wait for it to finish its clean stop. */
export async function computeStop(name: string, timeoutMs = 180_000): Promise<void> {
  const s = readStateFile(join(computesDir(), name));
  if (!s || !isRunning(s.controllerPid)) throw new ComputeCommandError(`no running compute named ${name} under ${computesDir()}`);
  process.kill(s.controllerPid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (isRunning(s.controllerPid)) {
    if (Date.now() > deadline) throw new ComputeCommandError(`compute ${name} (pid ${s.controllerPid}) did not stop within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export { ComputeError, ControllerArgsError };
