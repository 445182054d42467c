/**
 * Real Postgres for tests: a fresh database per test file, created from a
 * migrated template (CREATE DATABASE … TEMPLATE is a file copy, ~50 ms) and
 * dropped after. The server is $STRATA_TEST_PG_URL, else 127.0.0.1:5432 as
 * `postgres`; when neither answers and `initdb` exists, a private cluster is
 * started in a temp directory for this process (and stopped at exit).
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrate, readMigrations } from './migrate.js';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

const TEMPLATE_LOCK_KEY = 7_317_002;
let serverUrl: Promise<string> | undefined;

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function canConnect(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Debian keeps initdb and pg_ctl under /usr/lib/postgresql/<major>/bin, off the PATH. */
function pgBin(name: string): string | undefined {
  if (spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0) return name;
  if (!existsSync('/usr/lib/postgresql')) return undefined;
  const majors = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  for (const m of majors) if (existsSync(`/usr/lib/postgresql/${m}/bin/${name}`)) return `/usr/lib/postgresql/${m}/bin/${name}`;
  return undefined;
}

/** initdb + pg_ctl in a temp dir; as root they run as the `postgres` user (Postgres refuses root). */
async function startPrivateCluster(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-pg-'));
  chmodSync(dir, 0o777);
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const run = (cmd: string, args: string[]) => {
    const bin = pgBin(cmd) ?? cmd;
    const full = asRoot ? ['runuser', '-u', 'postgres', '--', bin, ...args] : [bin, ...args];
    const r = spawnSync(full[0]!, full.slice(1), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
  };
  const data = join(dir, 'data');
  const user = asRoot ? 'postgres' : (process.env.USER ?? 'postgres');
  run('initdb', ['-D', data, '-U', user, '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  process.once('exit', () => {
    const pgCtl = pgBin('pg_ctl') ?? 'pg_ctl';
    const full = asRoot ? ['runuser', '-u', 'postgres', '--', pgCtl, '-D', data, '-m', 'immediate', 'stop'] : [pgCtl, '-D', data, '-m', 'immediate', 'stop'];
    spawnSync(full[0]!, full.slice(1), { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });
  return `postgres://${user}@127.0.0.1:${port}/postgres`;
}

/** The admin URL of a server that tests may create databases on. */
export function testServerUrl(): Promise<string> {
  serverUrl ??= (async () => {
    const given = process.env.STRATA_TEST_PG_URL;
    if (given) return given;
    const local = 'postgres://postgres@127.0.0.1:5432/postgres';
    if (await canConnect(local)) return local;
    if (!pgBin('initdb')) throw new Error('no Postgres on 127.0.0.1:5432 and no initdb to start one: install postgresql or set STRATA_TEST_PG_URL');
    return startPrivateCluster();
  })();
  return serverUrl;
}

/** Name of the template for the current migrations: a changed migration gets a new template. */
function templateName(): string {
  const h = createHash('sha256');
  for (const m of readMigrations()) h.update(m.name).update(m.checksum);
  return `strata_tpl_${h.digest('hex').slice(0, 16)}`;
}

async function ensureTemplate(admin: pg.Client, server: string): Promise<string> {
  const name = templateName();
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (exists.rowCount === 0) {
    // Built under a temporary name and renamed: a template that exists is always complete.
    const building = `${name}_b${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE "${building}"`);
    await migrate(withDatabase(server, building));
    await admin.query(`ALTER DATABASE "${building}" RENAME TO "${name}"`);
  }
  return name;
}

/** A freshly migrated database of its own; call drop() when the test file is done. */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const server = await testServerUrl();
  const name = `strata_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    if (options.migrated === false) {
      await admin.query(`CREATE DATABASE "${name}"`);
    } else {
      // Test files run in parallel workers: one builds the template, copies wait for it (a
      // template being connected to cannot be copied).
      await admin.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK_KEY]);
      try {
        const template = await ensureTemplate(admin, server);
        await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
      } finally {
        await admin.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK_KEY]);
      }
    }
  } finally {
    await admin.end();
  }
  const url = withDatabase(server, name);
  return {
    url,
    name,
    async drop() {
      const c = new pg.Client({ connectionString: server });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

