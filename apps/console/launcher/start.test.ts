/**
 * The launcher as `./strata up` runs it: embedded PGlite, the first admin,
 * the two contract lines on stdout, sign-in with the printed password, a
 * clean SIGTERM, and the same password on the next start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'strata-launcher-'));

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function launch(port: number): { child: ChildProcess; lines: Promise<string[]> } {
  const env = { ...process.env };
  delete env['DATABASE_URL'];
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'apps/console/launcher/bin.ts'), '--home', home, '--port', String(port)], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const lines = new Promise<string[]>((res, rej) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const l = out.split('\n').filter(Boolean);
      if (l.length >= 2) res(l);
    });
    child.on('exit', (code) => rej(new Error(`launcher exited ${code}: ${err.slice(-2000)}`)));
  });
  return { child, lines };
}

function stopped(child: ChildProcess): Promise<number | null> {
  return new Promise((res) => {
    if (child.exitCode !== null) return res(child.exitCode);
    child.once('exit', (code) => res(code));
    child.kill('SIGTERM');
  });
}

describe('[LAUNCHER] apps/console/launcher/start.ts', () => {
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('serves the console on embedded PGlite, prints the contract lines, stops on SIGTERM, keeps the password', { timeout: 600_000 }, async () => {
    const port = await freePort();
    const first = launch(port);
    const [consoleLine, operatorLine] = await first.lines;
    expect(consoleLine).toBe(`console http://127.0.0.1:${port}`);
    const password = operatorLine!.match(/^operator admin (\S+)$/)![1]!;
    expect(readFileSync(join(home, 'console', 'admin-password'), 'utf8').trim()).toBe(password);

    const signIn = await fetch(`http://127.0.0.1:${port}/api/trpc/operators.signIn`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    expect(signIn.status).toBe(200);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const me = (await (await fetch(`http://127.0.0.1:${port}/api/trpc/operators.me`, { headers: { cookie } })).json()) as { result: { data: { role: string } } };
    expect(me.result.data.role).toBe('admin');
    const page = await fetch(`http://127.0.0.1:${port}/branches`);
    expect(page.status).toBe(200);
    expect(await stopped(first.child)).toBe(0);

    const again = launch(port);
    const [, operatorAgain] = await again.lines;
    expect(operatorAgain).toBe(`operator admin ${password}`);
    expect(await stopped(again.child)).toBe(0);
  });
});
