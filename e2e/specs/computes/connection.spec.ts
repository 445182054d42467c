import { execFile } from 'node:child_process';
import { ConsoleApi, expect, shot, signInUi, test, unique } from '../../fixtures/test.js';

/** The root password of the cluster's computes, from the URL `./strata up` printed for main. */
const rootPassword = (mainUrl: string) => decodeURIComponent(new URL(mainUrl).password);

function sh(command: string): Promise<string> {
  return new Promise((resolve, reject) => execFile('sh', ['-c', command], { timeout: 30_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${command}: ${stderr}`)) : resolve(stdout))));
}

test('[COMPUTES][CONNECT] an admin reveals the password and copies a ready mariadb command that connects', async ({ page, context, baseURL, cluster }) => {
  const secret = rootPassword(cluster.mainUrl);
  expect(secret.length).toBeGreaterThan(0);
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseURL! });
  // The list every page polls: even an admin's carries no password (only the reveal asks for it).
  const polled = page.waitForResponse((r) => r.url().includes('/api/trpc/') && r.url().includes('computes.list'));
  await page.goto('/computes');
  const panel = page.getByTestId('connection-main');
  expect(await (await polled).text()).not.toContain(secret);
  // Hidden until revealed: the command prompts (-p), the page shows no password.
  await expect(panel.getByTestId('connection-command')).toHaveText(/^mariadb -h 127\.0\.0\.1 -P \d+ -u root -p$/);
  await expect(panel.getByTestId('password')).not.toHaveText(secret);
  expect(await page.locator('main').innerText()).not.toContain(secret);

  const asked = page.waitForResponse((r) => r.url().includes('/api/trpc/') && r.url().includes('computes.connection'));
  await panel.getByTestId('reveal').click();
  expect(await (await asked).text()).toContain(secret);
  await expect(panel.getByTestId('password')).toHaveText(secret);
  await expect(panel.getByTestId('connection-command')).toContainText('--password=');
  await panel.getByTestId('copy-command').click();
  await expect(panel.getByTestId('copy-command')).toHaveText('Copied');
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(copied).toBe(await panel.getByTestId('connection-command').innerText());
  expect(copied).toContain(secret);
  // Ready as copied: it connects to main without a prompt.
  expect((await sh(`${copied} -N -e 'SELECT 40 + 2'`)).trim()).toBe('42');
  await shot(page, 'connection-revealed');

  await panel.getByTestId('copy-url').click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toMatch(/^mysql:\/\/root:.+@127\.0\.0\.1:\d+\/$/);
  await panel.getByTestId('reveal').click();
  await expect(panel.getByTestId('password')).not.toHaveText(secret);
});

test("[COMPUTES][CONNECT][VIEWER] a viewer sees the command without a password and no reveal; no tRPC response of theirs holds the password", async ({ page, browser, baseURL, cluster }) => {
  const secret = rootPassword(cluster.mainUrl);
  const username = unique('conn-viewer').toLowerCase();
  const password = `pw-${Date.now()}-e2e`;
  await new ConsoleApi(page.request).mutate('operators.create', { username, password, role: 'viewer' });

  const context = await browser.newContext({ baseURL: baseURL!, storageState: { cookies: [], origins: [] } });
  try {
    const v = await context.newPage();
    // Every tRPC answer the viewer's browser receives (queries, batches, prefetched pages' payloads).
    const bodies: Promise<{ url: string; text: string }>[] = [];
    v.on('response', (r) => {
      const type = r.headers()['content-type'] ?? '';
      if (new URL(r.url()).pathname.startsWith('/api/trpc/') || /json|html|x-component/.test(type)) bodies.push(r.text().then((text) => ({ url: r.url(), text }), () => ({ url: r.url(), text: '' })));
    });
    await signInUi(v, username, password);
    await v.goto('/computes');
    const panel = v.getByTestId('connection-main');
    await expect(panel.getByTestId('connection-command')).toHaveText(/^mariadb -h 127\.0\.0\.1 -P \d+ -u root -p$/);
    await expect(panel.getByTestId('connection-url')).toHaveText(/^mysql:\/\/root@127\.0\.0\.1:\d+\/$/);
    await expect(panel.getByTestId('reveal')).toHaveCount(0);
    await expect(panel).toContainText('admins only');
    // The first list comes with the page (prefetched); the poll asks tRPC again: its answer names main without the password.
    const polled = await v.waitForResponse((r) => r.url().includes('/api/trpc/') && r.url().includes('computes.list'));
    expect(await polled.text()).toMatch(/mysql:\/\/root@127\.0\.0\.1:\d+\//);
    // Every body read before leaving the page (a body is gone once its page navigated away).
    await v.waitForLoadState('networkidle');
    await Promise.all(bodies);
    await v.goto('/');
    await v.waitForLoadState('networkidle');
    await shot(v, 'connection-viewer');

    const seen = await Promise.all(bodies);
    expect(seen.filter((b) => new URL(b.url).pathname.startsWith('/api/trpc/')).length).toBeGreaterThan(0);
    for (const b of seen) expect(b.text, b.url).not.toContain(secret);
  } finally {
    await context.close();
  }
});
