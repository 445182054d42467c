import { ddlStored, expect, expectOperationFinished, localInput, rows, shot, test, unique, until, withSql } from '../../fixtures/test.js';

test('[BRANCHES][CREATE] at a timestamp, from the branch tree: the branch appears with its LSN and the rows of that time', async ({ page, api, cluster, quiesce }) => {
  // Rows 1, 2 before the point in time, rows 3, 4 after it, written through main's printed URL.
  await withSql(cluster.mainUrl, async (c) => {
    await c.query('CREATE DATABASE e2e_branch');
    await c.query('CREATE TABLE e2e_branch.t (id INT PRIMARY KEY) ENGINE=InnoDB');
    await ddlStored(cluster);
    await c.query('INSERT INTO e2e_branch.t VALUES (1), (2)');
  });
  const before = await quiesce();
  // A whole second (the form takes seconds) strictly after rows 1, 2 and before rows 3, 4.
  const at = Math.ceil((Date.now() + 1_000) / 1_000) * 1_000;
  await until(at + 1_000);
  const atLsnMax = await quiesce();
  await withSql(cluster.mainUrl, (c) => c.query('INSERT INTO e2e_branch.t VALUES (3), (4)'));
  await quiesce(atLsnMax);

  await page.goto('/branches');
  const main = page.getByTestId('branch-main');
  await expect(main).toContainText('root');
  await main.getByRole('button', { name: 'branch from here' }).first().click();
  const name = unique('at-time');
  const form = page.locator('form').filter({ has: page.getByRole('button', { name: 'Create branch' }) });
  await expect(form.locator('select[name=from]')).toHaveValue('main');
  await form.getByLabel('Name', { exact: true }).fill(name);
  await form.locator('select[name=mode]').selectOption('time');
  await form.locator('input[name=at]').fill(localInput(at));
  await form.getByRole('button', { name: 'Create branch' }).click();
  const op = await expectOperationFinished(page, 'branch.create');
  const detail = /timeline ([0-9a-f]{32}) at LSN (\d+)/.exec(await op.innerText());
  expect(detail, 'the create step reports the timeline and LSN').not.toBeNull();

  // The tree shows it under main with the LSN the time resolved to.
  const node = main.getByTestId(`branch-${name}`);
  await expect(node).toContainText(`branched at LSN ${detail![2]}`);
  await expect(node).toContainText(detail![1]!.slice(0, 8));
  const lsn = BigInt(detail![2]!);
  expect(lsn).toBeGreaterThanOrEqual(before);
  expect(lsn).toBeLessThanOrEqual(atLsnMax);
  await shot(page, 'branches');

  // Its data is main's as of that time: rows 1, 2 only (main has 1..4).
  const q = await api.mutate<{ rows: string[][] }>('timeTravel.query', { branch: name, sql: 'SELECT id FROM e2e_branch.t ORDER BY id' });
  expect(q.rows).toEqual([['1'], ['2']]);
  const head = await withSql(cluster.mainUrl, (c) => rows(c, 'SELECT id FROM e2e_branch.t ORDER BY id'));
  expect(head.map((r) => Number(r['id']))).toEqual([1, 2, 3, 4]);
});
