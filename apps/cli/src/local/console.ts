/**
 * The console of the local cluster: the launcher of apps/console in the
 * background (Postgres from DATABASE_URL, else embedded PGlite under the
 * home). `up` waits for its two lines, `console http://…` and
 * `operator admin <password>`, and prints them among its own.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { daemonPid, logSince, PROGRAMS, REPO_ROOT, startDaemon, waitReady } from './daemon.js';
import { daemonLogFile, type StartedDaemon } from '@strata/client/local';
import type { ClusterState } from './state.js';

/** The launcher's source: a checkout without the console (its sources) has no console. */
const LAUNCHER = join(REPO_ROOT, PROGRAMS.console.source);
/** A first start runs PGlite's initdb and a Next build. */
const CONSOLE_START_TIMEOUT_MS = 300_000;

export function consoleAvailable(): boolean {
  return existsSync(LAUNCHER);
}

export async function ensureConsole(home: string, state: ClusterState, log: (l: string) => void): Promise<string[]> {
  const port = state.consolePort;
  if (port === null) throw new Error('the cluster has no console port');
  const url = `http://127.0.0.1:${port}`;
  const pid = daemonPid(home, 'console');
  let d: StartedDaemon;
  if (pid !== undefined) {
    d = { pid, logFile: daemonLogFile(home, 'console'), logOffset: 0 };
  } else {
    log('starting the console (a first start builds it and creates its database: up to a few minutes)');
    d = startDaemon(home, 'console', ['--home', home, '--port', String(port)], {}, 'console');
  }
  await waitReady('the console', d, async () => {
    if (pid === undefined && !new RegExp(`^console ${url}$`, 'm').test(logSince(d.logFile, d.logOffset))) return false;
    const r = await fetch(url, { signal: AbortSignal.timeout(3000), redirect: 'manual' });
    await r.body?.cancel();
    return r.status < 500;
  }, CONSOLE_START_TIMEOUT_MS);
  const password = readFileSync(join(home, 'console', 'admin-password'), 'utf8').trim();
  return [`console ${url}`, `operator admin ${password}`];
}
