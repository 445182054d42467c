import { ConsoleApi, expect, shot, signInUi, test, unique } from '../../fixtures/test.js';

test('[OPERATORS][VIEWER] an admin adds a viewer; the viewer sees everything, mutations are disabled and refused (FORBIDDEN)', async ({ page, browser, baseURL }) => {
  const username = unique('viewer').toLowerCase();
  const password = `pw-${Date.now()}-e2e`;
  await page.goto('/operators');
  const form = page.locator('form').filter({ has: page.getByRole('button', { name: 'Add operator' }) });
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Password').fill(password);
  await form.getByLabel('Role').selectOption('viewer');
  await form.getByRole('button', { name: 'Add operator' }).click();
  await expect(page.getByRole('row').filter({ hasText: username })).toContainText(`${username}viewer`);
  await shot(page, 'operators');

  // The viewer in a browser of their own, signed in through the form.
  const context = await browser.newContext({ baseURL: baseURL!, storageState: { cookies: [], origins: [] } });
  try {
    const v = await context.newPage();
    await signInUi(v, username, password);
    await expect(v.getByTestId('who')).toHaveText(`${username} (viewer)`);
    await expect(v.getByTestId('nodes').getByRole('row')).not.toHaveCount(0);

    await expect(v.getByTestId('viewer-banner')).toBeVisible();

    // Sees every page's data; every control that would change something is disabled.
    await v.goto('/branches');
    await expect(v.getByTestId('branch-main')).toContainText('root');
    await expect(v.getByRole('button', { name: 'Create branch' })).toBeDisabled();
    await expect(v.getByTestId('branch-main').getByRole('button', { name: 'start compute' }).first()).toBeDisabled();
    await shot(v, 'viewer-branches');
    for (const [path, button] of [
      ['/snapshots', 'Take snapshot'],
      ['/computes', 'Start compute'],
      ['/tenants', 'Create tenant'],
      ['/safekeepers', 'Add a safekeeper node'],
      ['/safekeepers', 'Change membership'],
      ['/operators', 'Add operator'],
    ] as const) {
      await v.goto(path);
      await expect(v.getByRole('button', { name: button }).first(), path).toBeDisabled();
    }
    // Time travel only reads: a viewer may run it.
    await v.goto('/time-travel');
    await expect(v.getByRole('button', { name: 'Run query' })).toBeEnabled();

    // Every mutation procedure says FORBIDDEN (403) to the viewer's session; nothing changed.
    const api = new ConsoleApi(v.request);
    const attempts: [string, unknown][] = [
      ['branches.create', { from: 'main', name: 'viewer-branch' }],
      ['branches.delete', { name: 'main' }],
      ['snapshots.create', { branch: 'main', name: 'viewer-snap' }],
      ['computes.start', { branch: 'main', readOnly: true }],
      ['computes.stop', { name: 'main' }],
      ['tenants.create', { name: 'viewer-tenant' }],
      ['safekeepers.changeMembership', { timelineId: '0'.repeat(32), members: [1] }],
      ['safekeepers.add', {}],
      ['pageservers.gc', { timelineId: '0'.repeat(32) }],
      ['metrics.scrape', {}],
      ['operators.create', { username: 'mallory', password: 'longenough', role: 'admin' }],
    ];
    for (const [path, input] of attempts) expect(await api.attempt(path, input), path).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    const branches = await api.query<{ name: string }[]>('branches.list');
    expect(branches.map((b) => b.name)).not.toContain('viewer-branch');
    const operators = await api.query<{ username: string }[]>('operators.list');
    expect(operators.map((o) => o.username)).not.toContain('mallory');
  } finally {
    await context.close();
  }
});
