#!/usr/bin/env node
// Installs what Strata needs and is missing, idempotently: npm dependencies
// (npm ci from the lock file) and Debian packages (mariadb-server) when we
// are root. Fails with a message that says what to do otherwise.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
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

function npmDepsCurrent() {
  const lock = join(root, 'package-lock.json');
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(marker)) return false;
  return statSync(marker).mtimeMs >= statSync(lock).mtimeMs;
}

export function ensureNpm() {
  if (npmDepsCurrent()) return;
  log('installing npm dependencies (npm ci)…');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) fail('npm ci failed; see the output above (is the npm registry reachable?)');
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
  if (missing.length) apt(missing);
}

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) fail(`Node ${process.versions.node} is too old: Strata needs Node 20 or newer`);
if (!npmOnly) ensureSystem();
ensureNpm();
if (!quiet) log('dependencies present');

