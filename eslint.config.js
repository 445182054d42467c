import { readdirSync, readFileSync } from 'node:fs';
import { URL } from 'node:url';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Layers point one way: apps import packages, never the reverse. Every app's
 * package name (read from apps/*, so a new app is covered without an edit
 * here) and any relative path into apps/ is refused in packages/.
 */
const appNames = readdirSync(new URL('./apps/', import.meta.url), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => JSON.parse(readFileSync(new URL(`./apps/${d.name}/package.json`, import.meta.url), 'utf8')).name)
  .filter((n) => typeof n === 'string');
const APP_IMPORT_MESSAGE = 'packages never import apps: move what both need into a package (core, client, datadir, service-kit)';
const appImportPatterns = [
  { group: appNames.flatMap((n) => [n, `${n}/*`]), message: APP_IMPORT_MESSAGE },
  { regex: '(^|/)apps/', message: APP_IMPORT_MESSAGE },
];
const escapeRegex = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const appImportRegex = `/^(${appNames.map(escapeRegex).join('|')})(\\/|$)|(^|\\/)apps\\//`;
/** The import boundary: shared by every block that sets no-restricted-imports for packages/ (a later block replaces a rule's options, it does not add to them). */
const appBoundaryRules = {
  'no-restricted-imports': ['error', { patterns: appImportPatterns }],
  // import('…') is not an import declaration: refuse it by its literal source.
  'no-restricted-syntax': ['error', { selector: `ImportExpression[source.value=${appImportRegex}]`, message: APP_IMPORT_MESSAGE }],
};

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/.next/**', '**/.turbo/**', '.strata/**', 'fixtures/**', 'packages/db/src/generated/**', 'apps/console/next-env.d.ts', 'e2e/artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.mjs', 'scripts/**', 'bench/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
  },
  {
    files: ['packages/**/*.{ts,tsx,js,mjs}'],
    rules: appBoundaryRules,
  },
  {
    // One env.ts per app reads the environment (parsed with zod); everything else gets its settings passed in.
    files: ['apps/*/src/**/*.{ts,tsx}', 'apps/*/launcher/**/*.{ts,tsx}', 'packages/*/src/**/*.ts'],
    ignores: [
      '**/env.ts',
      '**/*.test.ts',
      '**/*.test-util.ts',
      'apps/console/src/server/testing/**',
      'packages/db/src/testing.ts',
      'packages/db/src/generated/**',
      // These hand the whole environment on to a child process (mariadbd, a daemon, the CLI), not read it.
      'apps/cli/src/local/daemon.ts',
    ],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: "read the environment in the app's env.ts and pass the values in" }],
    },
  },
  {
    // packages/core is pure: no I/O, no clocks, no randomness.
    files: ['packages/core/src/**/*.ts'],
    ignores: ['packages/core/src/**/*.test.ts', 'packages/core/src/**/*.test-util.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', 'fs', 'path', 'os', 'child_process', 'hono', '@prisma/*'], message: 'packages/core is pure' }, ...appImportPatterns] }],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'core takes time as an argument' },
        { object: 'Math', property: 'random', message: 'core takes a seeded PRNG' },
      ],
      'no-restricted-globals': ['error', 'process', 'fetch', 'setTimeout', 'setInterval'],
    },
  },
);
