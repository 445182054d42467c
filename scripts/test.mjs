#!/usr/bin/env node
// `npm test`: install what is missing, then run every suite (lint,
// typecheck, unit, integration) and end with one line `N passed, N failed`
// that sums them all.
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
rmSync(outDir, { recursive: true, force: true });

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
