#!/usr/bin/env node
// `npm test`: install what is missing, build (turbo run build), then run every
// suite (lint, typecheck, unit, integration, the console's e2e) and end with one line
// `N passed, N failed` that sums them all.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', NEXT_TELEMETRY_DISABLED: '1', ...(process.env.CI ? { NO_COLOR: '1' } : {}) };

const ensure = spawnSync(process.execPath, [join(root, 'scripts/ensure-deps.mjs')], { cwd: root, stdio: 'inherit', env });
if (ensure.status !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}

let passed = 0;
let failed = 0;
const bin = (name) => join(root, 'node_modules', '.bin', name);

function check(name, cmd, args) {
  process.stdout.write(`\n== ${name} ==\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.status === 0) passed++;
  else {
    failed++;
    process.stdout.write(`!! ${name} failed\n`);
  }
}

// What the local-cluster and e2e suites run (./strata, its daemons, the console) is built first: the bundles in
// apps/*/dist and the console's Next build. ./strata would rebuild a stale bundle by itself; building here makes a
// broken build one failure up front instead of every suite falling back to TypeScript source.
check('build', bin('turbo'), ['run', 'build', '--output-logs=errors-only']);
check('lint', bin('eslint'), ['.']);
check('typecheck (workspaces)', bin('turbo'), ['run', 'typecheck', '--output-logs=errors-only']);
check('typecheck (tests, bench)', bin('tsc'), ['-p', 'tsconfig.json']);

const outDir = mkdtempSync(join(tmpdir(), 'strata-test-'));
const report = join(outDir, 'vitest.json');
process.stdout.write('\n== vitest (unit + integration) ==\n');
const extra = process.argv.slice(2);
const v = spawnSync(bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...extra], { cwd: root, stdio: 'inherit', env });
if (existsSync(report)) {
  const j = JSON.parse(readFileSync(report, 'utf8'));
  passed += j.numPassedTests ?? 0;
  failed += (j.numFailedTests ?? 0);
  // A file that fails to load has no tests to count: count it as a failure.
  for (const s of j.testResults ?? []) if (s.status === 'failed' && (s.assertionResults ?? []).length === 0) failed++;
} else {
  failed++;
}
if (v.status !== 0 && failed === 0) failed++;

// The console end to end: Playwright (Debian's Chromium) against one real local cluster that the
// suite's globalSetup starts with `./strata up` and stops with `./strata down`. STRATA_E2E=0 skips it.
if (process.env.STRATA_E2E !== '0') {
  process.stdout.write('\n== e2e (playwright, e2e/) ==\n');
  const e2eReport = join(outDir, 'playwright.json');
  const before = failed;
  const pw = spawnSync(bin('playwright'), ['test', '-c', 'e2e/playwright.config.ts', '--reporter=list,json'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...env, PLAYWRIGHT_JSON_OUTPUT_FILE: e2eReport },
    // The config bounds the run (globalTimeout); this is the backstop.
    timeout: 30 * 60_000,
    killSignal: 'SIGTERM',
  });
  if (existsSync(e2eReport)) {
    try {
      const j = JSON.parse(readFileSync(e2eReport, 'utf8'));
      passed += (j.stats?.expected ?? 0) + (j.stats?.flaky ?? 0);
      failed += j.stats?.unexpected ?? 0;
      // A suite that did not start (globalSetup, a spec that fails to load) has errors but no failed test.
      if ((j.errors ?? []).length > 0 && failed === before) failed++;
    } catch {
      failed++;
    }
  }
  // No report (killed, crashed) or a non-zero exit nothing above counted: one failure.
  if (failed === before && pw.status !== 0) failed++;
  if (failed > before) process.stdout.write(`!! e2e failed (traces: e2e/test-results/, screenshots and cluster logs: e2e/artifacts/)\n`);
}
rmSync(outDir, { recursive: true, force: true });

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
