/**
 * The offline migrator. Prisma 7's `migrate deploy` needs a native schema
 * engine that cannot be downloaded here (and without it exits 0 having applied
 * nothing), so prisma/migrations/<name>/migration.sql is applied by this file:
 * in name order, each in its own transaction, recorded with its SHA-256 in
 * `_strata_migrations`. An applied migration whose file changed afterwards is
 * an error, never silently skipped: the database would no longer match the files.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DbError } from './errors.js';

export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../../prisma/migrations', import.meta.url));
const MIGRATIONS_MAX = 10_000;
// Any fixed number: concurrent migrators of one database queue on it instead of racing.
const ADVISORY_LOCK_KEY = 7_317_001;

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: string[];
}

export function readMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): Migration[] {
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'migration.sql')))
    .map((d) => d.name)
    .sort();
  if (names.length > MIGRATIONS_MAX) throw new DbError('MIGRATION_FAILED', `more than ${MIGRATIONS_MAX} migrations in ${dir}`);
  return names.map((name) => {
    const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
    return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
  });
}

export interface MigrateOptions {
  migrationsDir?: string;
  log?: (line: string) => void;
}

/** Applies every pending migration to the database at `connectionString`. */
export async function migrate(connectionString: string, options: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = readMigrations(options.migrationsDir);
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS "_strata_migrations" (
      "name" TEXT PRIMARY KEY,
      "checksum" TEXT NOT NULL,
      "appliedAt" TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    await client.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCK_KEY]);
    try {
      const rows = (await client.query<{ name: string; checksum: string }>('SELECT "name", "checksum" FROM "_strata_migrations"')).rows;
      const done = new Map(rows.map((r) => [r.name, r.checksum]));
      const known = new Set(migrations.map((m) => m.name));
      for (const name of done.keys()) {
        if (!known.has(name)) throw new DbError('MIGRATION_FAILED', `the database has migration ${name}, which is not in the migrations directory (a newer console?)`);
      }
      const result: MigrateResult = { applied: [], alreadyApplied: [] };
      for (const m of migrations) {
        const checksum = done.get(m.name);
        if (checksum !== undefined) {
          if (checksum !== m.checksum) {
            throw new DbError('MIGRATION_CHECKSUM_MISMATCH', `migration ${m.name} was changed after it was applied (checksum ${checksum.slice(0, 12)} in the database, ${m.checksum.slice(0, 12)} on disk)`);
          }
          result.alreadyApplied.push(m.name);
          continue;
        }
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO "_strata_migrations" ("name", "checksum") VALUES ($1, $2)', [m.name, m.checksum]);
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK');
          throw new DbError('MIGRATION_FAILED', `migration ${m.name} failed: ${e instanceof Error ? e.message : String(e)}`);
        }
        options.log?.(`applied migration ${m.name}`);
        result.applied.push(m.name);
      }
      return result;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCK_KEY]);
    }
  } finally {
    await client.end();
  }
}
