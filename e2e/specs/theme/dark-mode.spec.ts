import type { Page } from '@playwright/test';
import { expect, shot, test } from '../../fixtures/test.js';

// The page background of each scheme (styles.css --bg).
const LIGHT_BG = 'rgb(245, 246, 248)';
const DARK_BG = 'rgb(17, 20, 24)';

const background = (page: Page) => page.evaluate(() => getComputedStyle(document.body).backgroundColor);

test('[THEME][DARK] follows the system preference; the toggle overrides it, survives a reload, and "System" hands back to the system', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto('/');
  await expect(page.getByTestId('nodes')).toBeVisible();
  expect(await background(page)).toBe(DARK_BG);
  await expect(page.getByTestId('theme-toggle')).toHaveAttribute('aria-pressed', 'true');
  await shot(page, 'theme-system-dark');

  // The system switches to light: the page follows without a reload.
  await page.emulateMedia({ colorScheme: 'light' });
  await expect.poll(() => background(page)).toBe(LIGHT_BG);
  await expect(page.getByTestId('theme-toggle')).toHaveAttribute('aria-pressed', 'false');

  // The operator chooses dark while the system says light.
  await page.getByTestId('theme-toggle').click();
  await expect.poll(() => background(page)).toBe(DARK_BG);
  await expect(page.getByTestId('theme-toggle')).toHaveAttribute('aria-pressed', 'true');

  // Persisted: rendered dark by the server after a reload and on another page, whatever the system says.
  await page.goto('/branches');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  expect(await background(page)).toBe(DARK_BG);
  await page.reload();
  expect(await background(page)).toBe(DARK_BG);
  await shot(page, 'theme-chosen-dark-branches');

  // Toggled back to light, even under a dark system.
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.getByTestId('theme-toggle').click();
  await expect.poll(() => background(page)).toBe(LIGHT_BG);
  await page.reload();
  expect(await background(page)).toBe(LIGHT_BG);

  // "System": the choice is forgotten and the system's dark applies again, after a reload too.
  await page.getByTestId('theme-system').click();
  await expect.poll(() => background(page)).toBe(DARK_BG);
  await page.reload();
  await expect(page.locator('html')).not.toHaveAttribute('data-theme', /./);
  expect(await background(page)).toBe(DARK_BG);
  await expect(page.getByTestId('theme-system')).toHaveCount(0);
});
