/**
 * Trouble shows first (issue 14): the page server's uploads are made to fail for real, and the
 * Overview says so with the page server's own message and a link to the branch. The fault: main's directory in
 * the cluster's remote storage (a local directory, `<home>/remote`) is moved aside and a regular
 * file put in its place, so every upload's mkdir fails (ENOTDIR or EEXIST). A chmod would not do: the suite
 * may run as root, for whom no mode bit forbids a write. The directory is put back in `finally`,
 * then the page server's retry succeeds and the alert clears.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorBoxes, expect, shot, test, withSql } from '../../fixtures/test.js';

interface Registry {
  tenantId: string;
  branches: { name: string; timelineId: string }[];
}

test('[ALERTS][PAGESERVER] uploads failing (remote storage unwritable): the Overview shows the real error and links to the branch, whose page shows it; restored, it clears', async ({ page, cluster }) => {
  const registry = JSON.parse(readFileSync(join(cluster.home, 'cluster.json'), 'utf8')) as Registry;
  const main = registry.branches.find((b) => b.name === 'main');
  expect(main).toBeDefined();
  const dir = join(cluster.home, 'remote', 'tenants', registry.tenantId, 'timelines', main!.timelineId);
  expect(existsSync(dir), `main's remote directory ${dir}`).toBe(true);
  const aside = `${dir}.e2e-aside`;

  await withSql(cluster.mainUrl, async (c) => {
    await c.query('CREATE DATABASE IF NOT EXISTS e2e_alerts');
    await c.query('CREATE TABLE IF NOT EXISTS e2e_alerts.t (id INT AUTO_INCREMENT PRIMARY KEY, pad VARCHAR(200)) ENGINE=InnoDB');
  });
  await page.goto('/');
  const failing = errorBoxes(page).filter({ hasText: 'page server upload failing' });

  renameSync(dir, aside);
  try {
    writeFileSync(dir, 'not a directory: e2e/specs/alerts/pageserver-upload.spec.ts put this here\n');
    // Writes on main make layers to upload (an open layer is flushed within the 10 s checkpoint timeout).
    await withSql(cluster.mainUrl, async (c) => {
      const until = Date.now() + 90_000;
      while ((await failing.count()) === 0) {
        if (Date.now() > until) throw new Error('no upload alert on the Overview within 90 s of remote storage becoming unwritable');
        await c.query("INSERT INTO e2e_alerts.t (pad) VALUES (REPEAT('x', 200))");
        await page.waitForTimeout(1_000);
      }
    });
    const alert = failing.first();
    // Critical, about main, with the page server's own words (the failed mkdir under the replaced directory).
    await expect(alert).toContainText('critical: branch main: page server upload failing (REMOTE_STORAGE_IO');
    await expect(alert).toContainText('remote storage put');
    // mkdir under the file (a layer) is ENOTDIR; of the file's own path (the index) EEXIST.
    await expect(alert).toContainText(/ENOTDIR|EEXIST/);
    await expect(page.getByTestId('no-alerts')).toHaveCount(0);
    await shot(page, 'alert-upload-failing');
    // It links to the branch concerned, whose page shows the same failure.
    const link = alert.getByRole('link', { name: 'show' });
    await expect(link).toHaveAttribute('href', '/branches/main');
    await link.click();
    await expect(page).toHaveURL(/\/branches\/main$/);
    await expect(page.getByTestId('branch-alerts').getByRole('alert').filter({ hasText: /page server upload failing.*(ENOTDIR|EEXIST)/ }).first()).toBeVisible();
    await shot(page, 'alert-upload-failing-branch');
    // The page servers page shows it on main's row too.
    await page.goto('/pageservers');
    await expect(page.getByTestId('failing').filter({ hasText: /ENOTDIR|EEXIST/ }).first()).toBeVisible();
  } finally {
    rmSync(dir, { force: true });
    renameSync(aside, dir);
  }

  // Put back: the next retry (backoff at most 10 s) uploads, the error is history and the alert goes.
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Alerts' })).toBeVisible();
  await expect(errorBoxes(page).filter({ hasText: 'page server upload failing' })).toHaveCount(0, { timeout: 60_000 });
});
