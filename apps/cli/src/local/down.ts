/**
 * `strata down`: the console and every compute at once (a compute's clean
 * stop ships its last redo, so computes go before the storage), then the page
 * server, the safekeepers and the S3 server. Every wait is bounded: a process
 * that has not stopped cleanly by then is killed, and `down` says so. Data
 * stays in the home; `up` resumes it.
 */
import { runningComputes, stopCompute, type ComputeStopped } from './computes.js';
import { stopDaemon } from './daemon.js';
import { ENDPOINTS_STOP_MS, stopEndpointProxy } from './endpoints.js';
import { readCluster, strataHome } from './state.js';

/** A compute's clean stop is a mariadbd shutdown and a final ship: about a second when idle. */
export const COMPUTE_STOP_GRACE_MS = 6_000;
const CONSOLE_STOP_MS = 10_000;
/** The page server freezes its open layers into files before it exits. */
const PAGESERVER_STOP_MS = 20_000;
const SAFEKEEPER_STOP_MS = 10_000;
const S3_STOP_MS = 5_000;

const secondsOf = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function computeLine(s: ComputeStopped): string {
  return s.clean ? `stopped compute ${s.name}` : `killed compute ${s.name}: no clean stop within ${secondsOf(COMPUTE_STOP_GRACE_MS)} (SIGKILL to mariadbd and its controller)`;
}

export async function down(out: (line: string) => void, home = strataHome()): Promise<void> {
  const t0 = performance.now();
  const killed = (what: string, ms: number) => () => out(`${what} did not stop within ${secondsOf(ms)}: SIGKILL`);
  // The endpoints first: no client may wake a compute while they stop, and a start in flight ends before the computes are listed.
  if (await stopEndpointProxy(home, killed('the endpoint proxy', ENDPOINTS_STOP_MS))) out('stopped endpoints');
  const computes = runningComputes(home);
  if (computes.length > 0) {
    out(`stopping ${computes.length === 1 ? 'compute' : `${computes.length} computes in parallel`} (${computes.map((c) => c.name).join(', ')}): clean stop, SIGKILL after ${secondsOf(COMPUTE_STOP_GRACE_MS)}`);
  }
  await Promise.all([
    stopDaemon(home, 'console', CONSOLE_STOP_MS, killed('the console', CONSOLE_STOP_MS)).then((stopped) => stopped && out('stopped console')),
    ...computes.map((c) => stopCompute(c, COMPUTE_STOP_GRACE_MS).then((s) => out(computeLine(s)))),
  ]);
  const state = readCluster(home);
  if (await stopDaemon(home, 'pageserver', PAGESERVER_STOP_MS, killed('the page server', PAGESERVER_STOP_MS))) out('stopped pageserver');
  const sks = state?.safekeepers ?? [1, 2, 3].map((id) => ({ id }));
  const stopped = await Promise.all(sks.map((sk) => stopDaemon(home, `safekeeper-${sk.id}`, SAFEKEEPER_STOP_MS, killed(`safekeeper ${sk.id}`, SAFEKEEPER_STOP_MS))));
  sks.forEach((sk, i) => stopped[i] && out(`stopped safekeeper ${sk.id}`));
  if (await stopDaemon(home, 's3', S3_STOP_MS, killed('the S3 server', S3_STOP_MS))) out('stopped s3');
  out(`down in ${secondsOf(performance.now() - t0)}`);
}
