import { errorBoxes, expect, shot, test } from '../../fixtures/test.js';

const PAGES = [
  ['/', 'Overview'],
  ['/tenants', 'Tenants'],
  ['/branches', 'Branches'],
  ['/snapshots', 'Snapshots'],
  ['/computes', 'Computes'],
  ['/time-travel', 'Time travel'],
  ['/safekeepers', 'Safekeepers'],
  ['/pageservers', 'Page servers'],
  ['/metrics', 'Metrics'],
  ['/operations', 'Operations'],
  ['/operators', 'Operators'],
] as const;

test('[PAGES] every page of the navigation renders its data without an error; a screenshot of each', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  for (const [path, title] of PAGES) {
    await page.goto('/');
    await page.getByRole('navigation').getByRole('link', { name: title, exact: true }).click();
    await expect(page).toHaveURL(new RegExp(`${path.replace('/', '\\/')}$`));
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(title);
    // Data loaded (a table row or a chart), and no error box.
    await expect(page.locator('tbody tr, [data-testid=chart], form').first()).toBeVisible();
    await expect(errorBoxes(page)).toHaveCount(0);
    await shot(page, `page-${title.toLowerCase().replaceAll(' ', '-')}`);
  }
  expect(errors).toEqual([]);
});
