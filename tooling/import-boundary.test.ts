/**
 * The import boundary of eslint.config.js (packages never import apps), run
 * through ESLint's own API on source text placed in packages/: a wrong
 * import must fail, and the imports packages do use must pass. `npm test`
 * runs this file, and its lint step runs the same rule over the tree.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const eslint = new ESLint({ cwd: root });

/** The messages of the boundary rules for `code` as if it were the file at `path` (relative to the root). */
async function boundaryErrors(code: string, path: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, path) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax').map((m) => m.message);
}

describe('the import boundary: packages never import apps', () => {
  it.each([
    ["import { startPageserver } from '@strata/pageserver/main';", 'packages/client/src/probe.ts'],
    ["import { createApp } from '@strata/safekeeper';", 'packages/service-kit/src/probe.ts'],
    ["export { GetPageService } from '../../../apps/pageserver/src/data-path/getpage-service.js';", 'packages/datadir/src/probe.ts'],
    ["import type { ComputeError } from '@strata/compute';", 'packages/client/src/probe.test.ts'],
    ["const m = await import('@strata/cli/main');", 'packages/client/src/probe.ts'],
    // core has a rule of its own (no node:*): the boundary holds there too.
    ["import { createApp } from '@strata/pageserver';", 'packages/core/src/probe.ts'],
  ])('refuses %s in %s', async (code, path) => {
    const errors = await boundaryErrors(code, path);
    expect(errors.length).toBe(1);
    expect(errors[0]).toMatch(/packages never import apps/);
  });

  it.each([
    ["import { GetPageStatus } from '@strata/core/getpage';", 'packages/client/src/probe.ts'],
    ["import { TarParser } from '@strata/datadir';", 'packages/client/src/probe.ts'],
    ["import { apply } from './apply.js';", 'packages/core/src/redo/probe.ts'],
    ["const m = await import('@strata/zstd');", 'packages/client/src/probe.ts'],
    // Apps may import apps and packages.
    ["import { startPageserver } from '@strata/pageserver/main';", 'apps/cli/src/probe.ts'],
  ])('allows %s in %s', async (code, path) => {
    expect(await boundaryErrors(code, path)).toEqual([]);
  });
});

describe('the environment is read in env.ts only', () => {
  const envErrors = async (code: string, path: string) => {
    const [result] = await eslint.lintText(code, { filePath: join(root, path) });
    return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-properties').map((m) => m.message);
  };

  it.each(['apps/pageserver/src/storage/probe.ts', 'apps/cli/src/local/probe.ts', 'packages/client/src/probe.ts'])('refuses process.env in %s', async (path) => {
    expect(await envErrors("export const home = process.env['STRATA_HOME'];", path)).toEqual([expect.stringMatching(/env\.ts/)]);
  });

  it.each(['apps/cli/src/env.ts', 'apps/pageserver/src/env.ts', 'apps/cli/src/local/probe.test.ts'])('allows it in %s', async (path) => {
    expect(await envErrors("export const home = process.env['STRATA_HOME'];", path)).toEqual([]);
  });
});
