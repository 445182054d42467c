/**
 * Everything the services need, built once per process (or per test): no
 * module-level singletons below this, so a test builds real deps over a temp
 * database and a temp cluster home.
 */
import { sharedDb, type Db } from '@strata/db';
import { env } from '../env';
import { RunningOperations } from './services/running-operations';
import { SignInLimiter } from './services/sign-in-limiter';

export interface ConsoleDeps {
  db: Db;
  /** The local cluster's STRATA_HOME. */
  home: string;
  /** Repository root: where the compute controller program is (computes are started without the CLI). */
  repoRoot: string;
  now: () => Date;
  sessionTtlMs: number;
  metrics: { retentionMs: number; rowsMax: number; scrapeIntervalMs: number };
  secureCookie: boolean;
  /** X-Forwarded-For is set by a reverse proxy in front of the console, not by the client (CONSOLE_TRUSTED_PROXY). */
  trustedProxy: boolean;
  /** Operations run in the background; tests await them here. */
  background: BackgroundTasks;
  /** The operations this process runs, each with the signal an operator's cancel aborts. */
  running: RunningOperations;
  /** Failed sign-ins per user and per address (one console process holds them). */
  signInLimiter: SignInLimiter;
}

export class BackgroundTasks {
  private readonly running = new Set<Promise<unknown>>();

  run(task: () => Promise<unknown>): void {
    const p = task().catch(() => undefined);
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  /** Resolves once no task is running (new tasks started meanwhile are awaited too). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}

const holder = globalThis as typeof globalThis & { __strataConsoleDeps?: ConsoleDeps };

/** The Next server's deps, from the environment. */
export function serverDeps(): ConsoleDeps {
  if (!holder.__strataConsoleDeps) {
    const e = env();
    const now = () => new Date();
    holder.__strataConsoleDeps = {
      db: sharedDb(e.DATABASE_URL, { maxConnections: e.CONSOLE_DB_CONNECTIONS }),
      home: e.STRATA_HOME,
      repoRoot: e.STRATA_REPO,
      now,
      sessionTtlMs: e.CONSOLE_SESSION_TTL_HOURS * 3_600_000,
      metrics: { retentionMs: e.CONSOLE_METRICS_RETENTION_HOURS * 3_600_000, rowsMax: e.CONSOLE_METRICS_ROWS_MAX, scrapeIntervalMs: e.CONSOLE_SCRAPE_INTERVAL_MS },
      secureCookie: e.CONSOLE_SECURE_COOKIE === 'true',
      trustedProxy: e.CONSOLE_TRUSTED_PROXY,
      background: new BackgroundTasks(),
      running: new RunningOperations(),
      signInLimiter: new SignInLimiter(now),
    };
  }
  return holder.__strataConsoleDeps;
}
