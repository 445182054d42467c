#!/usr/bin/env node
// Builds what users run: one esbuild bundle (ESM, node 20, linked source map) per process entry,
// into apps/<app>/dist/. Workspace packages (@strata/*) and a few pure-JS npm packages are bundled;
// other npm packages stay imports, so native modules (zstd-napi, fuse-native, @node-rs/*, argon2,
// Prisma's runtime) load as they are.
//
//   node scripts/build.mjs [TARGET...] [--if-stale] [--quiet]
//
// TARGET is cli, safekeeper, pageserver, compute or console (default: all). --if-stale rebuilds only the
// bundles one of whose inputs (esbuild's metafile, kept beside the bundle), a workspace
// package.json, the lock file or this script changed since. `turbo run build` runs each app's
// `build` script, which calls this; `./strata` calls it with --if-stale when a source is newer.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Every bundle: the entry, the output, which target builds it. */
export const BUNDLES = [
  { target: 'cli', entry: 'apps/cli/src/bin.ts', out: 'apps/cli/dist/strata.mjs' },
  // `strata redo …` alone: only the redo engine, so a replay (and each of its worker threads) loads no service code.
  { target: 'cli', entry: 'apps/cli/src/redo-main.ts', out: 'apps/cli/dist/strata-redo.mjs' },
  { target: 'safekeeper', entry: 'apps/safekeeper/src/bin.ts', out: 'apps/safekeeper/dist/safekeeper.mjs' },
  { target: 'pageserver', entry: 'apps/pageserver/src/bin.ts', out: 'apps/pageserver/dist/pageserver.mjs' },
  // The compute controller a local cluster's computes run (the CLI's and the console's alike).
  { target: 'compute', entry: 'apps/compute/src/bin.ts', out: 'apps/compute/dist/compute.mjs' },
  { target: 'console', entry: 'apps/console/launcher/bin.ts', out: 'apps/console/dist/launcher.mjs' },
];
const TARGETS = [...new Set(BUNDLES.map((b) => b.target))];

function mtimeMs(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/** package.json of every workspace (their `exports` decide what a bundle contains), the lock file, this script. */
function sharedInputs() {
  const files = [join(ROOT, 'package-lock.json'), fileURLToPath(import.meta.url)];
  for (const dir of ['apps', 'packages']) {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      if (e.isDirectory() && existsSync(join(ROOT, dir, e.name, 'package.json'))) files.push(join(ROOT, dir, e.name, 'package.json'));
    }
  }
  return files;
}

function metaFile(bundle) {
  return join(ROOT, `${bundle.out}.meta.json`);
}

/** True when the bundle is missing or any input it was built from is newer (or gone). */
export function isStale(bundle, shared = sharedInputs()) {
  const built = mtimeMs(join(ROOT, bundle.out));
  const meta = metaFile(bundle);
  if (built === undefined || !existsSync(meta)) return true;
  let metafile;
  try {
    metafile = JSON.parse(readFileSync(meta, 'utf8'));
  } catch {
    return true;
  }
  // Its chunks must all be there (a chunk is never rewritten: its name is its content's hash).
  if (Object.keys(metafile.outputs).some((p) => !existsSync(join(ROOT, p)))) return true;
  for (const file of [...Object.keys(metafile.inputs).map((p) => join(ROOT, p)), ...shared]) {
    const t = mtimeMs(file);
    if (t === undefined || t > built) return true;
  }
  return false;
}

/** Chunks no bundle's metafile names any more, once a day old (a process started before the rebuild may still load them). */
function removeOldChunks(distDir) {
  const chunks = join(distDir, 'chunks');
  if (!existsSync(chunks)) return;
  const named = new Set();
  for (const f of readdirSync(distDir).filter((n) => n.endsWith('.meta.json'))) {
    try {
      for (const p of Object.keys(JSON.parse(readFileSync(join(distDir, f), 'utf8')).outputs)) named.add(join(ROOT, p));
    } catch {
      return; // A metafile being replaced: leave the chunks alone this time.
    }
  }
  const dayAgoMs = Date.now() - 24 * 3600_000;
  for (const n of readdirSync(chunks)) {
    const p = join(chunks, n);
    if (!named.has(p) && !named.has(p.replace(/\.map$/, '')) && (mtimeMs(p) ?? Infinity) < dayAgoMs) rmSync(p, { force: true });
  }
}

/**
 * npm packages bundled too: pure ESM JavaScript every service loads at start. Loading them from one file instead
 * of their hundreds saves about a quarter of a service's start-up CPU. Everything else (native modules, Prisma's
 * runtime and WASM, the AWS SDK that remote storage loads only when used, mysql2, s3rver) stays an import.
 */
const BUNDLED_NPM = /^(hono|@hono\/node-server|zod|jose)(\/|$)/;

/** Workspace packages (and BUNDLED_NPM) are bundled; every other bare import is resolved from node_modules at run time. */
const externalPackages = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (a) => (a.path.startsWith('@strata/') || BUNDLED_NPM.test(a.path) ? undefined : { path: a.path, external: true }));
  },
};

async function buildOne(esbuild, bundle) {
  const out = join(ROOT, bundle.out);
  const name = basename(out, '.mjs');
  const r = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { [name]: bundle.entry },
    bundle: true,
    write: false,
    // What a command loads only when it runs (the S3 server, the compute controller...) stays in chunks of its own,
    // loaded by its `import()`: `strata status` does not load what `strata s3-server` needs.
    splitting: true,
    outdir: dirname(out),
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    // The map points at the sources in the repository; without their text in it, node parses it quicker at start.
    sourcesContent: false,
    metafile: true,
    logLevel: 'error',
    plugins: [externalPackages],
  });
  // Private temporary files renamed into place, the bundle last: a concurrent run never loads half a bundle,
  // and a bundle is never newer than its chunks, map and metafile.
  const tag = `.tmp-${process.pid}`;
  const files = r.outputFiles.map((f) => ({ path: f.path, tmp: f.path + tag, contents: f.contents }));
  files.push({ path: metaFile(bundle), tmp: metaFile(bundle) + tag, contents: JSON.stringify(r.metafile) });
  files.sort((a, b) => Number(a.path === out) - Number(b.path === out));
  try {
    for (const f of files) {
      mkdirSync(dirname(f.path), { recursive: true });
      writeFileSync(f.tmp, f.contents);
    }
    for (const f of files) renameSync(f.tmp, f.path);
  } finally {
    for (const f of files) rmSync(f.tmp, { force: true });
  }
  removeOldChunks(dirname(out));
  return statSync(out).size;
}

export async function build({ targets = TARGETS, ifStale = false, log = () => undefined } = {}) {
  for (const t of targets) if (!TARGETS.includes(t)) throw new Error(`unknown build target ${t} (have: ${TARGETS.join(', ')})`);
  if (targets.includes('console')) {
    // The console's bundle contains the generated Prisma client (regenerated only when the schema changed).
    const { generateDbClient } = await import('../packages/db/scripts/generate.mjs');
    generateDbClient({ quiet: true });
  }
  const shared = sharedInputs();
  const todo = [];
  for (const b of BUNDLES.filter((x) => targets.includes(x.target))) {
    if (!ifStale || isStale(b, shared)) todo.push(b);
    // Checked and current: stamp it so that `./strata`'s quick check (any source newer than the bundle?) stays quiet
    // about files this bundle does not contain.
    else utimesSync(join(ROOT, b.out), new Date(), new Date());
  }
  if (todo.length === 0) return [];
  const esbuild = await import('esbuild');
  for (const b of todo) {
    const t0 = performance.now();
    const bytes = await buildOne(esbuild, b);
    log(`built ${relative(ROOT, join(ROOT, b.out))} (${(bytes / 1024).toFixed(0)} KiB) in ${Math.round(performance.now() - t0)} ms`);
  }
  return todo.map((b) => b.out);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const quiet = args.includes('--quiet');
  try {
    await build({
      targets: args.filter((a) => !a.startsWith('--')).length ? args.filter((a) => !a.startsWith('--')) : TARGETS,
      ifStale: args.includes('--if-stale'),
      log: quiet ? undefined : (line) => process.stderr.write(`[build] ${line}\n`),
    });
  } catch (e) {
    process.stderr.write(`build: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
