/**
 * The registry of a local cluster: `$STRATA_HOME/cluster.json`. It names
 * what only the control plane knows (ports, branch names, keys, the
 * database password); LSNs, timelines and snapshots live in the services.
 * Written atomically (temp + rename) so a crash never leaves half a file;
 * the writing, the safekeeper directory and the admin token are
 * @strata/client/local's, which the console writes the same file with.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BRANCH_NAME, writeAtomically, writeSafekeeperDirectory } from '@strata/client/local';
import { lsnDecimal } from '@strata/core/json';
import { z } from 'zod';
import { cliEnv } from '../env.js';
import { StrataError } from '@strata/core';

export class LocalClusterError extends StrataError {
  readonly code = 'LOCAL_CLUSTER' as const;
  override readonly name = 'LocalClusterError';
}

export function strataHome(): string {
  return resolve(cliEnv().home ?? '.strata');
}

const hex32 = z.string().regex(/^[0-9a-f]{32}$/);
// One branch-name rule for the CLI and the console.
export { BRANCH_NAME };

export const branchSchema = z.object({
  name: z.string().regex(BRANCH_NAME),
  timelineId: hex32,
  parent: z.string().nullable(),
  /** Decimal LSN of the branch point; null for the root branch. */
  lsn: lsnDecimal.nullable(),
  createdAt: z.string(),
});
export type Branch = z.infer<typeof branchSchema>;

const port = z.number().int().min(1).max(65535);

/** The issue's default for a branch endpoint: a compute nobody used for five minutes is stopped. */
export const DEFAULT_IDLE_SECONDS = 300;

export const clusterSchema = z.object({
  version: z.literal(1),
  tenantId: hex32,
  s3: z.boolean(),
  /** The S3 server's port and bucket when `s3`; the remote storage URL either way. */
  s3Server: z.object({ port, bucket: z.string() }).nullable(),
  remoteStorage: z.string(),
  safekeepers: z.array(z.object({ id: z.number().int().positive(), port, url: z.string() })).min(1),
  pageserver: z.object({ port, url: z.string() }),
  /** Read-write compute ports per branch, kept so a branch's URL stays the same across restarts. */
  computePorts: z.record(z.string(), port),
  auth: z.object({ publicKeyFile: z.string(), privateKeyFile: z.string(), adminTokenFile: z.string() }),
  db: z.object({ user: z.string(), password: z.string() }),
  branches: z.array(branchSchema),
  consolePort: port.nullable(),
  /**
   * Branch endpoints (scale to zero, endpoint-proxy.ts): per branch, the proxy's stable port and how
   * long the compute it started may stay without connections before it stops it (seconds; 0 = never).
   * Absent in registries written before endpoints existed.
   */
  endpoints: z.record(z.string(), z.object({ port, idleSeconds: z.number().int().min(0).max(366 * 86_400).default(DEFAULT_IDLE_SECONDS) })).default({}),
});
export type ClusterState = z.infer<typeof clusterSchema>;

export function clusterFile(home = strataHome()): string {
  return join(home, 'cluster.json');
}

export function readCluster(home = strataHome()): ClusterState | undefined {
  const file = clusterFile(home);
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new LocalClusterError(`${file} is not JSON (${e instanceof Error ? e.message : String(e)}): fix or remove it`);
  }
  const r = clusterSchema.safeParse(raw);
  if (!r.success) throw new LocalClusterError(`${file} is not a Strata cluster registry: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** The local cluster, or a clear error telling the user how to get one. */
export function requireCluster(home = strataHome()): ClusterState {
  const c = readCluster(home);
  if (!c) throw new LocalClusterError(`no local cluster in ${home}: run ./strata up first (or give --pageserver/--safekeepers, or set STRATA_HOME)`);
  return c;
}

export function writeCluster(state: ClusterState, home = strataHome()): void {
  writeAtomically(clusterFile(home), JSON.stringify(clusterSchema.parse(state), null, 2) + '\n', 0o600);
  writeSafekeeperDirectory(state, home);
}

export function findBranch(state: ClusterState, name: string): Branch {
  const b = state.branches.find((x) => x.name === name);
  if (!b) throw new LocalClusterError(`no branch named "${name}" (branches: ${state.branches.map((x) => x.name).join(', ')})`);
  return b;
}

export function safekeeperHostPorts(state: ClusterState): string {
  return state.safekeepers.map((s) => `127.0.0.1:${s.port}`).join(',');
}
