/**
 * Branch endpoints of the local cluster (scale to zero): the registry side.
 * cluster.json names each branch's endpoint port and idle setting (only the
 * CLI writes it); the proxy daemon (endpoint-proxy.ts, `strata endpoints
 * run`, started by `up` and stopped by `down`) reads it and reports what
 * each endpoint is doing in `run/endpoints.json`, which `compute list`
 * reads.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { unusedPort } from './computes.js';
import { daemonPid, startDaemon, stopDaemon, waitReady } from './daemon.js';
import { daemonLogFile, isRunning, type StartedDaemon, updateLocalCluster } from '@strata/client/local';
import { type ClusterState, DEFAULT_IDLE_SECONDS, findBranch, LocalClusterError, requireCluster, strataHome } from './state.js';

export const ENDPOINTS_DAEMON = 'endpoints';
/** The proxy waits for starts in flight before it exits (so `down` finds every compute to stop); a start takes seconds. */
export const ENDPOINTS_STOP_MS = 30_000;
const ENDPOINTS_START_TIMEOUT_MS = 30_000;

/**
 * Gives every branch without one an endpoint (a free port, the default idle
 * setting) and returns the registry as written. The change is made under the
 * registry's lock (@strata/client/local), so a branch the console creates at
 * the same moment is not lost; the proxy calls this too, so branches made
 * without the CLI get their endpoint within a second.
 */
export async function ensureEndpoints(home = strataHome()): Promise<ClusterState> {
  const state = requireCluster(home);
  const missing = state.branches.filter((b) => state.endpoints[b.name] === undefined).length;
  if (missing === 0) return state;
  // Ports are found before the lock (finding one is async; the lock's change is not): a few spare, in case
  // another writer took one meanwhile.
  const ports = new Set<number>();
  while (ports.size < missing + 2) ports.add(await unusedPort(state));
  await updateLocalCluster(home, (now) => {
    const endpoints: Record<string, { port: number; idleSeconds?: number }> = { ...(now.endpoints ?? {}) };
    const taken = new Set([...now.safekeepers.map((x) => x.port), now.pageserver.port, ...Object.values(now.computePorts), ...(now.consolePort ? [now.consolePort] : []), ...Object.values(endpoints).map((e) => e.port)]);
    const free = [...ports].filter((p) => !taken.has(p));
    for (const b of now.branches) {
      if (endpoints[b.name] !== undefined) continue;
      const port = free.shift();
      // Only when others took most of the spares within this call: the next call gives it one.
      if (port === undefined) break;
      endpoints[b.name] = { port, idleSeconds: DEFAULT_IDLE_SECONDS };
    }
    return { ...now, endpoints };
  });
  return requireCluster(home);
}

/** `branch set --branch X --idle-minutes N | --idle-seconds N`: the running proxy picks it up within a second. */
export async function setIdleSeconds(branch: string, idleSeconds: number, home = strataHome()): Promise<ClusterState> {
  findBranch(requireCluster(home), branch);
  await ensureEndpoints(home);
  await updateLocalCluster(home, (now) => {
    const e = now.endpoints?.[branch];
    if (!e) throw new LocalClusterError(`branch ${branch} has no endpoint (it was deleted meanwhile?)`);
    return { ...now, endpoints: { ...now.endpoints, [branch]: { ...e, idleSeconds } } };
  });
  return requireCluster(home);
}

export function idleSettingText(idleSeconds: number): string {
  return idleSeconds === 0 ? 'never' : `${idleSeconds}s`;
}

export function endpointUrl(state: ClusterState, branch: string): string {
  const e = state.endpoints[branch];
  if (!e) throw new LocalClusterError(`branch ${branch} has no endpoint (run ./strata up)`);
  return `mysql://${state.db.user}:${encodeURIComponent(state.db.password)}@127.0.0.1:${e.port}/`;
}

/** What `up` adds to its output: one stable address per branch. */
export function branchEndpointLines(state: ClusterState): string[] {
  return state.branches.filter((b) => state.endpoints[b.name] !== undefined).map((b) => `endpoint ${b.name} ${endpointUrl(state, b.name)}`);
}

// ---------------------------------------------------------------------------------------------
// The proxy's report

export const endpointReportSchema = z.object({
  branch: z.string(),
  port: z.number().int(),
  listening: z.boolean(),
  /** Why the endpoint cannot listen (its port is someone else's); null when it listens. */
  listenError: z.string().nullable(),
  phase: z.enum(['stopped', 'starting', 'active', 'idle', 'stopping']),
  piped: z.number().int().min(0),
  waiting: z.number().int().min(0),
  idleSeconds: z.number().int().min(0),
  /** Unix ms when the last client left (phase idle), else null. */
  idleSinceUnixMs: z.number().nullable(),
  /** True when the endpoint started the running compute (only those are stopped when idle). */
  owned: z.boolean(),
  lastError: z.string().nullable(),
  /** The last wake: connection accepted → compute taking connections, ms. */
  lastWakeMs: z.number().nullable(),
  /** Wakes that succeeded since the proxy started (tells a reader which wake `lastWakeMs` is). */
  wakes: z.number().int().min(0),
});
export type EndpointReport = z.infer<typeof endpointReportSchema>;

export const endpointsStatusSchema = z.object({ pid: z.number().int().positive(), updatedUnixMs: z.number(), endpoints: z.array(endpointReportSchema) });
export type EndpointsStatus = z.infer<typeof endpointsStatusSchema>;

export function endpointsStatusFile(home = strataHome()): string {
  return join(home, 'run', 'endpoints.json');
}

export function writeEndpointsStatus(status: EndpointsStatus, home = strataHome()): void {
  const file = endpointsStatusFile(home);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(endpointsStatusSchema.parse(status)) + '\n', { mode: 0o644 });
  renameSync(tmp, file);
}

/** The running proxy's report; undefined when no proxy runs or its report is not (yet) there. */
export function readEndpointsStatus(home = strataHome()): EndpointsStatus | undefined {
  const file = endpointsStatusFile(home);
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined; // Written by rename: a torn read is a file from before any proxy ran, not a half of one.
  }
  const r = endpointsStatusSchema.safeParse(raw);
  if (!r.success || !isRunning(r.data.pid) || daemonPid(home, ENDPOINTS_DAEMON) !== r.data.pid) return undefined;
  return r.data;
}

/** `compute list`'s endpoint lines: `endpoint BRANCH port P PHASE clients N idle-stop Ns|never ...`. */
export function endpointListLines(state: ClusterState, status: EndpointsStatus | undefined, nowUnixMs: number): string[] {
  return state.branches.flatMap((b) => {
    const e = state.endpoints[b.name];
    if (!e) return [];
    const r = status?.endpoints.find((x) => x.branch === b.name);
    const head = `endpoint ${b.name} port ${e.port}`;
    if (!status) return [`${head} down clients 0 idle-stop ${idleSettingText(e.idleSeconds)} (the endpoint proxy is not running: ./strata up starts it)`];
    if (!r) return [`${head} stopped clients 0 idle-stop ${idleSettingText(e.idleSeconds)} (not served yet)`];
    const notes = [
      ...(!r.listening ? [r.listenError === null ? 'not listening yet' : `not listening: ${r.listenError}`] : []),
      ...(r.phase === 'idle' && r.idleSinceUnixMs !== null ? [`idle for ${Math.max(0, Math.round((nowUnixMs - r.idleSinceUnixMs) / 1000))}s`] : []),
      ...((r.phase === 'idle' || r.phase === 'active') && !r.owned ? ['kept: started by name, not stopped when idle'] : []),
      ...(r.waiting > 0 ? [`${r.waiting} waiting`] : []),
      ...(r.lastWakeMs !== null ? [`last wake ${r.lastWakeMs} ms`] : []),
      ...(r.lastError !== null ? [`last start failed: ${r.lastError}`] : []),
    ];
    return [`${head} ${r.phase} clients ${r.piped} idle-stop ${idleSettingText(r.idleSeconds)}${notes.length ? ` (${notes.join('; ')})` : ''}`];
  });
}

// ---------------------------------------------------------------------------------------------
// The daemon

/** Starts the proxy unless it runs; returns once it listens on every endpoint of the registry. */
export async function ensureEndpointProxy(home: string, log: (line: string) => void): Promise<void> {
  const state = await ensureEndpoints(home);
  const pid = daemonPid(home, ENDPOINTS_DAEMON);
  let d: StartedDaemon;
  if (pid !== undefined) {
    d = { pid, logFile: daemonLogFile(home, ENDPOINTS_DAEMON), logOffset: 0 };
  } else {
    log('starting the branch endpoints (scale to zero)');
    d = startDaemon(home, ENDPOINTS_DAEMON, ['endpoints', 'run'], { STRATA_HOME: home });
  }
  let report: EndpointsStatus | undefined;
  await waitReady('the endpoint proxy', d, async () => {
    const s = readEndpointsStatus(home);
    // Every endpoint answered: listening, or refused its port (said below; the cluster is usable without it).
    const answered = (b: { name: string }) => s?.endpoints.some((e) => e.branch === b.name && (e.listening || e.listenError !== null)) ?? false;
    if (s === undefined || s.pid !== d.pid || !state.branches.every(answered)) return false;
    report = s;
    return true;
  }, ENDPOINTS_START_TIMEOUT_MS);
  for (const e of report?.endpoints ?? []) {
    if (!e.listening) log(`warning: the endpoint of branch ${e.branch} cannot listen on 127.0.0.1:${e.port} (${e.listenError ?? 'no answer'}); the proxy keeps trying`);
  }
}

export async function stopEndpointProxy(home: string, onKill?: () => void): Promise<boolean> {
  return stopDaemon(home, ENDPOINTS_DAEMON, ENDPOINTS_STOP_MS, onKill);
}
