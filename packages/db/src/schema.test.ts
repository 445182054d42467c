/**
 * The migrations are the source of truth for the database, schema.prisma for the
 * client: a database migrated from prisma/migrations must have exactly the tables,
 * columns (type, nullability, defaults), enums, indexes and foreign keys that
 * schema.prisma declares (read through Prisma's own parser, getDMMF). This test fails
 * when either file changes without the other.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getDMMF } from '@prisma/get-dmmf';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from './migrate.js';
import { createTestDatabase, type TestDatabase } from './testing.js';

const schemaPath = fileURLToPath(new URL('../../../prisma/schema.prisma', import.meta.url));

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: string;
  type: string;
  isRequired: boolean;
  isList: boolean;
  isUpdatedAt: boolean;
  nativeType?: unknown;
  hasDefaultValue: boolean;
  default?: unknown;
  relationFromFields?: readonly string[];
  relationToFields?: readonly string[];
  relationOnDelete?: string;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: readonly DmmfField[];
}
interface DmmfIndex {
  model: string;
  type: string;
  fields: readonly { name: string }[];
}

const scalarTypes: Record<string, { type: string; precision?: number }> = {
  String: { type: 'text' },
  Int: { type: 'integer' },
  BigInt: { type: 'bigint' },
  Float: { type: 'double precision' },
  Boolean: { type: 'boolean' },
  DateTime: { type: 'timestamp without time zone', precision: 3 },
  Json: { type: 'jsonb' },
};

/** What Postgres reports as a column's default for what the schema declares. */
function expectedDefault(field: DmmfField): string | null {
  if (!field.hasDefaultValue) return null;
  const d = field.default;
  if (typeof d === 'object' && d !== null && 'name' in d) {
    const name = (d as { name: string }).name;
    // uuid()/cuid() are filled in by the client, not by the database.
    if (name === 'uuid' || name === 'cuid') return null;
    if (name === 'now') return 'CURRENT_TIMESTAMP';
    if (name === 'autoincrement') return `nextval('"${field.dbName ?? 'SEQ'}"'`;
    throw new Error(`default ${name}() has no mapping in this test yet`);
  }
  if (field.kind === 'enum') return `'${String(d)}'::"${field.type}"`;
  if (typeof d === 'string') return `'${d}'::text`;
  return String(d);
}

describe('prisma/migrations ≡ schema.prisma', () => {
  let db: TestDatabase;
  let client: pg.Client;
  let models: DmmfModel[];
  let enums: { name: string; values: readonly { name: string }[] }[];
  let indexes: DmmfIndex[];

  beforeAll(async () => {
    const dmmf = await getDMMF({ datamodel: readFileSync(schemaPath, 'utf8') });
    if (!('datamodel' in dmmf)) throw new Error(`schema.prisma does not parse: ${JSON.stringify(dmmf)}`);
    models = dmmf.datamodel.models as unknown as DmmfModel[];
    enums = dmmf.datamodel.enums as unknown as typeof enums;
    indexes = dmmf.datamodel.indexes as unknown as DmmfIndex[];
    // An empty database migrated by our migrator, not the test template, so this proves the path production takes.
    db = await createTestDatabase({ migrated: false });
    await migrate(db.url);
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  const tableOf = (m: DmmfModel) => m.dbName ?? m.name;
  const columnOf = (models: DmmfModel[], model: string, field: string) => {
    const m = models.find((x) => x.name === model);
    const f = m?.fields.find((x) => x.name === field);
    if (!f) throw new Error(`no field ${model}.${field}`);
    return f.dbName ?? f.name;
  };

  it('has exactly the declared tables', async () => {
    const rows = (await client.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)).rows;
    const actual = rows.map((r) => r.table_name).filter((t) => t !== '_strata_migrations').sort();
    expect(actual).toEqual(models.map(tableOf).sort());
  });

  it('has exactly the declared enums, values in order', async () => {
    const rows = (
      await client.query<{ name: string; value: string }>(
        `SELECT t.typname AS name, e.enumlabel AS value FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
         JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' ORDER BY t.typname, e.enumsortorder`,
      )
    ).rows;
    const actual: Record<string, string[]> = {};
    for (const r of rows) (actual[r.name] ??= []).push(r.value);
    const expected = Object.fromEntries(enums.map((e) => [e.name, e.values.map((v) => v.name)]));
    expect(actual).toEqual(expected);
  });

  it('has exactly the declared columns with their types, nullability and defaults', async () => {
    const rows = (
      await client.query<{ table_name: string; column_name: string; data_type: string; udt_name: string; is_nullable: string; column_default: string | null; datetime_precision: number | null }>(
        `SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default, datetime_precision
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_strata_migrations'`,
      )
    ).rows;
    const actual = rows
      .map((r) => ({
        column: `${r.table_name}.${r.column_name}`,
        type: r.data_type === 'USER-DEFINED' ? `enum ${r.udt_name}` : r.data_type,
        precision: r.data_type.startsWith('timestamp') ? r.datetime_precision : null,
        nullable: r.is_nullable === 'YES',
        // Sequences are named after the table: only the nextval( prefix is compared.
        default: r.column_default?.startsWith('nextval(') ? 'nextval' : r.column_default,
      }))
      .sort((a, b) => a.column.localeCompare(b.column));
    const expected = models
      .flatMap((m) =>
        m.fields
          .filter((f) => f.kind === 'scalar' || f.kind === 'enum')
          .map((f) => {
            if (f.isList) throw new Error(`${m.name}.${f.name}: list columns have no mapping in this test yet`);
            if (f.nativeType) throw new Error(`${m.name}.${f.name}: native types have no mapping in this test yet`);
            const scalar = scalarTypes[f.type];
            if (f.kind === 'scalar' && !scalar) throw new Error(`${m.name}.${f.name}: type ${f.type} has no mapping in this test yet`);
            const def = expectedDefault(f);
            return {
              column: `${tableOf(m)}.${f.dbName ?? f.name}`,
              type: f.kind === 'enum' ? `enum ${f.type}` : scalar!.type,
              precision: scalar?.precision ?? null,
              nullable: !f.isRequired,
              default: def?.startsWith('nextval(') ? 'nextval' : def,
            };
          }),
      )
      .sort((a, b) => a.column.localeCompare(b.column));
    expect(actual).toEqual(expected);
  });

  it('has exactly the declared primary keys, unique constraints and indexes', async () => {
    const rows = (
      await client.query<{ table: string; unique: boolean; primary: boolean; columns: string[] }>(
        `SELECT t.relname AS table, i.indisunique AS unique, i.indisprimary AS primary,
                array_agg(a.attname::text ORDER BY k.ord) AS columns
         FROM pg_index i
         JOIN pg_class t ON t.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
         WHERE n.nspname = 'public' AND t.relname <> '_strata_migrations'
         GROUP BY t.relname, i.indexrelid, i.indisunique, i.indisprimary`,
      )
    ).rows;
    const key = (table: string, kind: string, columns: string[]) => `${table} ${kind} (${columns.join(', ')})`;
    const actual = rows.map((r) => key(r.table, r.primary ? 'id' : r.unique ? 'unique' : 'normal', r.columns)).sort();
    const expected = indexes
      .map((ix) => {
        const m = models.find((x) => x.name === ix.model)!;
        return key(tableOf(m), ix.type, ix.fields.map((f) => columnOf(models, ix.model, f.name)));
      })
      .sort();
    expect(actual).toEqual(expected);
  });

  it('has exactly the declared foreign keys with their delete rules', async () => {
    const rows = (
      await client.query<{ table: string; columns: string[]; ref_table: string; ref_columns: string[]; on_delete: string }>(
        `SELECT c.conrelid::regclass::text AS table, c.confrelid::regclass::text AS ref_table,
                (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(n, ord) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) AS columns,
                (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY k(n, ord) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n) AS ref_columns,
                c.confdeltype AS on_delete
         FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
         WHERE c.contype = 'f' AND n.nspname = 'public'`,
      )
    ).rows;
    const rules: Record<string, string> = { a: 'NoAction', r: 'Restrict', c: 'Cascade', n: 'SetNull', d: 'SetDefault' };
    const unquote = (s: string) => s.replace(/^"|"$/g, '');
    const actual = rows.map((r) => `${unquote(r.table)}(${r.columns.join(',')}) -> ${unquote(r.ref_table)}(${r.ref_columns.join(',')}) on delete ${rules[r.on_delete]}`).sort();
    const expected = models
      .flatMap((m) =>
        m.fields
          .filter((f) => f.kind === 'object' && (f.relationFromFields?.length ?? 0) > 0)
          .map((f) => {
            const target = models.find((x) => x.name === f.type)!;
            // Prisma's defaults: Restrict for a required relation, SetNull for an optional one.
            const onDelete = f.relationOnDelete ?? (f.isRequired ? 'Restrict' : 'SetNull');
            const from = f.relationFromFields!.map((n) => columnOf(models, m.name, n));
            const to = f.relationToFields!.map((n) => columnOf(models, target.name, n));
            return `${tableOf(m)}(${from.join(',')}) -> ${tableOf(target)}(${to.join(',')}) on delete ${onDelete}`;
          }),
      )
      .sort();
    expect(actual).toEqual(expected);
  });
});
