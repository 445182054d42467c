import { expect, expectOperationFinished, rows, shot, test, unique, withSql } from '../../fixtures/test.js';

test('[COMPUTES][START] a read-write compute on a new branch; rows written through its connection string; stopped', async ({ page, api }) => {
  // A branch of its own at main's head (the branch form has specs of its own).
  const branch = unique('compute');
  await api.settled(await api.mutate<{ id: string }>('branches.create', { from: 'main', name: branch }));

  await page.goto('/computes');
  const form = page.locator('form').filter({ has: page.getByRole('button', { name: 'Start compute' }) });
  await form.getByLabel('Branch').selectOption(branch);
  await form.getByRole('button', { name: 'Start compute' }).click();
  await expectOperationFinished(page, 'compute.start');

  const row = page.getByTestId('computes').getByRole('row').filter({ has: page.getByRole('cell', { name: branch, exact: true }) }).first();
  await expect(row).toContainText('read-write');
  await expect(row).toContainText('running');
  // The table shows the URL without its password; the compute's connection panel reveals it to an admin.
  const shown = (await row.locator('td.mono').innerText()).trim();
  expect(shown).toMatch(/^mysql:\/\/\w+@127\.0\.0\.1:\d+\/$/);
  const name = (await row.locator('td').first().innerText()).trim();
  const panel = page.getByTestId(`connection-${name}`);
  await panel.getByTestId('reveal').click();
  await expect(panel.getByTestId('password')).not.toHaveText('••••••••');
  const password = (await panel.getByTestId('password').innerText()).trim();
  expect(password).toMatch(/^\w+$/);
  const url = shown.replace('@', `:${password}@`);

  // Rows through SQL, with the URL and password the console shows.
  const got = await withSql(url, async (c) => {
    await c.query('CREATE DATABASE e2e_compute');
    await c.query('CREATE TABLE e2e_compute.t (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB');
    await c.query("INSERT INTO e2e_compute.t VALUES (1, 'one'), (2, 'two'), (3, 'three')");
    return rows(c, 'SELECT id, v FROM e2e_compute.t ORDER BY id');
  });
  expect(got.map((r) => `${r['id']}=${r['v']}`)).toEqual(['1=one', '2=two', '3=three']);

  // The shipper hands the redo to the safekeepers: the page shows it committed, no lag left.
  await expect(row.locator('td').nth(5)).toHaveText(/^\d+ \/ \d+$/, { timeout: 30_000 });
  await expect(row.locator('td').nth(6)).toHaveText(/^0 B \/ \d+ ms$/, { timeout: 30_000 });
  await shot(page, 'computes');

  // Stop asks first, naming what stops; nothing happens until confirmed.
  await row.getByRole('button', { name: 'stop' }).click();
  const dialog = page.getByRole('dialog', { name: `Stop compute ${branch}?` });
  await expect(dialog).toContainText(`Compute ${branch} (read-write on branch ${branch}) stops and its open connections are closed.`);
  await dialog.getByRole('button', { name: `Stop ${branch}` }).click();
  await expectOperationFinished(page, 'compute.stop');
  await expect(page.getByTestId('computes').getByRole('row').filter({ has: page.getByRole('cell', { name: branch, exact: true }) })).toHaveCount(0, { timeout: 30_000 });
});
