import type { Page } from '@playwright/test';
import { errorBoxes, expect, test } from '../../fixtures/test.js';

/** Every page of the navigation, and the pages reached from them (a branch, an operation). */
const PAGES = ['/', '/tenants', '/branches', '/branches/main', '/snapshots', '/computes', '/time-travel', '/safekeepers', '/pageservers', '/metrics', '/metrics?range=6h', '/operations', '/operators'];

/** What sticks out past the right edge, to say why a page is too wide (the widest first). */
function overflowing(page: Page) {
  return page.evaluate(() => {
    const out: string[] = [];
    for (const el of Array.from(document.querySelectorAll('body *'))) {
      const r = el.getBoundingClientRect();
      if (r.right > window.innerWidth + 0.5 && r.width > 0) out.push(`${el.tagName.toLowerCase()}${el.className && typeof el.className === 'string' ? `.${el.className.split(' ').join('.')}` : ''} right=${Math.round(r.right)}`);
    }
    return out.slice(0, 8);
  });
}

test.use({ viewport: { width: 390, height: 844 } });

for (const scheme of ['light', 'dark'] as const) {
  test(`[LAYOUT][390PX][${scheme.toUpperCase()}] no page is wider than a 390 px screen; a screenshot of each`, async ({ page, api }, testInfo) => {
    test.setTimeout(240_000);
    await page.emulateMedia({ colorScheme: scheme });
    // An operation's page too: a refused branch create is one, recorded in a moment (CONFLICT: main exists).
    const op = await api.mutate<{ id: string }>('branches.create', { from: 'main', name: 'main' });
    for (const path of [...PAGES, `/operations/${op.id}`]) {
      await page.goto(path);
      await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
      // Data loaded (a table, a chart or a form; a list may be empty on a fresh cluster), and no error box.
      await expect(page.locator('main table, main [data-testid=chart], main form, main [data-testid=branch-graph], main [data-testid=operation-detail]').first()).toBeVisible();
      // The operation's page shows its failure in an error box: that one is content.
      if (!path.startsWith('/operations/')) await expect(errorBoxes(page)).toHaveCount(0);
      const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
      expect(scrollWidth, `${path} (${scheme}) is ${scrollWidth} px wide: ${(await overflowing(page)).join(', ')}`).toBeLessThanOrEqual(innerWidth);
      const name = path === '/' ? 'overview' : path.slice(1).replaceAll(/[/?=]/g, '-');
      await page.screenshot({ path: testInfo.outputPath(`390-${scheme}-${name}.png`), fullPage: true });
    }
  });
}
