import { expect, shot, test } from '../../fixtures/test.js';

interface Chart {
  metric: string;
  series: { source: string; points: { t: number; v: number }[] }[];
}
interface Overview {
  timelines: { branch: string | null; ingestLagBytes: string | null }[];
}

/** `14:05` → minutes since midnight. */
const minutes = (hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
};

test('[METRICS][AXES] charts have labelled value and time axes, hover values, legends and a time range; ingest lag agrees with the Overview', async ({ page, api, quiesce }) => {
  test.setTimeout(180_000);
  await quiesce();
  await page.goto('/metrics');
  await expect(page.getByTestId('range-picker').getByRole('button', { name: '15 min' })).toHaveAttribute('aria-pressed', 'true');
  const lag = page.getByTestId('chart').filter({ hasText: 'Ingest lag' });
  await expect(lag).toHaveAttribute('data-points', /^[1-9]\d*$/, { timeout: 60_000 });

  // Axes: round values in the chart's unit, times of day.
  await expect(lag.getByTestId('y-tick').first()).toHaveText('0 B');
  expect((await lag.getByTestId('y-tick').allTextContents()).length).toBeGreaterThanOrEqual(2);
  const times = await lag.getByTestId('x-tick').allTextContents();
  expect(times.length).toBeGreaterThanOrEqual(2);
  for (const t of times) expect(t).toMatch(/^\d\d:\d\d(:\d\d)?$/);

  // One series per branch, named as the Overview names them, in a legend of its own.
  await expect(lag.getByTestId('legend')).toContainText('main');

  // The same source as the Overview: once quiet, the chart's latest value for main is the Overview's.
  await expect
    .poll(
      async () => {
        const chart = (await api.query<Chart[]>('metrics.charts', { sinceMs: 15 * 60_000 })).find((c) => c.metric === 'ingest_lag_bytes')!;
        const last = chart.series.find((s) => s.source === 'main')?.points.at(-1)?.v;
        const overview = (await api.query<Overview>('overview.get')).timelines.find((t) => t.branch === 'main')?.ingestLagBytes;
        return last !== undefined && overview !== null && overview !== undefined && String(last) === overview;
      },
      { timeout: 60_000, intervals: [1_000] },
    )
    .toBe(true);

  // Hover: the values under the pointer, with their time.
  await lag.locator('svg').hover();
  const tip = lag.getByTestId('chart-tooltip');
  await expect(tip).toBeVisible();
  await expect(tip).toContainText(/\d\d:\d\d:\d\d/);
  await expect(tip).toContainText(/main: \d/);
  await expect(lag.getByTestId('crosshair')).toBeVisible();
  await shot(page, 'metrics-hover');
  await page.mouse.move(0, 0);
  await expect(tip).toHaveCount(0);

  // A longer range: the URL carries it, the time axis spans it.
  await page.getByTestId('range-picker').getByRole('button', { name: '1 h' }).click();
  await expect(page).toHaveURL(/\/metrics\?range=1h$/);
  await expect(page.getByTestId('range-picker').getByRole('button', { name: '1 h' })).toHaveAttribute('aria-pressed', 'true');
  await expect(page.locator('.charts[data-range="1h"]')).toBeVisible();
  const hour = (await lag.getByTestId('x-tick').allTextContents()).map(minutes);
  const span = (hour.at(-1)! - hour[0]! + 24 * 60) % (24 * 60);
  expect(span).toBeGreaterThanOrEqual(30);
  await page.reload();
  await expect(page.getByTestId('range-picker').getByRole('button', { name: '1 h' })).toHaveAttribute('aria-pressed', 'true');

  // Readable in dark mode too.
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot(page, 'metrics-dark');
});
