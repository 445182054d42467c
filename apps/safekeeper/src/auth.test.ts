import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAuthPolicy, isLoopbackHost, loadVerifier } from '@strata/service-kit';
import { TENANT, OTHER_TENANT, TIMELINE, createBody, ed25519Keys, json, tempDir, testApp, type Keys, type TestApp } from './app.test-util.js';

const timelines = `/v1/tenants/${TENANT}/timelines`;
const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
const errorCode = async (res: Response) => ((await res.json()) as { code: string }).code;

describe('JWT auth on every route', () => {
  let keys: Keys;
  let t: TestApp;
  beforeAll(async () => {
    keys = await ed25519Keys();
    t = await testApp({ verifier: keys.verifier });
  });
  afterAll(() => t.close());

  it.each(['/v1/status', '/metrics', timelines, `${timelines}/${TIMELINE}`, `${timelines}/${TIMELINE}/wal?from=1`, '/nope'])(
    'no token → 401 on %s',
    async (path) => {
      const res = await t.app.request(path);
      expect(res.status).toBe(401);
      expect(await errorCode(res)).toBe('UNAUTHENTICATED');
    },
  );

  it('a bad, expired, foreign-key or claim-less token → 401', async () => {
    const other = await ed25519Keys();
    const tokens = [
      'not-a-jwt',
      await keys.token({ scope: 'admin' }, '-1m'),
      await other.token({ scope: 'admin' }),
      await keys.token({ scope: 'root' }),
      await keys.token({ scope: 'tenant' }), // tenant scope without tenant_id
      await new SignJWT({ scope: 'admin' }).setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(32)),
    ];
    for (const token of tokens) {
      const res = await t.app.request('/v1/status', bearer(token));
      expect(res.status, token).toBe(401);
    }
    expect((await t.app.request('/v1/status', { headers: { authorization: 'Basic abc' } })).status).toBe(401);
  });

  it('admin and safekeeperdata may do everything', async () => {
    for (const scope of ['admin', 'safekeeperdata']) {
      const token = await keys.token({ scope });
      expect((await t.app.request('/v1/status', bearer(token))).status).toBe(200);
      expect((await t.app.request('/metrics', bearer(token))).status).toBe(200);
      expect((await t.app.request(timelines, { ...json(createBody()), ...{ headers: { ...json(createBody()).headers, authorization: `Bearer ${token}` } } })).status).toBeLessThan(300);
    }
  });

  it('a tenant token works for its own tenant only, and not for operator routes', async () => {
    const mine = await keys.token({ scope: 'tenant', tenant_id: TENANT });
    const auth = { authorization: `Bearer ${mine}` };
    const created = await t.app.request(timelines, json(createBody(), auth));
    expect(created.status).toBeLessThan(300);
    expect((await t.app.request(`${timelines}/${TIMELINE}`, { headers: auth })).status).toBe(200);
    expect((await t.app.request(`${timelines}/${TIMELINE}/wal?from=1000`, { headers: auth })).status).toBe(200);

    const foreign = await t.app.request(`/v1/tenants/${OTHER_TENANT}/timelines`, { headers: auth });
    expect(foreign.status).toBe(403);
    expect(await errorCode(foreign)).toBe('FORBIDDEN');
    const foreignCreate = await t.app.request(`/v1/tenants/${OTHER_TENANT}/timelines`, json(createBody(), auth));
    expect(foreignCreate.status).toBe(403);
    expect(t.deps.timelines.list(OTHER_TENANT)).toEqual([]);

    // Wrong scope for the route.
    expect((await t.app.request(`${timelines}/${TIMELINE}`, { method: 'DELETE', headers: auth })).status).toBe(403);
    expect((await t.app.request('/metrics', { headers: auth })).status).toBe(403);
    expect(t.deps.timelines.list(TENANT)).toHaveLength(1);
  });

  it('loads an Ed25519 public key file or an HS256 secret file', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await writeFile(join(dir, 'auth.pub'), keys.publicKeyPem);
      const ed = await loadVerifier({ publicKeyFile: join(dir, 'auth.pub') });
      expect((await ed!.verify(await keys.token({ scope: 'admin' }))).scope).toBe('admin');

      const secret = 'x'.repeat(40);
      await writeFile(join(dir, 'secret'), secret + '\n');
      const hs = await loadVerifier({ hs256SecretFile: join(dir, 'secret') });
      const token = await new SignJWT({ scope: 'tenant', tenant_id: TENANT })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode(secret));
      expect(await hs!.verify(token)).toEqual({ scope: 'tenant', tenantId: TENANT, unauthenticated: false });
      // An EdDSA verifier refuses HS256 tokens (no algorithm confusion).
      await expect(ed!.verify(token)).rejects.toThrow(/invalid/);

      await writeFile(join(dir, 'short'), 'short');
      await expect(loadVerifier({ hs256SecretFile: join(dir, 'short') })).rejects.toThrow(/shorter than 32/);
      expect(await loadVerifier({})).toBeNull();
    } finally {
      await cleanup();
    }
  });
});

describe('running without a key', () => {
  it('serves unauthenticated requests (main.ts allows it on loopback only)', async () => {
    const t = await testApp({ verifier: null });
    try {
      expect((await t.app.request('/v1/status')).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('is allowed on loopback with a loud warning and refused anywhere else', async () => {
    for (const host of ['127.0.0.1', '127.3.4.5', '::1', '[::1]', 'localhost']) {
      expect(isLoopbackHost(host), host).toBe(true);
      expect(checkAuthPolicy(host, null)).toMatch(/AUTH IS DISABLED/);
    }
    for (const host of ['0.0.0.0', '::', '10.1.2.3', '192.168.1.1', 'example.com', '128.0.0.1']) {
      expect(isLoopbackHost(host), host).toBe(false);
      expect(() => checkAuthPolicy(host, null)).toThrow(/refusing to listen/);
    }
    const keys = await ed25519Keys();
    expect(checkAuthPolicy('0.0.0.0', keys.verifier)).toBeUndefined();
  });
});
