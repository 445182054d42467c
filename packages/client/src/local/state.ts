/**
 * The registry of a local cluster, `$STRATA_HOME/cluster.json`, as every
 * program of the host reads and changes it: the CLI and the console. It names
 * what only the control plane knows (ports, branch names → timeline ids, the
 * key files, the database account); LSNs, timelines and snapshots live in the
 * services. Fields this module does not name pass through untouched (the
 * schema is loose), so a newer CLI's additions survive a console write.
 * Changes are read-modify-write under a lock file and land atomically
 * (temp + rename): a crash never leaves half a file, and two writers never
 * lose each other's change.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { lsnDecimal } from '@strata/core/json';
import { z } from 'zod';
import type { PageserverTarget } from '../pageserver-http.js';
import { LocalClusterError } from './errors.js';
import { withFileLock } from './lock.js';

const hex32 = z.string().regex(/^[0-9a-f]{32}$/);
const port = z.number().int().min(1).max(65535);
export const BRANCH_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export const localBranchSchema = z.looseObject({
  name: z.string().regex(BRANCH_NAME),
  timelineId: hex32,
  parent: z.string().nullable(),
  /** Decimal LSN of the branch point; null for the root branch. */
  lsn: lsnDecimal.nullable(),
  createdAt: z.string(),
});
export type LocalBranch = z.infer<typeof localBranchSchema>;

export const localClusterSchema = z.looseObject({
  version: z.literal(1),
  tenantId: hex32,
  /** Whether remote storage is the local S3 server (its credentials go to the services). */
  s3: z.boolean().optional(),
  remoteStorage: z.string(),
  safekeepers: z.array(z.looseObject({ id: z.number().int().positive(), port, url: z.string() })).min(1),
  pageserver: z.looseObject({ port, url: z.string() }),
  /** Read-write compute ports per branch, kept so a branch's URL stays the same across restarts. */
  computePorts: z.record(z.string(), port),
  auth: z.looseObject({ publicKeyFile: z.string(), privateKeyFile: z.string(), adminTokenFile: z.string() }),
  db: z.looseObject({ user: z.string(), password: z.string() }),
  branches: z.array(localBranchSchema),
  consolePort: port.nullable().optional(),
  /** Branch endpoints (the CLI's scale-to-zero proxy): their ports are taken, and a deleted branch's goes with it. */
  endpoints: z.record(z.string(), z.looseObject({ port })).optional(),
});
export type LocalClusterState = z.infer<typeof localClusterSchema>;

export function clusterFile(home: string): string {
  return join(home, 'cluster.json');
}

export function readLocalCluster(home: string): LocalClusterState | undefined {
  const file = clusterFile(home);
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new LocalClusterError('noCluster', `${file} is not JSON (${e instanceof Error ? e.message : String(e)}): fix or remove it`);
  }
  const r = localClusterSchema.safeParse(raw);
  if (!r.success) throw new LocalClusterError('noCluster', `${file} is not a Strata cluster registry: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** The local cluster, or a clear error saying how to get one. */
export function requireLocalCluster(home: string): LocalClusterState {
  const c = readLocalCluster(home);
  if (!c) throw new LocalClusterError('noCluster', `no local cluster in ${home}: run ./strata up first`);
  return c;
}

/** Writes `file` whole or not at all (temp + rename): a crash never leaves half a file. */
export function writeAtomically(file: string, text: string, mode: number): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, file);
}

/** Every registered safekeeper's H:P, one per line: computes re-read it when a membership change moves their timeline. */
export function writeSafekeeperDirectory(state: LocalClusterState, home: string): string {
  const file = join(home, 'safekeepers.list');
  writeAtomically(file, state.safekeepers.map((s) => `127.0.0.1:${s.port}`).join('\n') + '\n', 0o644);
  return file;
}

/**
 * Reads the registry, applies `change` to it and writes the result, all under
 * the registry's lock: `change` sees what other processes wrote before it.
 * `change` may throw (a name taken meanwhile): nothing is written then.
 */
export function updateLocalCluster(home: string, change: (now: LocalClusterState) => LocalClusterState): Promise<LocalClusterState> {
  return withFileLock(`${clusterFile(home)}.lock`, () => {
    const next = localClusterSchema.parse(change(requireLocalCluster(home)));
    writeAtomically(clusterFile(home), JSON.stringify(next, null, 2) + '\n', 0o600);
    writeSafekeeperDirectory(next, home);
    return next;
  });
}

export function findLocalBranch(state: LocalClusterState, name: string): LocalBranch {
  const b = state.branches.find((x) => x.name === name);
  if (!b) throw new LocalClusterError('notFound', `no branch named "${name}" (branches: ${state.branches.map((x) => x.name).join(', ')})`);
  return b;
}

export function localAdminToken(state: Pick<LocalClusterState, 'auth'>): string {
  return readFileSync(state.auth.adminTokenFile, 'utf8').trim();
}

/** The page server of the local cluster, with the admin token. */
export function localPageserver(state: LocalClusterState): PageserverTarget {
  return { url: state.pageserver.url, token: localAdminToken(state) };
}
