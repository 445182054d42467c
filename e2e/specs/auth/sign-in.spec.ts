import { errorBoxes, expect, shot, signInUi, test } from '../../fixtures/test.js';

// No session: the console shows its sign-in form and nothing else.
test.use({ storageState: { cookies: [], origins: [] } });

test('[AUTH][SIGN IN] a wrong password is refused; the password ./strata up printed signs the admin in', async ({ page, cluster }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Strata console' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Branches' })).toHaveCount(0);
  await shot(page, 'sign-in');

  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(errorBoxes(page)).toContainText('UNAUTHENTICATED');
  await expect(errorBoxes(page)).toContainText('wrong username or password');
  await expect(page.getByTestId('who')).toHaveCount(0);

  await signInUi(page, 'admin', cluster.adminPassword);
  await expect(page.getByTestId('who')).toHaveText('admin (admin)');
  // The local cluster is registered already: every node of `./strata up`, healthy.
  const nodes = page.getByTestId('nodes');
  for (const n of [...cluster.safekeepers.map((s) => ['safekeeper', String(s.id), s.url]), ['pageserver', 'pageserver', cluster.pageserverUrl]]) {
    await expect(nodes.getByRole('row').filter({ hasText: n[2]! })).toContainText(`${n[0]}${n[1]}up`);
  }
  await expect(nodes.getByRole('row').filter({ hasText: 'compute' }).first()).toContainText('up');
  await shot(page, 'overview');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await page.reload();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
});
