import { expect, localInput, shot, test, unique, until, withSql } from '../../fixtures/test.js';

test('[OPERATIONS][DETAIL] each operation has a page: target, status, who, timing, every step with its progress line, input, result, error', async ({ page, api }) => {
  const name = unique('opdetail');
  const created = await api.settled(await api.mutate<{ id: string }>('branches.create', { from: 'main', name }));

  // From the log to the operation's page.
  await page.goto('/operations');
  const row = page.getByTestId('operations').getByRole('row').filter({ hasText: `branch ${name} from main` });
  await row.getByRole('link', { name: 'branch.create' }).click();
  await expect(page).toHaveURL(new RegExp(`/operations/${created.id}$`));
  const detail = page.getByTestId('operation-detail');
  await expect(detail).toHaveAttribute('data-status', 'finished');
  await expect(page.getByTestId('operation-target')).toHaveText(new RegExp(`^branch ${name} from main`));
  await expect(detail).toContainText('admin');
  await expect(page.getByTestId('operation-duration')).toHaveText(/^\d+(\.\d)? (ms|s)$|min/);
  // Every step finished, with when it started, how long it took, and its progress line.
  const steps = page.getByTestId('operation-steps').locator('tbody tr');
  await expect(steps).toHaveCount(created.steps.length);
  for (let i = 0; i < created.steps.length; i++) await expect(steps.nth(i)).toHaveAttribute('data-step-status', 'finished');
  await expect(page.getByTestId('step-detail').first()).toContainText(/timeline|LSN/);
  // Input and result as fields, not JSON.
  await expect(page.getByTestId('operation-input')).toContainText(`name${name}`);
  await expect(page.getByTestId('operation-result')).not.toContainText('{"');
  await shot(page, 'operation-detail');

  // A failure: its code and message, and no retry for one that can only repeat.
  const refused = await api.mutate<{ id: string }>('branches.create', { from: 'main', name });
  await page.goto(`/operations/${refused.id}`);
  await expect(page.getByTestId('operation-detail')).toHaveAttribute('data-status', 'failed', { timeout: 30_000 });
  await expect(page.getByTestId('operation-error')).toContainText('CONFLICT');
  await expect(page.getByTestId('operation-error')).toContainText(`${name} already exists`);
  await expect(page.getByText('a retry would fail the same way')).toBeVisible();
  await expect(page.getByRole('button', { name: 'retry' })).toHaveCount(0);

  // The progress card an action shows links to the same page.
  await page.goto('/branches');
  await page.getByTestId(`branch-${name}`).getByRole('button', { name: 'delete' }).click();
  await page.getByRole('dialog').getByRole('button', { name: `Delete ${name}` }).click();
  const card = page.getByTestId('operation').filter({ hasText: 'branch.delete' }).last();
  await expect(card).toHaveAttribute('data-status', 'finished', { timeout: 120_000 });
  await card.getByRole('link', { name: 'details' }).click();
  await expect(page.getByTestId('operation-target')).toHaveText(`branch ${name}`);
});

test('[TIME INPUTS][ZONE] every time input names its zone: branch form, time travel, restore dialog', async ({ page, api }) => {
  const zoneBesideEachTimeInput = async () => {
    const inputs = await page.locator('main input[type=datetime-local]').count();
    expect(inputs).toBeGreaterThan(0);
    // Each input's field (the input, its zone, its message) names the zone.
    const fields = page.locator('main .field').filter({ has: page.locator('input[type=datetime-local]') });
    await expect(fields).toHaveCount(inputs);
    for (const field of await fields.all()) await expect(field.getByTestId('time-zone')).toHaveText('UTC');
  };
  await page.goto('/branches');
  await page.locator('select[name=mode]').selectOption('time');
  await zoneBesideEachTimeInput();

  // Restore asks for a time in a dialog that names its zone (it used to be a bare ISO prompt); nothing starts until it is valid.
  const name = unique('zone');
  await api.settled(await api.mutate<{ id: string }>('branches.create', { from: 'main', name }));
  await page.reload();
  await page.getByTestId(`branch-${name}`).getByRole('button', { name: 'restore…' }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog.getByTestId('time-zone')).toHaveText('UTC');
  await dialog.getByRole('button', { name: `Restore ${name}` }).click();
  await expect(dialog.locator('[data-field-error=at]')).toHaveText('give a time');
  await dialog.locator('input[name=restore-at]').fill(localInput(Date.now() + 3_600_000));
  await dialog.getByRole('button', { name: `Restore ${name}` }).click();
  await expect(dialog.locator('[data-field-error=at]')).toContainText('in the future');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toHaveCount(0);
  // Nothing was started.
  expect((await api.query<{ kind: string; target: string | null }[]>('operations.list')).filter((o) => o.kind === 'branch.restore' && o.target?.includes(name))).toEqual([]);
  await api.settled(await api.mutate<{ id: string }>('branches.delete', { name }));

  await page.goto('/time-travel');
  await page.locator('select[name=mode]').selectOption('time');
  await zoneBesideEachTimeInput();
});

test('[TIME TRAVEL][AS OF] a query shows the LSN and time it resolved to; the LSN is the one its compute ran at', async ({ page, quiesce, cluster }) => {
  test.setTimeout(240_000);
  // A commit before the time asked, so the page server's LSN ↔ time map has a point there (a fresh cluster has none).
  await withSql(cluster.mainUrl, async (c) => {
    await c.query('CREATE DATABASE IF NOT EXISTS e2e_asof');
    await c.query('CREATE TABLE IF NOT EXISTS e2e_asof.t (id INT AUTO_INCREMENT PRIMARY KEY) ENGINE=InnoDB');
    await c.query('INSERT INTO e2e_asof.t VALUES ()');
  });
  await quiesce();
  const at = Math.ceil((Date.now() + 1_000) / 1_000) * 1_000;
  await until(at + 1_000);
  // Everything committed by the time asked: the LSN it resolves to can be no later.
  const upper = await quiesce();
  await page.goto('/time-travel');
  const form = page.locator('form').filter({ has: page.getByRole('button', { name: 'Run query' }) });
  await form.locator('select[name=mode]').selectOption('time');
  await form.locator('input[name=at]').fill(localInput(at));
  await form.getByLabel('SQL').fill('SELECT 1 AS one');
  await form.getByRole('button', { name: 'Run query' }).click();
  await expect(page.getByTestId('results').locator('tbody tr')).toHaveCount(1, { timeout: 120_000 });
  const lsn = (await page.getByTestId('as-of-lsn').innerText()).trim();
  expect(lsn).toMatch(/^\d+$/);
  // The read-only compute is named after the LSN it started at: the same one.
  await expect(page.getByText(/rows from \S+ in \d+ ms/)).toContainText(`main-ro-${lsn}`);
  await expect(page.getByTestId('as-of-time')).toContainText('(UTC)');
  await expect(page.getByTestId('as-of-time')).toHaveAttribute('datetime', new Date(at).toISOString());
  expect(BigInt(lsn)).toBeLessThanOrEqual(upper);
  expect(BigInt(lsn)).toBeGreaterThan(0n);
  await shot(page, 'time-travel-as-of');

  await form.locator('select[name=mode]').selectOption('head');
  await form.getByRole('button', { name: 'Run query' }).click();
  await expect(page.getByTestId('as-of')).toContainText('head when the query started', { timeout: 120_000 });
  expect(BigInt((await page.getByTestId('as-of-lsn').innerText()).trim())).toBeGreaterThanOrEqual(BigInt(lsn));
});
