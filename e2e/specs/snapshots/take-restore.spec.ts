import { ddlStored, expect, expectOperationFinished, shot, test, unique, withSql } from '../../fixtures/test.js';

test('[SNAPSHOTS][CREATE][RESTORE] take a snapshot of main, restore it as a branch that has the rows of that moment', async ({ page, api, cluster, quiesce }) => {
  await withSql(cluster.mainUrl, async (c) => {
    await c.query('CREATE DATABASE e2e_snap');
    await c.query('CREATE TABLE e2e_snap.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB');
    await ddlStored(cluster);
    await c.query("INSERT INTO e2e_snap.t VALUES (1, 'before')");
  });
  const before = await quiesce();

  await page.goto('/snapshots');
  const name = unique('snap');
  const form = page.locator('form').filter({ has: page.getByRole('button', { name: 'Take snapshot' }) });
  await form.getByLabel('Branch').selectOption('main');
  await form.getByLabel('Name', { exact: true }).fill(name);
  await form.getByRole('button', { name: 'Take snapshot' }).click();
  const created = await expectOperationFinished(page, 'snapshot.create');
  const lsn = /at LSN (\d+)/.exec(await created.innerText())?.[1];
  expect(lsn, 'the snapshot step reports its LSN').toBeDefined();
  expect(BigInt(lsn!)).toBeGreaterThanOrEqual(before);
  const row = page.getByTestId('snapshots').getByRole('row').filter({ hasText: name });
  await expect(row).toContainText(`${name}main${lsn}`);

  // A row after the snapshot: the restored branch must not have it.
  await withSql(cluster.mainUrl, (c) => c.query("INSERT INTO e2e_snap.t VALUES (2, 'after')"));
  await quiesce(before);
  await shot(page, 'snapshots');

  const restored = `${name}-restored`;
  page.once('dialog', (d) => void d.accept(restored));
  await row.getByRole('button', { name: 'restore as branch…' }).click();
  const op = await expectOperationFinished(page, 'snapshot.restore');
  await expect(op).toContainText(`branch ${restored} at LSN ${lsn}`);

  await page.goto('/branches');
  await expect(page.getByTestId(`branch-${restored}`)).toContainText(`branched at LSN ${lsn}`);
  const q = await api.mutate<{ rows: string[][] }>('timeTravel.query', { branch: restored, sql: 'SELECT id, v FROM e2e_snap.t ORDER BY id' });
  expect(q.rows).toEqual([['1', 'before']]);
});
