/**
 * `strata up`: a whole local cluster in the background — three safekeepers,
 * a page server, remote storage (a directory, or an S3 protocol server with
 * --s3), a tenant imported from a fresh mariadb-install-db, and a
 * read-write compute on its `main` branch. Auth is always on. A second `up`
 * resumes the same cluster with all its data.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { initDatadir } from '@strata/compute';
import { addLocalSafekeeper, type ClusterKeys, daemonLogFile, pageserverArgs, removeLocalSafekeeper, safekeeperArgs, servicesEnv, type StartedDaemon } from '@strata/client/local';
import { freePort } from '../commands/compute.js';
import { tenantImport } from '../commands/pageserver-client.js';
import { authHeaders } from '../commands/safekeeper-endpoints.js';
import { startLocalCompute, unusedPort } from './computes.js';
import { consoleAvailable, ensureConsole } from './console.js';
import { daemonPid, inheritedEnv, type Program, REPO_ROOT, startDaemon, waitReady } from './daemon.js';
import { branchEndpointLines, ensureEndpointProxy } from './endpoints.js';
import { ensureKeys } from './keys.js';
import { type ClusterState, LocalClusterError, readCluster, strataHome, writeCluster } from './state.js';

const S3_BUCKET = 'strata';
const SERVICE_START_TIMEOUT_MS = 60_000;

export interface UpOptions {
  readonly s3: boolean;
  /** Start the console too (default); tests of the storage side skip it. */
  readonly console: boolean;
  readonly log: (line: string) => void;
}

export interface UpResult {
  readonly state: ClusterState;
  readonly lines: string[];
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

async function newCluster(home: string, s3: boolean): Promise<Omit<ClusterState, 'tenantId'>> {
  const keys = await ensureKeys(home);
  const [p1, p2, p3, pps, ps3] = await distinctFreePorts(5);
  const s3Server = s3 ? { port: ps3!, bucket: S3_BUCKET } : null;
  return {
    version: 1,
    s3,
    s3Server,
    remoteStorage: s3Server
      ? `s3://${S3_BUCKET}/cluster?endpoint=http://127.0.0.1:${s3Server.port}&region=us-east-1`
      : pathToFileURL(join(home, 'remote')).href,
    safekeepers: [p1!, p2!, p3!].map((port, i) => ({ id: i + 1, port, url: `http://127.0.0.1:${port}` })),
    pageserver: { port: pps!, url: `http://127.0.0.1:${pps!}` },
    computePorts: {},
    auth: { publicKeyFile: keys.publicKeyFile, privateKeyFile: keys.privateKeyFile, adminTokenFile: keys.adminTokenFile },
    // Hex: safe in a URL and in a shell without quoting.
    db: { user: 'root', password: randomBytes(12).toString('hex') },
    branches: [],
    consolePort: null,
    endpoints: {},
  };
}

type Services = Omit<ClusterState, 'tenantId'>;

async function httpOk(url: string, token: string): Promise<boolean> {
  const r = await fetch(url, { headers: authHeaders(token), signal: AbortSignal.timeout(2000) });
  await r.body?.cancel();
  return r.ok;
}

/** What a daemon runs: a program of the repository and its arguments. */
interface Command {
  readonly program: Program;
  readonly args: readonly string[];
}

/** Starts a daemon unless it runs already; then waits for `probe`. */
async function ensureDaemon(home: string, name: string, what: string, command: Command, env: Record<string, string>, probe: () => Promise<boolean>, log: (l: string) => void): Promise<void> {
  const pid = daemonPid(home, name);
  let d: StartedDaemon;
  if (pid !== undefined) {
    d = { pid, logFile: daemonLogFile(home, name), logOffset: 0 };
  } else {
    log(`starting ${what}`);
    d = startDaemon(home, name, command.args, env, command.program);
  }
  await waitReady(what, d, probe, SERVICE_START_TIMEOUT_MS);
}

function safekeeperCommand(home: string, c: Services, sk: { id: number; port: number }, keys: ClusterKeys): Command {
  return { program: 'safekeeper', args: safekeeperArgs(home, c, sk, keys) };
}

function pageserverCommand(home: string, c: Services, keys: ClusterKeys): Command {
  return { program: 'pageserver', args: pageserverArgs(home, c, keys) };
}

async function startServices(home: string, c: Services, log: (l: string) => void): Promise<void> {
  const keys = await ensureKeys(home);
  const admin = readFileSync(keys.adminTokenFile, 'utf8').trim();
  const env = servicesEnv(c);
  if (c.s3Server) {
    const { port, bucket } = c.s3Server;
    await ensureDaemon(home, 's3', 'the S3 server', { program: 'strata', args: ['s3-server', '--listen', `127.0.0.1:${port}`, '--dir', join(home, 's3'), '--bucket', bucket] }, {}, async () => {
      const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
      await r.body?.cancel();
      return r.status < 500;
    }, log);
  }
  // The safekeepers at once: each needs nothing from the others to listen (peer recovery retries until they do).
  await Promise.all(
    c.safekeepers.map((sk) => ensureDaemon(home, `safekeeper-${sk.id}`, `safekeeper ${sk.id}`, safekeeperCommand(home, c, sk, keys), env, () => httpOk(`${sk.url}/v1/status`, admin), log)),
  );
  await ensureDaemon(home, 'pageserver', 'the page server', pageserverCommand(home, c, keys), env, () => httpOk(`${c.pageserver.url}/v1/status`, admin), log);
}

/** The first tenant: a fresh datadir with a root password, stored by the page server. */
async function importFreshTenant(home: string, c: Services, log: (l: string) => void): Promise<ClusterState> {
  const boot = join(home, 'bootstrap');
  log('creating the database (mariadb-install-db) and importing it as the tenant');
  await initDatadir({ datadir: join(boot, 'datadir'), runDir: join(boot, 'run'), rootPassword: c.db.password });
  const admin = readFileSync(c.auth.adminTokenFile, 'utf8').trim();
  const r = await tenantImport({ pageserver: `127.0.0.1:${c.pageserver.port}`, token: admin, datadir: join(boot, 'datadir'), cwd: home });
  rmSync(boot, { recursive: true, force: true });
  log(`tenant ${r.tenantId}: ${r.pages} pages, ${r.auxFiles} aux files at LSN ${r.lsn}`);
  return { ...c, tenantId: r.tenantId, branches: [{ name: 'main', timelineId: r.timelineId, parent: null, lsn: null, createdAt: new Date().toISOString() }] };
}

export function endpointLines(state: ClusterState, computeUrl: string | undefined): string[] {
  return [
    ...(state.s3Server ? [`s3 http://127.0.0.1:${state.s3Server.port}`] : []),
    ...state.safekeepers.map((s) => `safekeeper ${s.id} ${s.url}`),
    `pageserver ${state.pageserver.url}`,
    ...(computeUrl ? [`compute main ${computeUrl}`] : []),
  ];
}

export async function up(opts: UpOptions, home = strataHome()): Promise<UpResult> {
  mkdirSync(home, { recursive: true });
  let state = readCluster(home);
  if (state && opts.s3 !== state.s3) {
    throw new LocalClusterError(`the cluster in ${home} was created with ${state.s3 ? 'an S3 server (--s3)' : 'a local directory'} as remote storage; run up ${state.s3 ? 'with' : 'without'} --s3 (or use another STRATA_HOME)`);
  }
  if (!state) {
    // Nothing registered: leftovers of an interrupted first `up` hold nothing anyone can name.
    for (const d of ['safekeepers', 'pageserver', 'remote', 's3', 'bootstrap', 'computes']) {
      if (existsSync(join(home, d))) rmSync(join(home, d), { recursive: true, force: true });
    }
    const services = await newCluster(home, opts.s3);
    await startServices(home, services, opts.log);
    state = await importFreshTenant(home, services, opts.log);
    writeCluster(state, home);
  } else {
    await startServices(home, state, opts.log);
  }
  opts.log('starting the compute on branch main');
  const compute = await startLocalCompute(state, { branch: 'main', readOnly: false }, home);
  const lines = endpointLines(state, compute.connectionUrl);
  // After main's compute: the proxy's first look finds it running (started by name, so never stopped when idle).
  await ensureEndpointProxy(home, opts.log);
  if (opts.console && consoleAvailable()) {
    let current = readCluster(home) ?? state;
    if (current.consolePort === null) {
      current = { ...current, consolePort: await unusedPort(current) };
      writeCluster(current, home);
    }
    lines.push(...(await ensureConsole(home, current, opts.log)));
  }
  const final = readCluster(home) ?? state;
  // New lines, after every existing one: each branch's stable address (scale to zero).
  lines.push(...branchEndpointLines(final));
  return { state: final, lines };
}

/**
 * A new safekeeper node for the local cluster (the next id), started and
 * registered; the other safekeepers and the page server restart to know it.
 * It holds no timeline until a membership change adds it. @strata/client/local
 * does it, for the console too.
 */
export function addSafekeeper(log: (l: string) => void, home = strataHome()): Promise<{ id: number; url: string }> {
  return addLocalSafekeeper({ home, repoRoot: REPO_ROOT, baseEnv: inheritedEnv(), log });
}

/**
 * Decommissions a safekeeper node of the local cluster: refused while any
 * branch's timeline names it (move the timeline away with `safekeeper
 * membership` first) or when fewer than three nodes would remain.
 */
export function removeSafekeeper(id: number, log: (l: string) => void, home = strataHome()): Promise<void> {
  return removeLocalSafekeeper({ home, repoRoot: REPO_ROOT, baseEnv: inheritedEnv(), log }, id);
}
