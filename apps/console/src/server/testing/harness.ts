/**
 * Test fixtures: a fresh Postgres database, a real local cluster (`./strata up`
 * in a temp STRATA_HOME) and tRPC callers signed in as an admin and a viewer.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createDb } from '@strata/db';
import { createTestDatabase, type TestDatabase } from '@strata/db/testing';
import { BackgroundTasks, type ConsoleDeps } from '../deps';
import { appRouter } from '../routers/_app';
import { addOperator, sessionOperator } from '../services/auth';
import { RunningOperations } from '../services/running-operations';
import { SignInLimiter } from '../services/sign-in-limiter';
import { createCallerFactory, type Context } from '../trpc';

export const REPO_ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));
const run = promisify(execFile);
const createCaller = createCallerFactory(appRouter);

export async function strataUp(home: string): Promise<string> {
  const { stdout } = await run(join(REPO_ROOT, 'strata'), ['up', '--no-console'], { cwd: REPO_ROOT, env: { ...process.env, STRATA_HOME: home }, timeout: 300_000 });
  return stdout;
}

export async function strataDown(home: string): Promise<void> {
  await run(join(REPO_ROOT, 'strata'), ['down'], { cwd: REPO_ROOT, env: { ...process.env, STRATA_HOME: home }, timeout: 300_000 }).catch(() => undefined);
}

export interface Harness {
  deps: ConsoleDeps;
  home: string;
  database: TestDatabase;
  /** A caller with the session of `token` (cookies it sets are captured in `jar`). */
  caller(token?: string): ReturnType<typeof createCaller>;
  jar: { token: string | undefined };
  signIn(username: string, password: string): Promise<string>;
  close(): Promise<void>;
}

export async function createHarness(options: { cluster: boolean }): Promise<Harness> {
  const database = await createTestDatabase();
  const home = mkdtempSync(join(tmpdir(), 'strata-console-'));
  if (options.cluster) await strataUp(home);
  const now = () => new Date();
  const deps: ConsoleDeps = {
    db: createDb(database.url, { maxConnections: 3 }),
    home,
    repoRoot: REPO_ROOT,
    now,
    sessionTtlMs: 3_600_000,
    metrics: { retentionMs: 3_600_000, rowsMax: 10_000, scrapeIntervalMs: 0 },
    secureCookie: false,
    trustedProxy: false,
    background: new BackgroundTasks(),
    running: new RunningOperations(),
    signInLimiter: new SignInLimiter(now),
  };
  const jar: { token: string | undefined } = { token: undefined };
  const contextFor = async (token?: string): Promise<Context> => ({
    deps,
    session: await sessionOperator(deps, token),
    clientAddress: null,
    cookies: {
      setSession: (t) => {
        jar.token = t;
      },
      clearSession: () => {
        jar.token = undefined;
      },
    },
  });
  const caller = (token?: string) => createCaller(() => contextFor(token));
  return {
    deps,
    home,
    database,
    caller,
    jar,
    async signIn(username, password) {
      await caller().operators.signIn({ username, password });
      if (!jar.token) throw new Error('signIn set no cookie');
      return jar.token;
    },
    async close() {
      await deps.background.idle();
      if (options.cluster) await strataDown(home);
      await deps.db.$disconnect();
      await database.drop();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

export { addOperator };

/** The two operators most router tests need, signed in: an admin and a viewer. */
export async function adminAndViewer(h: Harness): Promise<{ admin: string; viewer: string }> {
  await addOperator(h.deps, { username: 'admin', password: 'correct horse', role: 'admin' });
  await addOperator(h.deps, { username: 'viewer', password: 'battery staple', role: 'viewer' });
  return { admin: await h.signIn('admin', 'correct horse'), viewer: await h.signIn('viewer', 'battery staple') };
}
