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
import { z } from 'zod';
import { initDatadir } from '@strata/compute';
import { lsnString } from '@strata/core/json';
import { freePort } from '../commands/compute.js';
import { tenantImport } from '../commands/pageserver-client.js';
import { authHeaders } from '../commands/safekeeper-endpoints.js';
import { startLocalCompute, timelineConf, unusedPort } from './computes.js';
import { consoleAvailable, ensureConsole } from './console.js';
import { daemonPid, logFile, type Program, type StartedDaemon, startDaemon, stopDaemon, waitReady } from './daemon.js';
import { branchEndpointLines, ensureEndpointProxy } from './endpoints.js';
import { type ClusterKeys, ensureKeys } from './keys.js';
import { adminToken, type ClusterState, LocalClusterError, readCluster, strataHome, writeCluster } from './state.js';

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

function s3Env(c: Services): Record<string, string> {
  return c.s3 ? { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' } : {};
}

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
    d = { pid, logFile: logFile(home, name), logOffset: 0 };
  } else {
    log(`starting ${what}`);
    d = startDaemon(home, name, command.args, env, command.program);
  }
  await waitReady(what, d, probe, SERVICE_START_TIMEOUT_MS);
}

function safekeeperCommand(home: string, c: Services, sk: { id: number; port: number }, keys: ClusterKeys): Command {
  const peers = c.safekeepers.map((s) => `${s.id}=${s.url}`).join(',');
  const args = [
    '--id', String(sk.id), '--listen', `127.0.0.1:${sk.port}`, '--data', join(home, 'safekeepers', String(sk.id)),
    '--remote-storage', c.remoteStorage, '--peers', peers, '--auth-public-key', keys.publicKeyFile, '--token-file', keys.safekeeperTokenFile,
  ];
  return { program: 'safekeeper', args };
}

function pageserverCommand(home: string, c: Services, keys: ClusterKeys): Command {
  const args = [
    '--listen', `127.0.0.1:${c.pageserver.port}`, '--data', join(home, 'pageserver'),
    // Every registered safekeeper: the page server follows whichever members hold a timeline now.
    '--safekeepers', c.safekeepers.map((s) => `127.0.0.1:${s.port}`).join(','), '--remote-storage', c.remoteStorage,
    '--auth-public-key', keys.publicKeyFile, '--token-file', keys.pageserverTokenFile,
  ];
  return { program: 'pageserver', args };
}

async function startServices(home: string, c: Services, log: (l: string) => void): Promise<void> {
  const keys = await ensureKeys(home);
  const admin = readFileSync(keys.adminTokenFile, 'utf8').trim();
  const env = s3Env(c);
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
 * registered; the page server restarts to follow it too. It holds no
 * timeline until a membership change adds it (`safekeeper membership`).
 */
export async function addSafekeeper(log: (l: string) => void, home = strataHome()): Promise<{ id: number; url: string }> {
  const state = readCluster(home);
  if (!state) throw new LocalClusterError(`no local cluster in ${home}: run ./strata up first`);
  const port = await unusedPort(state);
  const id = Math.max(...state.safekeepers.map((s) => s.id)) + 1;
  const sk = { id, port, url: `http://127.0.0.1:${port}` };
  const next: ClusterState = { ...state, safekeepers: [...state.safekeepers, sk] };
  writeCluster(next, home);
  await startServices(home, next, log);
  // Peers lists and the page server's safekeeper list are command-line flags: restart those that run with the old list.
  await restartSafekeepersForPeers(home, next, state.safekeepers, id, log);
  log('restarting the page server to follow the new safekeeper');
  await stopDaemon(home, 'pageserver', 60_000);
  await startServices(home, next, log);
  return sk;
}

const timelineCommits = z.object({
  timelines: z.array(
    z.object({
      timelineId: z.string(),
      commitLsn: lsnString,
      conf: z.object({ members: z.array(z.number()), newMembers: z.array(z.number()).optional() }),
    }),
  ),
});

/** The commit LSN of each timeline one safekeeper is a member of (by its own configuration); empty when it does not answer. */
async function commitLsns(url: string, id: number, tenantId: string, token: string): Promise<Map<string, bigint>> {
  const r = await fetch(`${url}/v1/tenants/${tenantId}/timelines`, { headers: authHeaders(token), signal: AbortSignal.timeout(3000) }).catch(() => undefined);
  const p = r?.ok ? timelineCommits.safeParse(await r.json().catch(() => null)) : undefined;
  if (!p?.success) await r?.body?.cancel().catch(() => undefined);
  const member = (t: { conf: { members: number[]; newMembers?: number[] | undefined } }) => t.conf.members.includes(id) || (t.conf.newMembers ?? []).includes(id);
  return new Map(p?.success ? p.data.timelines.filter(member).map((t) => [t.timelineId, t.commitLsn]) : []);
}

/** How long a restarted safekeeper may take to be back in its timelines' quorums before the next one goes down. */
const REJOIN_WAIT_MS = 15_000;

/**
 * Restarts the running safekeepers `older` (not the new node `added`) so that
 * their --peers name it: a safekeeper pulls only from its peers and takes a
 * new timeline naming only known nodes, so each must know the new node
 * before a membership change or a branch puts a timeline there. One at a
 * time; before the next goes down, the restarted one has caught up with the
 * commit LSN its peers had when it came back (the proposers reconnected to
 * it), so no timeline has two members away at once.
 */
async function restartSafekeepersForPeers(home: string, next: ClusterState, older: ClusterState['safekeepers'], added: number, log: (l: string) => void): Promise<void> {
  const admin = adminToken(next);
  for (const sk of older) {
    if (daemonPid(home, `safekeeper-${sk.id}`) === undefined) continue;
    log(`restarting safekeeper ${sk.id} with safekeeper ${added} among its peers`);
    await stopDaemon(home, `safekeeper-${sk.id}`, 30_000);
    await startServices(home, next, log);
    const target = new Map<string, bigint>();
    for (const other of next.safekeepers) {
      if (other.id === sk.id) continue;
      for (const [tl, commit] of await commitLsns(other.url, other.id, next.tenantId, admin)) target.set(tl, commit > (target.get(tl) ?? 0n) ? commit : (target.get(tl) ?? 0n));
    }
    const deadline = Date.now() + REJOIN_WAIT_MS;
    for (;;) {
      const mine = await commitLsns(sk.url, sk.id, next.tenantId, admin);
      const behind = [...mine].filter(([tl, commit]) => commit < (target.get(tl) ?? 0n)).map(([tl]) => tl);
      if (behind.length === 0) break;
      if (Date.now() > deadline) {
        log(`safekeeper ${sk.id} has not caught up on ${behind.length} timeline(s) after ${REJOIN_WAIT_MS} ms (no proposer running?): going on`);
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * Decommissions a safekeeper node of the local cluster: refused while any
 * branch's timeline names it (move the timeline away with `safekeeper
 * membership` first) or when fewer than three nodes would remain. Stops it,
 * unregisters it, deletes its data, and restarts the page server on the
 * remaining list.
 */
export async function removeSafekeeper(id: number, log: (l: string) => void, home = strataHome()): Promise<void> {
  const state = readCluster(home);
  if (!state) throw new LocalClusterError(`no local cluster in ${home}: run ./strata up first`);
  if (!state.safekeepers.some((s) => s.id === id)) throw new LocalClusterError(`no safekeeper ${id} (safekeepers: ${state.safekeepers.map((s) => s.id).join(', ')})`);
  if (state.safekeepers.length <= 3) throw new LocalClusterError(`safekeeper ${id} is one of the last three: a timeline needs three nodes to keep a quorum through a failure`);
  for (const b of state.branches) {
    const conf = await timelineConf(state, b.timelineId);
    if (conf && (conf.members.includes(id) || (conf.newMembers ?? []).includes(id))) {
      throw new LocalClusterError(`safekeeper ${id} is a member of branch ${b.name}'s timeline (generation ${conf.generation}: ${conf.members.join(',')}): move it first with ./strata safekeeper membership --branch ${b.name} --members ...`);
    }
  }
  log(`stopping safekeeper ${id}`);
  await stopDaemon(home, `safekeeper-${id}`, 30_000);
  const next: ClusterState = { ...state, safekeepers: state.safekeepers.filter((s) => s.id !== id) };
  writeCluster(next, home);
  rmSync(join(home, 'safekeepers', String(id)), { recursive: true, force: true });
  log('restarting the page server without it');
  await stopDaemon(home, 'pageserver', 60_000);
  await startServices(home, next, log);
}
