#!/usr/bin/env node
// Installs what Strata needs and is missing, idempotently: npm dependencies
// (npm ci from the lock file), the console's generated Prisma client, and
// Debian packages (mariadb-server, libfuse2 and fuse for FUSE computes, postgresql for the console's tests,
// chromium for its browser tests) when we are root. Fails with a message that
// says what to do otherwise.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Silent when nothing is missing; installs always say what they do.
const quiet = process.argv.includes('--quiet');
const npmOnly = process.argv.includes('--npm-only');
const log = (msg) => process.stderr.write(`[strata] ${msg}\n`);

function fail(msg) {
  process.stderr.write(`[strata] error: ${msg}\n`);
  process.exit(1);
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
    || existsSync(`/usr/sbin/${cmd}`);
}

// What node_modules was installed from: the hash of package-lock.json, recorded after a
// successful `npm ci`. Content, not mtimes: a lock file rewritten with the same content (or
// touched by an editor) must not wipe node_modules under running processes.
const STAMP = join(root, 'node_modules', '.strata-lock-sha256');

function lockHash() {
  return createHash('sha256').update(readFileSync(join(root, 'package-lock.json'))).digest('hex');
}

function npmDepsCurrent() {
  if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) return false;
  if (existsSync(STAMP)) return readFileSync(STAMP, 'utf8').trim() === lockHash();
  // Installed by hand (npm install/ci without us): trust it if it is not older than the lock.
  return statSync(join(root, 'node_modules', '.package-lock.json')).mtimeMs >= statSync(join(root, 'package-lock.json')).mtimeMs;
}

/** One install at a time: concurrent `./strata` runs wait for the first instead of racing npm ci. */
function withInstallLock(fn) {
  const lockDir = join(root, '.strata-install.lock');
  for (let i = 0; ; i++) {
    try {
      mkdirSync(lockDir);
      break;
    } catch {
      if (i > 600) fail(`${lockDir} has been held for 10 minutes; remove it if no install is running`);
      execFileSync('sleep', ['1']);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

export function ensureNpm() {
  if (npmDepsCurrent()) {
    if (!existsSync(STAMP)) writeFileSync(STAMP, lockHash() + '\n');
    return;
  }
  withInstallLock(() => {
    if (npmDepsCurrent()) return; // another run installed while we waited
    log('installing npm dependencies (npm ci)…');
    const hash = lockHash();
    const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) fail('npm ci failed; see the output above (is the npm registry reachable?)');
    writeFileSync(STAMP, hash + '\n');
  });
}

function apt(packages) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    fail(`missing system packages: ${packages.join(' ')}. Install them with: sudo apt-get install -y ${packages.join(' ')}`);
  }
  if (!has('apt-get')) fail(`missing system packages ${packages.join(' ')} and no apt-get on this machine: install them by hand`);
  log(`installing ${packages.join(' ')} with apt-get…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (let attempt = 1; attempt <= 5; attempt++) {
    // Another apt may hold the dpkg lock on a fresh machine: wait and retry.
    const upd = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const ins = upd.status === 0
      ? spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: 'inherit', env })
      : upd;
    if (ins.status === 0) return;
    log(`apt-get failed (attempt ${attempt}/5); retrying in 10 s`);
    execFileSync('sleep', ['10']);
  }
  fail(`apt-get install ${packages.join(' ')} failed`);
}

export function ensureSystem() {
  const missing = [];
  if (!has('mariadbd') || !has('mariadb-install-db')) missing.push('mariadb-server');
  // Tests import datadirs prepared by mariabackup, as operators bring existing databases.
  if (!has('mariadb-backup')) missing.push('mariadb-backup');
  // The console's tests create their own databases on a real Postgres (a private cluster via initdb
  // when none is running); its browser tests drive Debian's Chromium, never a downloaded one.
  if (!has('initdb') && !existsSync('/usr/lib/postgresql')) missing.push('postgresql');
  if (!has('chromium')) missing.push('chromium');
  // FUSE computes (the datadir served by the compute controller): fuse-native loads libfuse.so.2, and
  // fusermount unmounts. Without them a compute falls back to basebackup mode.
  if (!existsSync('/lib/x86_64-linux-gnu/libfuse.so.2') && !existsSync('/usr/lib/x86_64-linux-gnu/libfuse.so.2') && !existsSync('/lib/aarch64-linux-gnu/libfuse.so.2')) missing.push('libfuse2');
  if (!has('fusermount')) missing.push('fuse');
  if (missing.length) apt(missing);
}

/** The console's Prisma client is generated code (not committed): make it match prisma/schema.prisma. */
async function ensureDbClient() {
  const script = join(root, 'packages', 'db', 'scripts', 'generate.mjs');
  if (!existsSync(script)) return;
  const { generateDbClient } = await import(script);
  try {
    generateDbClient({ quiet });
  } catch (e) {
    fail(`${e instanceof Error ? e.message : String(e)}; run: node packages/db/scripts/generate.mjs`);
  }
}

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) fail(`Node ${process.versions.node} is too old: Strata needs Node 20 or newer`);
if (!npmOnly) ensureSystem();
ensureNpm();
await ensureDbClient();
if (!quiet) log('dependencies present');

