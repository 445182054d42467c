/**
 * Stopping a compute as `down` does: a clean stop when the controller exits
 * on SIGTERM, a kill after the grace period when it does not — computes in
 * parallel, so `down` is bounded by one grace period, not by their count.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { stopCompute } from './computes.js';
import { isRunning } from '@strata/client/local';

const started: number[] = [];

/** A stand-in controller: a node process that exits on SIGTERM, or ignores it. */
async function controller(ignoreSigterm: boolean): Promise<number> {
  const script = ignoreSigterm ? "process.on('SIGTERM', () => undefined); console.log('ready'); setInterval(() => undefined, 1000);" : "console.log('ready'); setInterval(() => undefined, 1000);";
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  started.push(child.pid!);
  return child.pid!;
}

afterEach(() => {
  for (const pid of started.splice(0)) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
});

describe('stopCompute', () => {
  it('a controller that stops on SIGTERM is a clean stop, well within the grace period', async () => {
    const pid = await controller(false);
    const r = await stopCompute({ name: 'a', controllerPid: pid, mariadbdPid: 0 }, 5000);
    expect(r).toMatchObject({ name: 'a', clean: true });
    expect(r.ms).toBeLessThan(2000);
    expect(isRunning(pid)).toBe(false);
  });

  it('a controller that ignores SIGTERM is killed after the grace period, and says so', async () => {
    const pid = await controller(true);
    const r = await stopCompute({ name: 'b', controllerPid: pid, mariadbdPid: 0 }, 300);
    expect(r.clean).toBe(false);
    expect(r.ms).toBeGreaterThanOrEqual(300);
    expect(isRunning(pid)).toBe(false);
  });

  it('computes stopped in parallel take one grace period, not one each', async () => {
    const pids = await Promise.all([controller(true), controller(true), controller(true)]);
    const t0 = performance.now();
    const rs = await Promise.all(pids.map((pid, i) => stopCompute({ name: `c${i}`, controllerPid: pid, mariadbdPid: 0 }, 400)));
    expect(rs.every((r) => !r.clean)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(3 * 400);
  });

  it('a controller that is gone already is a clean stop', async () => {
    const pid = await controller(false);
    process.kill(pid, 'SIGKILL');
    while (isRunning(pid)) await new Promise((r) => setTimeout(r, 10));
    expect((await stopCompute({ name: 'd', controllerPid: pid, mariadbdPid: 0 }, 1000)).clean).toBe(true);
  });
});
