import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, memoryLogger } from '@strata/service-kit';
import { TENANT, TIMELINE, createBody, ed25519Keys, tempDir } from './app.test-util.js';
import { loadConfig } from './env.js';
import { startSafekeeper, type RunningSafekeeper } from './main.js';

describe('loadConfig', () => {
  it('takes flags over environment variables and resolves paths', () => {
    const c = loadConfig(['--id', '2', '--listen', '[::1]:7000', '--data', 'rel/dir'], { SAFEKEEPER_ID: '9', SAFEKEEPER_REMOTE_STORAGE: 'file:///srv/remote' }, '/base');
    expect(c).toEqual({
      nodeId: 2,
      listen: { host: '::1', port: 7000 },
      dataDir: '/base/rel/dir',
      remoteStorageUrl: 'file:///srv/remote',
      auth: { publicKeyFile: undefined, hs256SecretFile: undefined },
      tls: undefined,
      walSegmentBytes: undefined,
      peers: undefined,
    });
    expect(loadConfig([], { SAFEKEEPER_ID: '1', SAFEKEEPER_DATA_DIR: '/d' }, '/').listen).toEqual({ host: '127.0.0.1', port: 7676 });
  });

  it('parses --peers (SAFEKEEPER_PEERS) and drops its own entry', () => {
    const c = loadConfig(['--id', '2', '--data', '/d', '--peers', '1=http://127.0.0.1:7001/,2=http://127.0.0.1:7002,3=https://sk3:7003'], {}, '/');
    expect([...c.peers!]).toEqual([
      [1, 'http://127.0.0.1:7001'],
      [3, 'https://sk3:7003'],
    ]);
    expect([...loadConfig([], { SAFEKEEPER_ID: '1', SAFEKEEPER_DATA_DIR: '/d', SAFEKEEPER_PEERS: '2=http://h:1' }, '/').peers!]).toEqual([[2, 'http://h:1']]);
    // The token it shows its peers on a cluster with auth, resolved against the working directory.
    expect(loadConfig(['--id', '1', '--data', '/d', '--token-file', 'sk.token'], {}, '/etc/strata').tokenFile).toBe('/etc/strata/sk.token');
  });

  it.each([
    [['--data', '/d'], /--id \(SAFEKEEPER_ID\)/],
    [['--id', '0', '--data', '/d'], /--id/],
    [['--id', '1', '--data', '/d', '--listen', 'nohost'], /--listen.*HOST:PORT/],
    [['--id', '1', '--data', '/d', '--remote-storage', 'ftp://x'], /--remote-storage.*unknown scheme/],
    [['--id', '1', '--data', '/d', '--tls-cert', '/c'], /both a certificate and a key/],
    [['--id', '1', '--data', '/d', '--wal-segment-bytes', '1000000'], /power of two/],
    [['--id', '1', '--data', '/d', '--bogus', 'x'], /Unknown option '--bogus'/],
    [['--id', '1', '--data', '/d', '--peers', 'http://h:1'], /--peers.*ID=URL/],
    [['--id', '1', '--data', '/d', '--peers', '2=ftp://h:1'], /--peers/],
    [['--id', '1', '--data', '/d', '--peers', '2=http://a:1,2=http://b:1'], /listed twice/],
  ])('rejects %j', (argv, message) => {
    expect(() => loadConfig(argv, {}, '/')).toThrow(ConfigError);
    expect(() => loadConfig(argv, {}, '/')).toThrow(message);
  });
});

function httpsGet(url: string, ca: Buffer, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a real listening safekeeper', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    tmp = await tempDir();
  });
  afterAll(() => tmp.cleanup());

  it('serves HTTP on loopback without a key, and keeps timelines across a restart', async () => {
    const log = memoryLogger();
    const config = loadConfig(['--id', '1', '--listen', '127.0.0.1:0', '--data', join(tmp.dir, 'plain')], {}, '/');
    let sk: RunningSafekeeper = await startSafekeeper(config, log);
    try {
      expect(log.lines.some((l) => l.level === 'warn' && /AUTH IS DISABLED/.test(l.msg))).toBe(true);
      const created = await fetch(`${sk.url}/v1/tenants/${TENANT}/timelines`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(createBody()),
      });
      expect(created.status).toBe(201);
      await sk.stop();
      sk = await startSafekeeper(config, log);
      const status = (await (await fetch(`${sk.url}/v1/status`)).json()) as { timelines: number };
      expect(status.timelines).toBe(1);
      const tl = await fetch(`${sk.url}/v1/tenants/${TENANT}/timelines/${TIMELINE}`);
      expect(tl.status).toBe(200);
    } finally {
      await sk.stop();
    }
  });

  it('shows its peers the token of --token-file as one bearer header, and none without a token', async () => {
    await writeFile(join(tmp.dir, 'peer.token'), 'tok3n\n');
    const withToken = loadConfig(['--id', '1', '--listen', '127.0.0.1:0', '--data', join(tmp.dir, 'peer-auth'), '--token-file', join(tmp.dir, 'peer.token')], {}, '/');
    let sk = await startSafekeeper(withToken, memoryLogger());
    try {
      expect(sk.deps.peerAuthorization).toBe('Bearer tok3n');
    } finally {
      await sk.stop();
    }
    sk = await startSafekeeper(loadConfig(['--id', '1', '--listen', '127.0.0.1:0', '--data', join(tmp.dir, 'peer-auth')], {}, '/'), memoryLogger());
    try {
      expect(sk.deps.peerAuthorization).toBeUndefined();
    } finally {
      await sk.stop();
    }
  });

  it('refuses to start without a key on a non-loopback address', async () => {
    const config = loadConfig(['--id', '1', '--listen', '0.0.0.0:0', '--data', join(tmp.dir, 'open')], {}, '/');
    await expect(startSafekeeper(config, memoryLogger())).rejects.toThrow(/refusing to listen on 0.0.0.0 without auth/);
  });

  it('serves HTTPS with JWT auth when a certificate and a key are configured', async () => {
    const keys = await ed25519Keys();
    const dir = tmp.dir;
    await writeFile(join(dir, 'auth.pub'), keys.publicKeyPem);
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt'),
    ], { stdio: 'ignore' });
    const config = loadConfig(
      ['--id', '3', '--listen', '127.0.0.1:0', '--data', join(dir, 'tls-data'), '--auth-public-key', join(dir, 'auth.pub'), '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key')],
      {},
      '/',
    );
    const sk = await startSafekeeper(config, memoryLogger());
    try {
      expect(sk.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = await readFile(join(dir, 'tls.crt'));
      const ok = await httpsGet(`${sk.url}/v1/status`, ca, await keys.token({ scope: 'admin' }));
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.body)).toMatchObject({ nodeId: 3, auth: 'EdDSA' });
      const denied = await httpsGet(`${sk.url}/v1/status`, ca, 'garbage');
      expect(denied.status).toBe(401);
    } finally {
      await sk.stop();
    }
  });
});
