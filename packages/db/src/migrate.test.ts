import { cpSync, mkdtempSync, mkdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MIGRATIONS_DIR, migrate, readMigrations } from './migrate.js';
import { createTestDatabase, type TestDatabase } from './testing.js';

describe('offline migrator', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
    dir = mkdtempSync(join(tmpdir(), 'strata-migrations-'));
    cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
  });
  afterAll(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const count = async (sql: string) => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      return (await c.query(sql)).rows;
    } finally {
      await c.end();
    }
  };

  it('applies every migration once, in name order, and records its checksum', async () => {
    const first = await migrate(db.url, { migrationsDir: dir });
    expect(first.applied).toEqual(readMigrations(dir).map((m) => m.name));
    const again = await migrate(db.url, { migrationsDir: dir });
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toEqual(first.applied);
    const rows = await count('SELECT name, checksum FROM "_strata_migrations" ORDER BY name');
    expect(rows.map((r) => r.checksum)).toEqual(readMigrations(dir).map((m) => m.checksum));
  });

  it('rolls a failing migration back entirely and leaves it pending', async () => {
    mkdirSync(join(dir, '99990101000000_broken'));
    writeFileSync(join(dir, '99990101000000_broken', 'migration.sql'), 'CREATE TABLE "Half" (id int);\nSELECT no_such_function();\n');
    await expect(migrate(db.url, { migrationsDir: dir })).rejects.toMatchObject({ code: 'MIGRATION_FAILED' });
    expect(await count(`SELECT 1 FROM information_schema.tables WHERE table_name = 'Half'`)).toEqual([]);
    expect(await count(`SELECT 1 FROM "_strata_migrations" WHERE name = '99990101000000_broken'`)).toEqual([]);
    rmSync(join(dir, '99990101000000_broken'), { recursive: true });
  });

  it('refuses a migration changed after it was applied', async () => {
    const first = readMigrations(dir)[0]!;
    appendFileSync(join(dir, first.name, 'migration.sql'), '\n-- edited\n');
    await expect(migrate(db.url, { migrationsDir: dir })).rejects.toMatchObject({ code: 'MIGRATION_CHECKSUM_MISMATCH' });
  });
});
