/**
 * The console launcher `./strata up` spawns in the background, built from
 * bin.ts into apps/console/dist/launcher.mjs:
 *
 *   node apps/console/dist/launcher.mjs --home DIR --port P
 *
 * Postgres is DATABASE_URL when set, else an embedded PGlite (behind its
 * socket server) with data under DIR/console/pg. It migrates, seeds the first
 * admin (password kept in DIR/console/admin-password), registers the local
 * cluster from DIR/cluster.json, builds the Next app when its sources changed,
 * serves it on 127.0.0.1:P and then prints exactly
 *
 *   console http://127.0.0.1:P
 *   operator admin <password>
 *
 * SIGTERM (or SIGINT) stops the server and the embedded database cleanly.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadLauncherEnv, type LauncherEnv } from './env';

const consoleDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = resolve(consoleDir, '..', '..');
const log = (msg: string) => process.stderr.write(`[console] ${msg}\n`);

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const p = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(p));
    });
  });
}

/** A hash of everything the Next build depends on: a changed source rebuilds, an unchanged one is served as is. */
export function sourceHash(): string {
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name === 'node_modules' || e.name === '.next' || e.name.endsWith('.test.ts')) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        h.update(p.slice(repoRoot.length)).update(readFileSync(p));
      }
    }
  };
  walk(join(consoleDir, 'src'));
  // The workspace packages the console imports (transpilePackages in next.config.ts).
  for (const pkg of ['db', 'client', 'core']) walk(join(repoRoot, 'packages', pkg, 'src'));
  for (const f of ['next.config.ts', 'package.json', 'tsconfig.json']) h.update(readFileSync(join(consoleDir, f)));
  h.update(readFileSync(join(repoRoot, 'package-lock.json')));
  return h.digest('hex');
}

function withLock<T>(dir: string, fn: () => T): T {
  for (let i = 0; ; i++) {
    try {
      mkdirSync(dir);
      break;
    } catch {
      // Another launcher builds: wait for it (a lock older than 15 minutes is stale).
      if (existsSync(dir) && Date.now() - statSync(dir).mtimeMs > 15 * 60_000) rmSync(dir, { recursive: true, force: true });
      if (i > 900) throw new Error(`${dir} held for 15 minutes`);
      spawnSync('sleep', ['1']);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function ensureBuild(inherited: LauncherEnv['inherited']): void {
  const stamp = join(consoleDir, '.next', 'strata-source-sha256');
  const hash = sourceHash();
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash) return;
  withLock(join(consoleDir, '.next-build.lock'), () => {
    if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash) return;
    log('building the console (next build)…');
    const r = spawnSync(process.execPath, [join(repoRoot, 'node_modules', 'next', 'dist', 'bin', 'next'), 'build', '--webpack'], {
      cwd: consoleDir,
      env: { ...inherited, NEXT_TELEMETRY_DISABLED: '1' },
      stdio: ['ignore', 2, 2],
    });
    if (r.status !== 0) throw new Error('next build failed (see above)');
    writeFileSync(stamp, hash + '\n');
  });
}

function adminPassword(home: string): string {
  const file = join(home, 'console', 'admin-password');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const password = randomBytes(15).toString('base64url');
  mkdirSync(join(home, 'console'), { recursive: true });
  writeFileSync(file, password + '\n', { mode: 0o600 });
  return password;
}

async function waitHttp(url: string, timeoutMs: number, child: ChildProcess): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`next start exited with ${child.exitCode}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (r.status < 500) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

async function generateClient(): Promise<void> {
  // The generated Prisma client must exist before anything imports @strata/db (and before next build).
  const { generateDbClient } = (await import(join(repoRoot, 'packages', 'db', 'scripts', 'generate.mjs'))) as { generateDbClient: (o: { quiet: boolean }) => boolean };
  generateDbClient({ quiet: true });
}

export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: { home: { type: 'string' }, port: { type: 'string' }, 'build-only': { type: 'boolean', default: false } } });
  const env = loadLauncherEnv();
  // `--build-only` (the console's `build` script): the Prisma client and the Next build when its sources changed, then exit.
  if (values['build-only']) {
    await generateClient();
    ensureBuild(env.inherited);
    return;
  }
  if (!values.home || !values.port || !/^\d+$/.test(values.port)) {
    process.stderr.write('usage: launcher --home DIR --port P | --build-only\n');
    process.exit(64);
  }
  const home = resolve(values.home);
  const port = Number(values.port);
  const stops: (() => Promise<void>)[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const s of stops.reverse()) await s().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));

  try {
    await generateClient();

    let databaseUrl = env.databaseUrl;
    let connections = '5';
    if (!databaseUrl) {
      const { PGlite } = await import('@electric-sql/pglite');
      const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
      const dataDir = join(home, 'console', 'pg');
      mkdirSync(dataDir, { recursive: true });
      const db = await PGlite.create(dataDir);
      const pgPort = await freePort();
      const server = new PGLiteSocketServer({ db, port: pgPort, host: '127.0.0.1' });
      await server.start();
      stops.push(async () => {
        await server.stop();
        await db.close();
      });
      databaseUrl = `postgres://postgres@127.0.0.1:${pgPort}/postgres`;
      // PGlite serves one connection at a time.
      connections = '1';
    }

    const { migrate } = await import('@strata/db/migrate');
    // From the repository root, not relative to @strata/db's module: bundled, that module is dist/launcher.mjs.
    const applied = await migrate(databaseUrl, { migrationsDir: join(repoRoot, 'prisma', 'migrations') });
    if (applied.applied.length) log(`applied ${applied.applied.length} migration(s)`);

    const password = adminPassword(home);
    {
      const { createDb } = await import('@strata/db');
      const { BackgroundTasks } = await import('../src/server/deps');
      const { ensureAdmin } = await import('../src/server/services/auth');
      const { SignInLimiter } = await import('../src/server/services/sign-in-limiter');
      const { RunningOperations } = await import('../src/server/services/running-operations');
      const { refreshLocalCluster } = await import('../src/server/services/registry');
      const db = createDb(databaseUrl, { maxConnections: 1 });
      const deps = {
        db,
        home,
        repoRoot,
        now: () => new Date(),
        sessionTtlMs: 0,
        metrics: { retentionMs: 0, rowsMax: 0, scrapeIntervalMs: 0 },
        secureCookie: false,
        trustedProxy: false,
        background: new BackgroundTasks(),
        running: new RunningOperations(),
        signInLimiter: new SignInLimiter(() => new Date()),
      };
      try {
        await ensureAdmin(deps, 'admin', password);
        if (existsSync(join(home, 'cluster.json'))) await refreshLocalCluster(deps);
        else log(`no ${join(home, 'cluster.json')} yet: the console shows the cluster once ./strata up wrote it`);
      } finally {
        // The embedded database has one connection: hand it to the server.
        await db.$disconnect();
      }
    }

    ensureBuild(env.inherited);

    const next = spawn(process.execPath, [join(repoRoot, 'node_modules', 'next', 'dist', 'bin', 'next'), 'start', '-p', String(port), '-H', '127.0.0.1'], {
      cwd: consoleDir,
      env: {
        ...env.inherited,
        NODE_ENV: 'production',
        NEXT_TELEMETRY_DISABLED: '1',
        DATABASE_URL: databaseUrl,
        STRATA_HOME: home,
        STRATA_REPO: repoRoot,
        CONSOLE_DB_CONNECTIONS: connections,
      },
      stdio: ['ignore', 2, 2],
    });
    stops.push(
      () =>
        new Promise<void>((res) => {
          if (next.exitCode !== null) return res();
          next.once('exit', () => res());
          next.kill('SIGTERM');
          setTimeout(() => next.kill('SIGKILL'), 10_000).unref();
        }),
    );
    next.on('exit', (code) => {
      if (!stopping) {
        log(`the Next server exited (${code}); stopping`);
        void stop(1);
      }
    });
    const url = `http://127.0.0.1:${port}`;
    await waitHttp(url, 120_000, next);
    process.stdout.write(`console ${url}\noperator admin ${password}\n`);
  } catch (e) {
    log(`error: ${e instanceof Error ? e.message : String(e)}`);
    await stop(1);
  }
}

