/**
 * The computes of a local cluster as their controllers record them:
 * `$STRATA_HOME/computes/<name>/compute.json`, written by the controller once
 * the compute takes queries and removed at its stop. A record whose
 * controller is gone (killed) is left behind: only records of live
 * controllers count as running.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * Why a compute stopped when the stop is news to an operator: a controller fenced by a newer
 * proposer on its timeline removes its compute.json and exits, so without this record the compute
 * would just vanish from the console. `<home>/computes/<name>/last-exit.json`, written by the
 * controller at that exit and removed when a compute of that name starts again (or the console's
 * operator acknowledges it).
 */
export const computeExitSchema = z.object({
  name: z.string().min(1),
  tenantId: z.string(),
  timelineId: z.string(),
  code: z.string(),
  message: z.string(),
  at: z.iso.datetime(),
});
export type ComputeExitRecord = z.infer<typeof computeExitSchema>;

const EXIT_FILE = 'last-exit.json';

export function writeComputeExit(dataDir: string, rec: ComputeExitRecord): void {
  // Renamed into place: a reader never sees half a record.
  const tmp = join(dataDir, `${EXIT_FILE}.tmp`);
  writeFileSync(tmp, JSON.stringify(computeExitSchema.parse(rec)) + '\n');
  renameSync(tmp, join(dataDir, EXIT_FILE));
}

export function clearComputeExit(dataDir: string): void {
  rmSync(join(dataDir, EXIT_FILE), { force: true });
}

/** A compute's name as a directory under computes/: one path segment, nothing that climbs out. */
export const computeNameSchema = z.string().min(1).max(200).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);

/** The exit records left under the home, by compute name; an unreadable one is skipped (it is only news). */
export function computeExitRecords(home: string): ComputeExitRecord[] {
  const dir = computesDir(home);
  if (!existsSync(dir)) return [];
  const out: ComputeExitRecord[] = [];
  for (const e of readdirSync(dir).sort()) {
    const file = join(dir, e, EXIT_FILE);
    if (!existsSync(file)) continue;
    try {
      const r = computeExitSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
      if (r.success) out.push(r.data);
    } catch {
      // Removed between the look and the read: nothing to report.
    }
  }
  return out;
}
