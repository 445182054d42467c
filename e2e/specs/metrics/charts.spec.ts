import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, shot, test, withSql } from '../../fixtures/test.js';

interface Chart {
  metric: string;
  title: string;
  series: { source: string; points: unknown[] }[];
}

test('[METRICS][CHARTS] the scraper fills every chart; each renders a non-empty series', async ({ page, api, cli, cluster }) => {
  test.setTimeout(240_000);
  // Traffic for every series: WAL ingest and commit lag (writes on main), GetPage (below).
  await withSql(cluster.mainUrl, async (c) => {
    await c.query('CREATE DATABASE IF NOT EXISTS e2e_metrics');
    await c.query('CREATE TABLE IF NOT EXISTS e2e_metrics.t (id INT AUTO_INCREMENT PRIMARY KEY, pad VARCHAR(200)) ENGINE=InnoDB');
    for (let i = 0; i < 20; i++) await c.query("INSERT INTO e2e_metrics.t (pad) VALUES (REPEAT('x', 200))");
  });
  const lsn = await api.caughtUp();
  // Computes start from a basebackup; GetPage requests come from `./strata page get` (pages of the system tablespace).
  const out = mkdtempSync(join(tmpdir(), 'strata-e2e-page-'));
  try {
    for (let page = 0; page < 8; page++) await cli(['page', 'get', '--branch', 'main', '--space', '0', '--page', String(page), '--lsn', String(lsn), '--out', join(out, `p${page}`)]);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }

  await page.goto('/metrics');
  const charts = page.getByTestId('chart');
  const titles = (await api.query<Chart[]>('metrics.charts', { sinceMs: 30 * 60_000 })).map((c) => c.title);
  expect(titles.length).toBeGreaterThanOrEqual(10);
  await expect(charts).toHaveCount(titles.length);
  // The scraper runs every 5 s (rates need two scrapes); the page refetches every 5 s.
  for (const title of titles) {
    const chart = charts.filter({ hasText: title });
    await expect(chart, title).toHaveAttribute('data-points', /^[1-9]\d*$/, { timeout: 90_000 });
    // Drawn: a line (or a dot for a single sample) per series; a series of zeros lies on the axis, so count, not visibility.
    await expect(chart.locator('svg polyline, svg circle'), title).not.toHaveCount(0);
    await expect(chart.getByText('no samples yet')).toHaveCount(0);
  }
  await shot(page, 'metrics');
});
