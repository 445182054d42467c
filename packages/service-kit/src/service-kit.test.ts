import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { generateKeyPair, importSPKI, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { assert, TimelineNotFound } from '@strata/core';
import { z } from 'zod';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { authMiddleware, authorize, checkAuthPolicy, type Claims, createVerifier, loadVerifier, signToken } from './auth.js';
import { ConfigError, listenSchema, loadFlags } from './config.js';
import { BadRequest, SERVICE_ERROR_STATUS } from './errors.js';
import { createErrorHandler, listen, parseListen } from './http.js';
import { readBodyBytes } from './body.js';
import { memoryLogger } from './log.js';
import { Counter, Gauge, Histogram, Registry } from './metrics.js';

type Env = { Variables: { requestId: string; claims: Claims } };

describe('service kit', () => {
  it('maps typed errors to {code, message, requestId}; a failed assertion is a logged 500 and reported as a bug', async () => {
    const log = memoryLogger();
    const bugs: Error[] = [];
    const app = new Hono<Env>()
      .use(requestId())
      .get('/bad', () => {
        throw new BadRequest('nope');
      })
      .get('/missing', () => {
        throw new TimelineNotFound('a', 'b');
      })
      .get('/bug', () => {
        assert(false, 'impossible');
        return new Response();
      });
    app.onError(createErrorHandler<Env>({ statusByCode: { ...SERVICE_ERROR_STATUS, TIMELINE_NOT_FOUND: 404 }, log, onBug: (e) => bugs.push(e) }));
    const bad = await app.request('/bad');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'BAD_REQUEST', message: 'nope', requestId: expect.any(String) });
    expect((await app.request('/missing')).status).toBe(404);
    const bug = await app.request('/bug');
    expect(bug.status).toBe(500);
    expect(((await bug.json()) as { code: string }).code).toBe('INTERNAL');
    expect(bugs).toHaveLength(1);
    expect(log.lines.map((l) => l.msg)).toEqual(['bug: assertion failed']);
  });

  it('verifies JWT scopes, including pageserverapi, and tenant tokens per tenant', async () => {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA');
    const sign = (claims: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA' }).setExpirationTime('1h').sign(privateKey);
    const app = new Hono<Env>().use(requestId()).use(authMiddleware(createVerifier(publicKey, 'EdDSA'))).get('/t/:tenant', (c) => {
      authorize(c.var.claims, ['admin', 'pageserverapi', 'tenant'], c.req.param('tenant'));
      return c.text('ok');
    });
    app.onError(createErrorHandler<Env>({ statusByCode: SERVICE_ERROR_STATUS, log: memoryLogger() }));
    const t = 'a'.repeat(32);
    const call = async (token?: string) => (await app.request(`/t/${t}`, token ? { headers: { authorization: `Bearer ${token}` } } : {})).status;
    expect(await call()).toBe(401);
    expect(await call(await sign({ scope: 'pageserverapi' }))).toBe(200);
    expect(await call(await sign({ scope: 'tenant', tenant_id: t }))).toBe(200);
    expect(await call(await sign({ scope: 'tenant', tenant_id: 'b'.repeat(32) }))).toBe(403);
    expect(await call(await sign({ scope: 'safekeeperdata' }))).toBe(403);
    expect(() => checkAuthPolicy('0.0.0.0', null)).toThrow(/refusing/);
    // A ConfigError: the services' main prints it on one line instead of a stack.
    expect(() => checkAuthPolicy('0.0.0.0', null)).toThrow(ConfigError);
    expect(checkAuthPolicy('127.0.0.1', null)).toMatch(/AUTH IS DISABLED/);
  });

  it('a key that cannot be loaded is a ConfigError (missing file, not a key, a short secret)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'service-kit-keys-'));
    try {
      writeFileSync(join(dir, 'garbage.pub'), 'not a key\n');
      writeFileSync(join(dir, 'short'), 'too short\n');
      await expect(loadVerifier({ publicKeyFile: join(dir, 'missing.pub') })).rejects.toThrow(ConfigError);
      await expect(loadVerifier({ publicKeyFile: join(dir, 'garbage.pub') })).rejects.toThrow(/is not an Ed25519 public key/);
      await expect(loadVerifier({ hs256SecretFile: join(dir, 'short') })).rejects.toThrow(ConfigError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('signs tokens a verifier of the same key accepts, with the tenant claim; a tenant token passes tenant-less routes of its scope', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const verifier = createVerifier(await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'EdDSA'), 'EdDSA');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const tenant = 'ab'.repeat(16);
    const claims = await verifier.verify(await signToken(pem, { scope: 'tenant', tenantId: tenant }));
    expect(claims).toEqual({ scope: 'tenant', tenantId: tenant, unauthenticated: false });
    expect(() => authorize(claims, ['tenant'])).not.toThrow();
    expect(() => authorize(claims, ['tenant'], tenant)).not.toThrow();
    expect(() => authorize(claims, ['tenant'], 'cd'.repeat(16))).toThrow(/may not touch/);
    expect((await verifier.verify(await signToken(pem, { scope: 'admin' }))).scope).toBe('admin');
    const other = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await expect(verifier.verify(await signToken(other, { scope: 'admin' }))).rejects.toThrow(/signature/);
  });

  it('renders counters, gauges and histograms in the Prometheus text format', () => {
    const r = new Registry();
    r.register(new Counter('c_total', 'a counter')).inc({ a: 'x"y' }, 2);
    const g = r.register(new Gauge('g', 'a gauge'));
    g.set(5n, { t: '1' });
    g.set(7, { t: '2' });
    g.remove({ t: '2' });
    r.register(new Histogram('h_seconds', 'a histogram', [0.1, 1])).observe(0.5);
    expect(r.render()).toBe(
      [
        '# HELP c_total a counter',
        '# TYPE c_total counter',
        'c_total{a="x\\"y"} 2',
        '# HELP g a gauge',
        '# TYPE g gauge',
        'g{t="1"} 5',
        '# HELP h_seconds a histogram',
        '# TYPE h_seconds histogram',
        'h_seconds_bucket{le="0.1"} 0',
        'h_seconds_bucket{le="1"} 1',
        'h_seconds_bucket{le="+Inf"} 1',
        'h_seconds_sum 0.5',
        'h_seconds_count 1',
        '',
      ].join('\n'),
    );
  });

  it('parses listen addresses', () => {
    expect(parseListen('127.0.0.1:80')).toEqual({ host: '127.0.0.1', port: 80 });
    expect(parseListen('[::1]:9898')).toEqual({ host: '::1', port: 9898 });
    expect(parseListen('host:99999')).toBeUndefined();
    expect(parseListen('nohost')).toBeUndefined();
  });

  it('loads flags over environment variables and names the flag and variable of every issue', () => {
    const flags = { listen: 'X_LISTEN', id: 'X_ID' } as const;
    const schema = z.object({ listen: listenSchema, id: z.coerce.number().int().optional() }).strict();
    expect(loadFlags(flags, schema, ['--listen', '[::1]:1'], { X_LISTEN: 'a:2', X_ID: '7' })).toEqual({ listen: { host: '::1', port: 1 }, id: 7 });
    expect(loadFlags(flags, schema, [], { X_LISTEN: 'a:2', X_ID: '' })).toEqual({ listen: { host: 'a', port: 2 } });
    expect(() => loadFlags(flags, schema, ['--listen', 'nope'], {})).toThrow(/--listen \(X_LISTEN\): must be HOST:PORT/);
    expect(() => loadFlags(flags, schema, ['--nope', '1'], {})).toThrow(ConfigError);
  });

  it('reads a binary body whole on the node server and through app.request, and refuses one over the limit', async () => {
    const app = new Hono().post('/echo', async (c) => {
      const body = await readBodyBytes(c, 4 << 20);
      return c.body(body as Uint8Array<ArrayBuffer>, 200, { 'x-length': String(body.length) });
    });
    app.onError((e, c) => c.text(e.name, 413));
    const data = new Uint8Array(3 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    const server = await listen(app.fetch, { host: '127.0.0.1', port: 0 });
    try {
      const res = await fetch(`${server.url}/echo`, { method: 'POST', body: data });
      expect(res.headers.get('x-length')).toBe(String(data.length));
      expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(data))).toBe(true);
      const big = await fetch(`${server.url}/echo`, { method: 'POST', body: new Uint8Array((4 << 20) + 1) });
      expect(await big.text()).toBe('PayloadTooLarge');
    } finally {
      await server.close();
    }
    const viaRequest = await app.request('/echo', { method: 'POST', body: data.subarray(0, 1000) });
    expect(viaRequest.headers.get('x-length')).toBe('1000');
  });

  it.each(['drain', 'close'] as const)('%s() lets a running request finish and refuses the next one on the same kept-alive connection (503 SHUTTING_DOWN)', async (how) => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const app = new Hono().get('/slow', async (c) => (await gate, c.text('slow'))).get('/fast', (c) => c.text('fast'));
    const server = await listen(app.fetch, { host: '127.0.0.1', port: 0 });
    const socket = connect(server.port, '127.0.0.1');
    let received = '';
    const ended = new Promise<void>((r) => socket.on('close', () => r()));
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    const drained = how === 'drain' ? server.drain() : server.close();
    // Pipelined on the connection server.close() would keep serving.
    socket.write('GET /fast HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    release();
    await drained;
    await ended;
    expect(received).toMatch(/^HTTP\/1\.1 200 [^]*\r\n\r\nslowHTTP\/1\.1 503 /);
    expect(received).toContain('"code":"SHUTTING_DOWN"');
    expect(received).not.toContain('fast');
  });
});
