import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'tooling/**/*.test.ts'],
          // The console and its database run against a real Postgres: their own project.
          exclude: ['packages/db/**', 'apps/console/**', '**/node_modules/**'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Each file boots its own mariadbd; two cores cannot take many at once.
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'console',
          // Each file gets its own Postgres database (packages/db/src/testing.ts).
          include: ['packages/db/src/**/*.test.ts', 'apps/console/src/**/*.test.ts', 'apps/console/launcher/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
