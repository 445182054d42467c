import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, expectOperationFinished, shot, test, unique } from '../../fixtures/test.js';

test('[TENANTS][CREATE] a fresh tenant (mariadb-install-db, page server import), listed with its timeline; then deleted on the page server too', async ({ page, cluster }) => {
  await page.goto('/tenants');
  const table = page.getByTestId('tenants');
  // The local cluster's own tenant is there from the start and cannot be deleted.
  await expect(table.getByRole('row').filter({ hasText: '(local cluster)' })).toContainText('main (local cluster)');
  await expect(table.getByRole('row').filter({ hasText: '(local cluster)' }).getByRole('button', { name: 'delete' })).toHaveCount(0);

  const name = unique('acme');
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByRole('button', { name: 'Create tenant' }).click();
  const op = await expectOperationFinished(page, 'tenant.create');
  await expect(op.locator('[data-step-status]')).toHaveCount(3);
  await expect(op.locator('[data-step-status="finished"]')).toHaveCount(3);
  await expect(op).toContainText(/import it \(page server API\)\s*tenant [0-9a-f]{32}: \d+ pages at LSN \d+/);

  const row = table.getByRole('row').filter({ hasText: name });
  await expect(row).toHaveCount(1);
  // The page server stores it: one timeline, a 32-hex tenant id of its own.
  await expect(row.getByRole('cell').nth(1)).toHaveText(/^[0-9a-f]{32}$/);
  const tenantId = (await row.getByRole('cell').nth(1).textContent())!.trim();
  await expect(row.getByRole('cell').nth(2)).toHaveText('1');
  await shot(page, 'tenants');

  await row.getByRole('button', { name: 'delete' }).click();
  await expectOperationFinished(page, 'tenant.delete');
  await expect(row).toHaveCount(0);
  // Deleted on the page server too, not only forgotten by the console.
  const token = readFileSync(join(cluster.home, 'keys', 'admin.jwt'), 'utf8').trim();
  const tenants = (await (await fetch(`${cluster.pageserverUrl}/v1/tenants`, { headers: { authorization: `Bearer ${token}` } })).json()) as { tenants: { tenantId: string }[] };
  expect(tenants.tenants.map((t) => t.tenantId)).not.toContain(tenantId);
});
