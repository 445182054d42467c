import { ddlStored, errorBoxes, expect, localInput, shot, test, until, withSql } from '../../fixtures/test.js';

test('[TIME TRAVEL][QUERY] a query at a past time shows the old rows; at head the new ones; writes are refused', async ({ page, api, cluster, quiesce }) => {
  await withSql(cluster.mainUrl, async (c) => {
    await c.query('CREATE DATABASE e2e_tt');
    await c.query('CREATE TABLE e2e_tt.prices (id INT PRIMARY KEY, price INT NOT NULL) ENGINE=InnoDB');
    await ddlStored(cluster);
    await c.query('INSERT INTO e2e_tt.prices VALUES (1, 10), (2, 20)');
  });
  await quiesce();
  const at = Math.ceil((Date.now() + 1_000) / 1_000) * 1_000;
  await until(at + 1_000);
  const atLsnMax = await quiesce();
  await withSql(cluster.mainUrl, async (c) => {
    await c.query('UPDATE e2e_tt.prices SET price = 99 WHERE id = 1');
    await c.query('DELETE FROM e2e_tt.prices WHERE id = 2');
    await c.query('INSERT INTO e2e_tt.prices VALUES (3, 30)');
  });
  await quiesce(atLsnMax);

  await page.goto('/time-travel');
  const form = page.locator('form').filter({ has: page.getByRole('button', { name: 'Run query' }) });
  await expect(form.locator('select[name=branch]')).toHaveValue('main');
  await form.locator('select[name=mode]').selectOption('time');
  await form.locator('input[name=at]').fill(localInput(at));
  await form.getByLabel('SQL').fill('SELECT id, price FROM e2e_tt.prices ORDER BY id');
  await form.getByRole('button', { name: 'Run query' }).click();
  const results = page.getByTestId('results');
  await expect(results.locator('tbody tr')).toHaveCount(2, { timeout: 90_000 });
  await expect(results.locator('thead')).toHaveText('idprice');
  await expect(results.locator('tbody')).toHaveText('110220');
  const summary = page.getByText(/^2 rows from (\S+) in \d+ ms$/);
  await expect(summary).toBeVisible();
  const compute = /from (\S+) in/.exec(await summary.innerText())![1]!;
  await shot(page, 'time-travel');

  // The ephemeral read-only compute is gone once the answer is back.
  const computes = await api.query<{ name: string }[]>('computes.list');
  expect(computes.map((c) => c.name)).not.toContain(compute);

  // At head (its own choice: an empty time is a field error, not "head"): the new rows.
  await form.locator('select[name=mode]').selectOption('head');
  await form.getByRole('button', { name: 'Run query' }).click();
  await expect(results.locator('tbody')).toHaveText('199330', { timeout: 90_000 });

  // Read-only by construction: a write is refused with the typed error, before any compute starts.
  await form.getByLabel('SQL').fill('DELETE FROM e2e_tt.prices');
  await form.getByRole('button', { name: 'Run query' }).click();
  await expect(errorBoxes(page)).toContainText('INVALID: only read-only statements (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN); got DELETE');

  // Every run is in the operations log with what it read: the time, head, and the refused write (no retry offered).
  const iso = new Date(at).toISOString();
  const runs = (await api.query<{ kind: string; target: string | null; status: string; actor: string | null; errorCode: string | null; retryable: boolean; result: unknown }[]>('operations.list')).filter((o) => o.kind === 'timetravel.query');
  expect(runs.find((o) => o.target === `branch main at ${iso}`)).toMatchObject({ status: 'finished', actor: 'admin', result: { compute, rows: 2, truncated: false } });
  expect(runs.find((o) => o.target === 'branch main at head' && o.status === 'finished')).toBeTruthy();
  expect(runs.find((o) => o.status === 'failed')).toMatchObject({ target: 'branch main at head', errorCode: 'INVALID', retryable: false });
  await page.goto('/operations');
  const row = page.getByTestId('operations').getByRole('row').filter({ hasText: `branch main at ${iso}` });
  await expect(row).toContainText('timetravel.query');
  const refused = page.getByTestId('operations').getByRole('row').filter({ hasText: 'got DELETE' });
  await expect(refused).toContainText('a retry would fail the same way');
  await expect(refused.getByRole('button', { name: 'retry' })).toHaveCount(0);
});
