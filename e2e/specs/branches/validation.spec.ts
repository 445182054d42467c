/**
 * Issue 14: invalid inputs are answered at their field, in words, before any work starts; destructive
 * actions ask first and name what will be lost.
 */
import type { Page } from '@playwright/test';
import { errorBoxes, expect, localInput, shot, test, unique, type ConsoleApi } from '../../fixtures/test.js';

const operationCount = async (api: ConsoleApi) => (await api.query<unknown[]>('operations.list', { limit: 200 })).length;
const fieldError = (page: Page, field: string) => page.locator(`[data-field-error="${field}"]`);
const mainHead = async (api: ConsoleApi) => BigInt((await api.query<{ name: string; lastRecordLsn: string | null }[]>('branches.list')).find((b) => b.name === 'main')!.lastRecordLsn!);

test('[BRANCHES][VALIDATE] every invalid input shows its field message; nothing starts', async ({ page, api }) => {
  const before = await operationCount(api);
  const head = await mainHead(api);
  await page.goto('/branches');
  const form = page.locator('form').filter({ has: page.getByRole('button', { name: 'Create branch' }) });
  const submit = () => form.getByRole('button', { name: 'Create branch' }).click();
  const mode = form.locator('select[name=mode]');

  await submit();
  await expect(fieldError(page, 'name')).toHaveText('give a name');
  await form.getByLabel('Name', { exact: true }).fill('x'.repeat(3000));
  await submit();
  await expect(fieldError(page, 'name')).toHaveText('at most 63 characters');
  await form.getByLabel('Name', { exact: true }).fill('main');
  await submit();
  await expect(fieldError(page, 'name')).toHaveText('a branch named main already exists');
  await form.getByLabel('Name', { exact: true }).fill(unique('never'));

  // An LSN: not a number, then past main's head; the valid range is shown beside it.
  await mode.selectOption('lsn');
  await expect(form.getByTestId('lsn-range')).toHaveText(/^valid: 0 – \d+$/);
  await form.locator('input[name=lsn]').fill('abc');
  await submit();
  await expect(fieldError(page, 'lsn')).toHaveText('an LSN is a whole number of at most 64 bits, like 21474836');
  await form.locator('input[name=lsn]').fill(String(head + 10n ** 12n));
  await submit();
  await expect(fieldError(page, 'lsn')).toContainText('past the head of main (LSN ');

  // A time: the input says its zone; empty, then in the future.
  await mode.selectOption('time');
  await expect(form.getByTestId('time-zone')).toHaveText('UTC');
  await submit();
  await expect(fieldError(page, 'at')).toHaveText('give a time');
  await form.locator('input[name=at]').fill(localInput(Date.now() + 3_600_000));
  await submit();
  await expect(fieldError(page, 'at')).toContainText('is in the future: the latest data is at ');
  // Switching to an LSN does not carry the time into it.
  await mode.selectOption('lsn');
  await expect(form.locator('input[name=lsn]')).toHaveValue('');

  await mode.selectOption('snapshot');
  await submit();
  await expect(fieldError(page, 'snapshot')).toHaveText('pick a snapshot');
  await shot(page, 'branches-validation');

  // Nothing reached the server: no error box, no operation.
  await expect(errorBoxes(page)).toHaveCount(0);
  expect(await operationCount(api)).toBe(before);
});

test('[TIME TRAVEL][VALIDATE] invalid points are field messages; an LSN past head is refused at once by the server too', async ({ page, api }) => {
  const head = await mainHead(api);
  await page.goto('/time-travel');
  const form = page.locator('form').filter({ has: page.getByRole('button', { name: 'Run query' }) });
  const submit = () => form.getByRole('button', { name: 'Run query' }).click();
  await form.locator('select[name=mode]').selectOption('time');
  await expect(form.getByTestId('time-zone')).toHaveText('UTC');
  await submit();
  await expect(fieldError(page, 'at')).toHaveText('give a time');
  await form.locator('input[name=at]').fill(localInput(Date.now() + 3_600_000));
  await form.getByLabel('SQL').fill('   ');
  await submit();
  await expect(fieldError(page, 'at')).toContainText('is in the future: the latest data is at ');
  await expect(fieldError(page, 'sql')).toHaveText('write a query');
  await form.locator('select[name=mode]').selectOption('lsn');
  await expect(form.locator('input[name=lsn]')).toHaveValue('');
  await form.locator('input[name=lsn]').fill('abc');
  await submit();
  await expect(fieldError(page, 'lsn')).toHaveText('an LSN is a whole number of at most 64 bits, like 21474836');
  await form.locator('input[name=lsn]').fill(String(head + 10n ** 12n));
  await submit();
  await expect(fieldError(page, 'lsn')).toContainText('past the head of main');
  await expect(errorBoxes(page)).toHaveCount(0);

  // The router answers the same at once (no compute started, no CLI command line in the message).
  const t0 = Date.now();
  const r = await api.attempt('timeTravel.query', { branch: 'main', lsn: String(head + 10n ** 12n), sql: 'SELECT 1' });
  expect(Date.now() - t0).toBeLessThan(5_000);
  expect(r.status).toBe(400);
  expect(r.message).toMatch(/^LSN \d+ is past the head of main \(LSN \d+\): nothing was written there yet$/);
  const computes = await api.query<{ name: string }[]>('computes.list');
  expect(computes.map((c) => c.name).filter((n) => n.startsWith('main-ro-'))).toEqual([]);
});

test('[BRANCHES][DELETE] delete asks first, naming the branch; cancel keeps it', async ({ page, api }) => {
  const name = unique('doomed');
  await api.settled(await api.mutate<{ id: string }>('branches.create', { from: 'main', name }));
  await page.goto('/branches');
  const node = page.getByTestId(`branch-${name}`);
  await node.getByRole('button', { name: 'delete', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: `Delete branch ${name}?` });
  await expect(dialog).toContainText(`Branch ${name} (timeline `);
  await expect(dialog).toContainText('since it branched from main at LSN');
  await expect(dialog).toContainText('This cannot be undone.');
  await shot(page, 'branch-delete-confirm');
  const before = await operationCount(api);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toHaveCount(0);
  expect(await operationCount(api)).toBe(before);
  await expect(node).toBeVisible();

  await node.getByRole('button', { name: 'delete', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: `Delete ${name}` }).click();
  await expect(page.getByTestId('operation').filter({ hasText: 'branch.delete' })).toHaveAttribute('data-status', 'finished', { timeout: 120_000 });
  await expect(page.getByTestId(`branch-${name}`)).toHaveCount(0);
});

test('[OPERATORS][REMOVE] remove asks first; cancel keeps the operator', async ({ page, api }) => {
  const username = unique('leaver').toLowerCase();
  await api.mutate('operators.create', { username, password: `pw-${Date.now()}-e2e`, role: 'viewer' });
  await page.goto('/operators');
  const row = page.getByRole('row').filter({ hasText: username });
  await row.getByRole('button', { name: 'remove' }).click();
  const dialog = page.getByRole('dialog', { name: `Remove operator ${username}?` });
  await expect(dialog).toContainText('their sessions end at once and they can no longer sign in');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(row).toBeVisible();
  expect((await api.query<{ username: string }[]>('operators.list')).map((o) => o.username)).toContain(username);

  await row.getByRole('button', { name: 'remove' }).click();
  await page.getByRole('dialog').getByRole('button', { name: `Remove ${username}` }).click();
  await expect(page.getByRole('row').filter({ hasText: username })).toHaveCount(0);
});
