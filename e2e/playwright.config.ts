/**
 * The console end to end (issue 6's proof): one real local cluster for the
 * whole run (`./strata up` in a temporary STRATA_HOME, fixtures/global-setup.ts),
 * Debian's Chromium (never a downloaded browser), one worker (the cluster and
 * the machine are shared), traces kept on failure.
 *
 *   npx playwright test -c e2e/playwright.config.ts
 */
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: './specs',
  outputDir: './test-results',
  globalSetup: './fixtures/global-setup.ts',
  globalTeardown: './fixtures/global-teardown.ts',
  // Specs share one cluster: one at a time, in file order.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env['CI'],
  // Each test starts computes or waits for scrapes; the whole run (cluster start included) stays bounded.
  timeout: 180_000,
  globalTimeout: 20 * 60_000,
  expect: { timeout: 20_000 },
  reporter: process.env['CI'] ? 'list' : [['list'], ['html', { open: 'never', outputFolder: './playwright-report' }]],
  use: {
    headless: true,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    viewport: { width: 1400, height: 1000 },
    // datetime-local inputs are local time: pin it so the specs can type UTC times.
    timezoneId: 'UTC',
    locale: 'en-US',
    actionTimeout: 20_000,
    navigationTimeout: 60_000,
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    },
  },
});
