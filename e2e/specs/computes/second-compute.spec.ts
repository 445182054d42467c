/**
 * Issue 14: answers say what happened, where the action was taken. A second read-write compute on a
 * branch answers with the one running; a membership change's result is shown in the card clicked.
 */
import { expect, expectOperationFinished, test } from '../../fixtures/test.js';

test('[COMPUTES][START] a second read-write compute on main says main already has one, with its URL', async ({ page, api }) => {
  // Names only: a running compute's LSNs move on their own.
  const readWrite = async () => (await api.query<{ name: string; mode: string }[]>('computes.list')).filter((c) => c.mode === 'read-write').map((c) => c.name);
  const before = await readWrite();
  await page.goto('/computes');
  const form = page.locator('form').filter({ has: page.getByRole('button', { name: 'Start compute' }) });
  await form.getByLabel('Branch').selectOption('main');
  await form.getByRole('button', { name: 'Start compute' }).click();
  const op = await expectOperationFinished(page, 'compute.start');
  await expect(op).toContainText(/main already has a running compute: main at mysql:\/\/root@127\.0\.0\.1:\d+\//);
  // No second one was started.
  expect(await readWrite()).toEqual(before);
});

test("[SAFEKEEPERS][MEMBERSHIP] a change's result appears in the card that was clicked", async ({ page }) => {
  await page.goto('/safekeepers');
  const card = page.getByTestId('timeline-main');
  await card.getByLabel('New members (node ids)').fill('97,98,99');
  await card.getByRole('button', { name: 'Change membership' }).click();
  // Unknown nodes: the operation fails at once, and says so inside main's card.
  const op = card.getByTestId('operation').filter({ hasText: 'safekeepers.membership' });
  await expect(op).toHaveAttribute('data-status', 'failed', { timeout: 60_000 });
  await expect(op).toContainText('safekeeper 97, 98, 99 is not in the cluster registry');
  await expect(page.getByTestId('operation')).toHaveCount(1);
});
