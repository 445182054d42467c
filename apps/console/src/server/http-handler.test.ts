/**
 * The console's HTTP entry against a real Postgres: cross-site requests
 * (issue 16, attack 5) and sign-in guessing (attack 6) are refused before
 * they reach a procedure. Requests are real `Request`s through the same
 * handler the Next route serves. The per-address limit trusts
 * X-Forwarded-For only behind a configured proxy (deps.trustedProxy).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listOperators } from '@strata/db';
import { createTrpcHandler } from './http-handler';
import { SignInLimiter } from './services/sign-in-limiter';
import { addOperator, createHarness, type Harness } from './testing/harness';

const CONSOLE = 'http://127.0.0.1:7000';
const EVIL = 'http://127.0.0.1:7999';

describe('[SECURITY][HTTP] the console refuses cross-site mutations and throttles sign-in', () => {
  let h: Harness;
  let handle: (req: Request) => Promise<Response>;
  let adminCookie: string;

  async function signIn(username: string, password: string, address: string, via = handle): Promise<Response> {
    return via(
      new Request(`${CONSOLE}/api/trpc/operators.signIn`, {
        method: 'POST',
        headers: { host: '127.0.0.1:7000', origin: CONSOLE, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json', 'x-forwarded-for': address },
        body: JSON.stringify({ username, password }),
      }),
    );
  }

  async function operatorNames(): Promise<string[]> {
    return (await listOperators(h.deps.db)).map((o) => o.username);
  }

  beforeAll(async () => {
    h = await createHarness({ cluster: false });
    handle = createTrpcHandler(h.deps);
    await addOperator(h.deps, { username: 'admin', password: 'correct horse', role: 'admin' });
    await addOperator(h.deps, { username: 'viewer', password: 'battery staple', role: 'viewer' });
    const r = await signIn('admin', 'correct horse', '10.0.0.1');
    expect(r.status).toBe(200);
    adminCookie = r.headers.get('set-cookie')!.split(';')[0]!;
  });
  afterAll(() => h?.close());

  /** operators.create as the signed-in admin, with the given headers and body. */
  function createOperator(headers: Record<string, string>, body: BodyInit): Promise<Response> {
    return handle(new Request(`${CONSOLE}/api/trpc/operators.create`, { method: 'POST', headers: { host: '127.0.0.1:7000', cookie: adminCookie, ...headers }, body }));
  }

  it('a multipart form POST from another origin, with the admin cookie, is refused and creates nothing', async () => {
    const form = new FormData();
    form.set('username', 'mallory');
    form.set('password', 'longenough');
    form.set('role', 'admin');
    const r = await createOperator({ origin: EVIL, 'sec-fetch-site': 'same-site' }, form);
    expect(r.status).toBe(403);
    expect(await operatorNames()).not.toContain('mallory');
  });

  it('a cross-origin multipart signOut (tRPC reads FormData as {}) does not end the admin session', async () => {
    const form = new FormData();
    form.set('x', '1');
    const r = await handle(
      new Request(`${CONSOLE}/api/trpc/operators.signOut`, { method: 'POST', headers: { host: '127.0.0.1:7000', cookie: adminCookie, origin: EVIL, 'sec-fetch-site': 'same-site' }, body: form }),
    );
    expect(r.status).toBe(403);
    const me = await handle(new Request(`${CONSOLE}/api/trpc/operators.me`, { headers: { cookie: adminCookie } }));
    expect(((await me.json()) as { result: { data: { username: string } | null } }).result.data?.username).toBe('admin');
  });

  it('JSON from another origin (another port of 127.0.0.1 is the same site) is refused', async () => {
    const body = JSON.stringify({ username: 'mallory', password: 'longenough', role: 'admin' });
    expect((await createOperator({ origin: EVIL, 'content-type': 'application/json' }, body)).status).toBe(403);
    expect((await createOperator({ 'sec-fetch-site': 'same-site', 'content-type': 'application/json' }, body)).status).toBe(403);
    expect((await createOperator({ 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' }, body)).status).toBe(403);
    expect((await createOperator({ origin: 'null', 'content-type': 'application/json' }, body)).status).toBe(403);
    expect(await operatorNames()).not.toContain('mallory');
  });

  it('a same-origin form post without a JSON content type is refused too', async () => {
    const body = JSON.stringify({ username: 'mallory', password: 'longenough', role: 'admin' });
    const r = await createOperator({ origin: CONSOLE, 'sec-fetch-site': 'same-origin', 'content-type': 'text/plain' }, body);
    expect(r.status).toBe(403);
    expect(((await r.json()) as { error: { data: { code: string } } }).error.data.code).toBe('FORBIDDEN');
    expect(await operatorNames()).not.toContain('mallory');
  });

  it('the console itself (same origin, JSON) and non-browser clients (no Origin) still work', async () => {
    const json = { 'content-type': 'application/json' };
    const a = await createOperator({ ...json, origin: CONSOLE, 'sec-fetch-site': 'same-origin' }, JSON.stringify({ username: 'alice', password: 'longenough', role: 'viewer' }));
    expect(a.status).toBe(200);
    const b = await createOperator(json, JSON.stringify({ username: 'bob', password: 'longenough', role: 'viewer' }));
    expect(b.status).toBe(200);
    expect(await operatorNames()).toEqual(expect.arrayContaining(['alice', 'bob']));
    // Queries (GET) are not mutations: a page render's fetches are untouched.
    const me = await handle(new Request(`${CONSOLE}/api/trpc/operators.me`, { headers: { cookie: adminCookie } }));
    expect(me.status).toBe(200);
  });

  it('after 5 wrong passwords for a user, even the right one is refused (429), from any address', async () => {
    for (let i = 0; i < 5; i++) expect((await signIn('viewer', `wrong ${i}`, `10.1.0.${i}`)).status).toBe(401);
    const locked = await signIn('viewer', 'battery staple', '10.1.0.99');
    expect(locked.status).toBe(429);
    expect(((await locked.json()) as { error: { data: { code: string } } }).error.data.code).toBe('TOO_MANY_REQUESTS');
    expect(locked.headers.get('set-cookie')).toBeNull();
    // Other operators are not locked out by it.
    expect((await signIn('admin', 'correct horse', '10.1.0.98')).status).toBe(200);
  });

  /** A handler with its own (empty) sign-in counts, trusting X-Forwarded-For or not. */
  function freshHandler(trustedProxy: boolean): (req: Request) => Promise<Response> {
    return createTrpcHandler({ ...h.deps, trustedProxy, signInLimiter: new SignInLimiter(h.deps.now) });
  }

  it('without a trusted proxy, 20 wrong passwords with a different X-Forwarded-For each still lock the address (429)', async () => {
    const direct = freshHandler(false);
    for (let i = 0; i < 20; i++) expect((await signIn(`nobody${i}`, 'guess', `10.3.0.${i}`, direct)).status).toBe(401);
    // A 21st address, and the right password: the client chose every one of those addresses, so they were one.
    const locked = await signIn('admin', 'correct horse', '10.3.0.99', direct);
    expect(locked.status).toBe(429);
    expect(((await locked.json()) as { error: { message: string; data: { code: string } } }).error).toMatchObject({ data: { code: 'TOO_MANY_REQUESTS' }, message: expect.stringMatching(/address/) });
    expect((await signIn('admin', 'correct horse', '', direct)).status).toBe(429);
  });

  it('behind a trusted proxy, 20 failures from one forwarded address lock it; other addresses are counted separately', async () => {
    const proxied = freshHandler(true);
    for (let i = 0; i < 20; i++) expect((await signIn(`nobody${i}`, 'guess', '10.2.0.1', proxied)).status).toBe(401);
    expect((await signIn('admin', 'correct horse', '10.2.0.1', proxied)).status).toBe(429);
    // The proxy appends the address it saw: what the client put before it changes nothing.
    expect((await signIn('admin', 'correct horse', '10.9.9.9, 10.2.0.1', proxied)).status).toBe(429);
    expect((await signIn('admin', 'correct horse', '10.2.0.2', proxied)).status).toBe(200);
    expect((await signIn('admin', 'correct horse', '10.2.0.1, 10.2.0.3', proxied)).status).toBe(200);
  });
});
