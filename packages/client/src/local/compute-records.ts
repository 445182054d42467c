/**
 * The computes of a local cluster as their controllers record them:
 * `$STRATA_HOME/computes/<name>/compute.json`, written by the controller once
 * the compute takes queries and removed at its stop. A record whose
 * controller is gone (killed) is left behind: only records of live
 * controllers count as running.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { isDaemonProcess } from './daemons.js';

export const computeRecordSchema = z.looseObject({
  name: z.string(),
  controllerPid: z.number().int().positive(),
  mariadbdPid: z.number().int().nonnegative(),
  port: z.number().int().min(1).max(65535),
  mode: z.enum(['read-write', 'read-only']),
  tenantId: z.string(),
  timelineId: z.string(),
  startLsn: z.string(),
  connectionUrl: z.string(),
  controlUrl: z.string().optional(),
});
export type ComputeRecord = z.infer<typeof computeRecordSchema>;

export function computesDir(home: string): string {
  return join(home, 'computes');
}

export function readComputeRecord(dataDir: string): ComputeRecord | undefined {
  try {
    const r = computeRecordSchema.safeParse(JSON.parse(readFileSync(join(dataDir, 'compute.json'), 'utf8')));
    return r.success ? r.data : undefined;
  } catch {
    // None, or one being written right now: the next look sees it.
    return undefined;
  }
}

/** True while a compute's controller runs (a record may outlive a killed one). */
export const isControllerAlive = isDaemonProcess;

/** The computes recorded under the home whose controller still runs, by name. */
export function runningComputeRecords(home: string): ComputeRecord[] {
  const dir = computesDir(home);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((e) => readComputeRecord(join(dir, e)))
    .filter((s): s is ComputeRecord => s !== undefined && isControllerAlive(s.controllerPid));
}
