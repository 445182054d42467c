/**
 * Real safekeeper processes (`./strata safekeeper`) on loopback for
 * integration tests: start, kill -9, restart on the same data directory,
 * and the few HTTP calls the tests make to them.
 */
import { join } from 'node:path';
import { serviceProcess, type ServiceProcess } from './service-process.js';

export interface SafekeeperProcess extends ServiceProcess {
  readonly id: number;
}

/** `extraArgs` go after the required flags, e.g. `--remote-storage file:///...`. */
export async function safekeeper(id: number, baseDir: string, extraArgs: readonly string[] = []): Promise<SafekeeperProcess> {
  const dataDir = join(baseDir, `sk${id}`);
  const p = await serviceProcess({
    name: `safekeeper ${id}`,
    dataDir,
    args: (port) => ['safekeeper', '--id', String(id), '--listen', `127.0.0.1:${port}`, '--data', dataDir, ...extraArgs],
  });
  return Object.assign(p, { id });
}

/** Starts one safekeeper per id, one after the other. */
export async function startSafekeepers(ids: readonly number[], baseDir: string, extraArgs: readonly string[] = []): Promise<SafekeeperProcess[]> {
  const sks: SafekeeperProcess[] = [];
  for (const id of ids) {
    const s = await safekeeper(id, baseDir, extraArgs);
    await s.start();
    sks.push(s);
  }
  return sks;
}

/** The `hostPort`s of `sks`, comma-separated, as `--safekeepers` takes them. */
export const hostPorts = (sks: readonly SafekeeperProcess[]): string => sks.map((s) => s.hostPort).join(',');

/** GET a timeline's status from one safekeeper. */
export async function timelineStatus(sk: SafekeeperProcess, tenant: string, timeline: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${sk.url}/v1/tenants/${tenant}/timelines/${timeline}`);
  if (!res.ok) throw new Error(`status of ${sk.id}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

export type LsnField = 'oldestLsn' | 'flushLsn' | 'commitLsn' | 'backupLsn' | 'remoteConsistentLsn';

/** One LSN of a timeline's status (decimal strings in JSON). */
export async function timelineLsn(sk: SafekeeperProcess, tenant: string, timeline: string, field: LsnField): Promise<bigint> {
  return BigInt(String((await timelineStatus(sk, tenant, timeline))[field]));
}

/** POST a JSON body to a safekeeper; the caller checks the answer. */
export function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** Creates a timeline on one safekeeper; the caller checks the answer (201). */
export function createTimeline(sk: SafekeeperProcess, tenant: string, body: { timelineId: string; startLsn: bigint; conf: { generation: number; members: number[] } }): Promise<Response> {
  return post(`${sk.url}/v1/tenants/${tenant}/timelines`, { ...body, startLsn: String(body.startLsn) });
}
