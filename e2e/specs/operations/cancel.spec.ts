/**
 * Progress and cancel (issue 14) in the browser. A read-only compute starts in well under a second on
 * a quiet cluster, faster than a click: the page server is paused (SIGSTOP) for the few seconds the
 * spec needs, so the start waits on its basebackup, as it would behind a slow page server. Resumed
 * (SIGCONT) in `finally` whatever happens.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, shot, test, withSql } from '../../fixtures/test.js';

test('[OPERATIONS][CANCEL] a compute start shows its current step; Cancel stops it at a safe point: cancelled, and no compute left running', async ({ page, api, cluster, quiesce }) => {
  // A fresh LSN, so the read-only compute's name (main-ro-<lsn>) is one no earlier spec started.
  await withSql(cluster.mainUrl, async (c) => {
    await c.query('CREATE DATABASE IF NOT EXISTS e2e_cancel');
    await c.query('CREATE TABLE IF NOT EXISTS e2e_cancel.t (id INT AUTO_INCREMENT PRIMARY KEY, at BIGINT) ENGINE=InnoDB');
    await c.query('INSERT INTO e2e_cancel.t (at) VALUES (?)', [Date.now()]);
  });
  const lsn = await quiesce();
  const name = `main-ro-${lsn}`;
  const pageserverPid = Number(readFileSync(join(cluster.home, 'run', 'pageserver.pid'), 'utf8').trim());
  expect(pageserverPid).toBeGreaterThan(1);

  await page.goto('/computes');
  await page.getByLabel('Read-only').check();
  await page.getByLabel('LSN (optional)').fill(lsn.toString());
  const card = page.getByTestId('operation').filter({ hasText: 'compute.start' }).last();
  process.kill(pageserverPid, 'SIGSTOP');
  try {
    await page.getByRole('button', { name: 'Start compute' }).click();
    // Progress: which step of how many, and its latest line, while it runs.
    await expect(card.getByTestId('current-step')).toContainText('step 1 of 2: start the compute');
    await expect(card.getByTestId('current-step')).toContainText(`starting compute ${name}`);
    await shot(page, 'operation-running');
    await card.getByTestId('cancel-operation').click();
    await expect(card.getByTestId('cancel-operation')).toHaveText('Cancelling…');
  } finally {
    process.kill(pageserverPid, 'SIGCONT');
  }
  await expect(card).toHaveAttribute('data-status', 'cancelled', { timeout: 60_000 });
  // Said as what it is (the operator's request), not as an error box.
  await expect(card.getByTestId('operation-cancelled')).toHaveText('cancelled by admin');
  await expect(card.getByRole('alert')).toHaveCount(0);
  await expect(card.getByTestId('cancel-operation')).toHaveCount(0);
  await shot(page, 'operation-cancelled');

  await card.getByRole('link', { name: 'details' }).click();
  await expect(page.getByTestId('operation-status')).toHaveText('cancelled');
  await expect(page.getByTestId('operation-cancelled')).toHaveText('cancelled by admin');
  await expect(page.getByTestId('operation-steps').locator('tbody tr').first()).toHaveAttribute('data-step-status', 'cancelled');
  await expect(page.getByTestId('operation-steps').locator('tbody tr').nth(1)).toHaveAttribute('data-step-status', 'scheduled');
  // Nothing half made: the compute it was starting does not run.
  const computes = await api.query<{ name: string; state: string }[]>('computes.list');
  expect(computes.filter((c) => c.name === name && c.state === 'running')).toEqual([]);
});
