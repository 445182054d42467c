#!/usr/bin/env node
// Generates the Prisma client into src/generated/prisma when it is missing or older than
// prisma/schema.prisma (by content hash, so a clean checkout and a changed schema both
// regenerate, and an unchanged one costs nothing). Generated code is not committed.
//
// Prisma's CLI wants a native schema engine it cannot download offline; `generate` does not
// use it, so PRISMA_SCHEMA_ENGINE_BINARY points at a no-op binary.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(pkg, '..', '..');
const schema = join(root, 'prisma', 'schema.prisma');
const out = join(pkg, 'src', 'generated', 'prisma');
const stamp = join(out, '.schema-sha256');

export function schemaHash() {
  const prismaVersion = JSON.parse(readFileSync(join(root, 'node_modules', 'prisma', 'package.json'), 'utf8')).version;
  return createHash('sha256').update(readFileSync(schema)).update(prismaVersion).digest('hex');
}

export function generateDbClient({ quiet = false } = {}) {
  const hash = schemaHash();
  if (existsSync(join(out, 'client.ts')) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash) return false;
  if (!quiet) process.stderr.write('[strata] generating the Prisma client (packages/db/src/generated)…\n');
  const r = spawnSync(join(root, 'node_modules', '.bin', 'prisma'), ['generate', '--schema', schema], {
    cwd: pkg,
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/true', PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' },
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    throw new Error('prisma generate failed');
  }
  writeFileSync(stamp, hash + '\n');
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    generateDbClient({ quiet: process.argv.includes('--quiet') });
  } catch (e) {
    process.stderr.write(`[strata] error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
