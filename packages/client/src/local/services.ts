/**
 * The storage services of a local cluster as processes: the command line of
 * each safekeeper and of the page server (from the registry), and starting
 * whichever of them is not running. `up`, adding and removing a safekeeper
 * node (CLI or console) start them through here.
 */
import { join } from 'node:path';
import { serviceRequest } from '../http.js';
import { daemonPid, daemonLogFile, type DaemonProgram, type StartedDaemon, startDaemon, waitReady } from './daemons.js';
import { type ClusterKeys, keyPaths } from './keys.js';
import { localAdminToken, type LocalClusterState } from './state.js';

const SERVICE_START_TIMEOUT_MS = 60_000;

/** What the service commands need of the registry (`up` builds them before the tenant exists). */
export type ServicesConf = Pick<LocalClusterState, 'safekeepers' | 'pageserver' | 'remoteStorage' | 's3'>;

export function safekeeperArgs(home: string, c: ServicesConf, sk: { id: number; port: number }, keys: ClusterKeys): string[] {
  const peers = c.safekeepers.map((s) => `${s.id}=${s.url}`).join(',');
  return [
    '--id', String(sk.id), '--listen', `127.0.0.1:${sk.port}`, '--data', join(home, 'safekeepers', String(sk.id)),
    '--remote-storage', c.remoteStorage, '--peers', peers, '--auth-public-key', keys.publicKeyFile, '--token-file', keys.safekeeperTokenFile,
  ];
}

export function pageserverArgs(home: string, c: ServicesConf, keys: ClusterKeys): string[] {
  return [
    '--listen', `127.0.0.1:${c.pageserver.port}`, '--data', join(home, 'pageserver'),
    // Every registered safekeeper: the page server follows whichever members hold a timeline now.
    '--safekeepers', c.safekeepers.map((s) => `127.0.0.1:${s.port}`).join(','), '--remote-storage', c.remoteStorage,
    '--auth-public-key', keys.publicKeyFile, '--token-file', keys.pageserverTokenFile,
  ];
}

/** The local S3 server's fixed credentials, when the cluster stores in it. */
export function servicesEnv(c: Pick<ServicesConf, 's3'>): Record<string, string> {
  return c.s3 ? { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' } : {};
}

async function statusOk(url: string, token: string): Promise<boolean> {
  const r = await serviceRequest({ url, token }, '/v1/status', { timeoutMs: 2_000 });
  await r.body?.cancel();
  return r.ok;
}

export interface ServiceHost {
  readonly home: string;
  readonly repoRoot: string;
  /** The starter's environment, which the services inherit. */
  readonly baseEnv: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
}

/** Starts a daemon unless it runs already; then waits until it answers. */
export async function ensureDaemon(host: ServiceHost, name: string, what: string, program: DaemonProgram, args: readonly string[], env: Record<string, string>, probe: () => Promise<boolean>): Promise<void> {
  const pid = daemonPid(host.home, name);
  let d: StartedDaemon;
  if (pid !== undefined) {
    d = { pid, logFile: daemonLogFile(host.home, name), logOffset: 0 };
  } else {
    host.log(`starting ${what}`);
    d = startDaemon({ home: host.home, name, repoRoot: host.repoRoot, program, args, baseEnv: host.baseEnv, env });
  }
  await waitReady(what, d, probe, SERVICE_START_TIMEOUT_MS);
}

/** Every safekeeper (at once: each needs nothing from the others to listen), then the page server, each unless it runs. */
export async function ensureServices(host: ServiceHost, c: ServicesConf & Pick<LocalClusterState, 'auth'>): Promise<void> {
  const keys = keyPaths(host.home);
  const admin = localAdminToken(c);
  const env = servicesEnv(c);
  await Promise.all(c.safekeepers.map((sk) => ensureDaemon(host, `safekeeper-${sk.id}`, `safekeeper ${sk.id}`, 'safekeeper', safekeeperArgs(host.home, c, sk, keys), env, () => statusOk(sk.url, admin))));
  await ensureDaemon(host, 'pageserver', 'the page server', 'pageserver', pageserverArgs(host.home, c, keys), env, () => statusOk(c.pageserver.url, admin));
}
