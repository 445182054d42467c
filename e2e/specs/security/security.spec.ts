/**
 * Issue 16 in a real browser: a viewer's pages and every tRPC answer they
 * load hold no password; time travel cannot read the host's files; a form
 * on another local port cannot act with the admin's cookie.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ConsoleApi, expect, signInUi, test, unique } from '../../fixtures/test.js';

function dbPassword(home: string): string {
  return (JSON.parse(readFileSync(join(home, 'cluster.json'), 'utf8')) as { db: { password: string } }).db.password;
}

test("[SECURITY][VIEWER] a viewer's pages and tRPC responses hold no password; LOAD_FILE in time travel is NULL", async ({ page, browser, baseURL, cluster }) => {
  const secret = dbPassword(cluster.home);
  const username = unique('sec-viewer').toLowerCase();
  const password = `pw-${Date.now()}-e2e`;
  await new ConsoleApi(page.request).mutate('operators.create', { username, password, role: 'viewer' });

  const context = await browser.newContext({ baseURL: baseURL!, storageState: { cookies: [], origins: [] } });
  try {
    const v = await context.newPage();
    const bodies: string[] = [];
    v.on('response', (r) => {
      if (new URL(r.url()).pathname.startsWith('/api/trpc/')) bodies.push(`${r.url()}\n`);
      const type = r.headers()['content-type'] ?? '';
      if (/json|html|text|x-component/.test(type)) void r.text().then((t) => bodies.push(t), () => undefined);
    });
    await signInUi(v, username, password);
    for (const path of ['/', '/computes', '/operations', '/branches', '/time-travel']) {
      await v.goto(path);
      await v.waitForLoadState('networkidle');
      expect(await v.content(), path).not.toContain(secret);
    }
    // The computes page still says where main is, without the password.
    await v.goto('/computes');
    await expect(v.locator('main')).toContainText(/mysql:\/\/root@127\.0\.0\.1:\d+/);

    await v.goto('/time-travel');
    const form = v.locator('form').filter({ has: v.getByRole('button', { name: 'Run query' }) });
    // Head is a choice of its own (an empty time is a field error).
    await form.locator('select[name=mode]').selectOption('head');
    await form.getByLabel('SQL').fill("SELECT LOAD_FILE('/etc/passwd') AS f, CURRENT_USER() AS u");
    await form.getByRole('button', { name: 'Run query' }).click();
    const results = v.getByTestId('results');
    await expect(results.locator('tbody tr')).toHaveCount(1, { timeout: 90_000 });
    // The file's contents are not there: the account has no FILE privilege, and LOAD_FILE gives NULL.
    await expect(results.locator('tbody tr td').first()).toHaveText('NULL');
    await expect(results.locator('tbody')).not.toContainText('root:');
    await expect(results.locator('tbody')).toContainText('strata_tt_');
    await v.waitForLoadState('networkidle');

    const everything = bodies.join('\n');
    expect(everything.length).toBeGreaterThan(0);
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain('root:x:0:0');
  } finally {
    await context.close();
  }
});

test('[SECURITY][CSRF] a form on another local port posting to the console with an admin cookie is refused', async ({ browser, baseURL, cluster }) => {
  const consoleOrigin = new URL(baseURL!).origin;
  // The attacker's page: the same site as the console (127.0.0.1), another origin (its own port). A multipart
  // form needs no CORS preflight, and tRPC reads a FormData body as an input object: signOut takes it as {}.
  const evil: Server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><form id="f" method="POST" enctype="multipart/form-data" action="${consoleOrigin}/api/trpc/operators.signOut">
      <input name="x" value="1"></form><script>document.getElementById('f').submit()</script>`);
  });
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  // A browser of its own with an admin session, so a failure here cannot sign the other specs out.
  const context = await browser.newContext({ baseURL: baseURL!, storageState: { cookies: [], origins: [] } });
  try {
    const admin = await context.newPage();
    await signInUi(admin, 'admin', cluster.adminPassword);
    const port = (evil.address() as AddressInfo).port;
    const answer = admin.waitForResponse((r) => r.url().startsWith(`${consoleOrigin}/api/trpc/operators.signOut`));
    await admin.goto(`http://127.0.0.1:${port}/`);
    const r = await answer;
    expect(r.status()).toBe(403);
    expect(await r.text()).toContain('FORBIDDEN');
    // The session the form tried to end is still signed in.
    const me = await new ConsoleApi(context.request).query<{ username: string } | null>('operators.me');
    expect(me?.username).toBe('admin');
  } finally {
    await context.close();
    await new Promise<void>((r) => evil.close(() => r()));
  }
});
