/**
 * The page server process setup (`startPageserver`): HTTPS with JWT auth when
 * a certificate and a key are configured, for the admin API and for the
 * pipelined GetPage stream alike.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { PageserverClient } from '@strata/client';
import { memoryLogger } from '@strata/service-kit';
import { GetPageStatus } from '@strata/core/getpage';
import { loadConfig } from './env.js';
import { startPageserver } from './main.js';
import { LSN, page, ROOT, seedTimeline, SPACE, TENANT } from './seed-timeline.test-util.js';

function httpsGet(url: string, ca: Buffer, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('page server process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-ps-main-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves HTTPS with JWT auth when configured: the admin API and the GetPage stream', async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
    writeFileSync(join(dir, 'auth.pub'), await exportSPKI(publicKey));
    const token = await new SignJWT({ scope: 'tenant', tenant_id: TENANT }).setProtectedHeader({ alg: 'EdDSA' }).sign(privateKey);
    const admin = await new SignJWT({ scope: 'admin' }).setProtectedHeader({ alg: 'EdDSA' }).sign(privateKey);
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt'),
    ], { stdio: 'ignore' });
    const dataDir = join(dir, 'data');
    seedTimeline(dataDir);
    const config = loadConfig(
      ['--listen', '127.0.0.1:0', '--data', dataDir, '--safekeepers', '127.0.0.1:1', '--auth-public-key', join(dir, 'auth.pub'), '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key')],
      {},
      '/',
    );
    const ps = await startPageserver(config, memoryLogger());
    try {
      expect(ps.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = readFileSync(join(dir, 'tls.crt'));
      const ok = await httpsGet(`${ps.url}/v1/status`, ca, admin);
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.body)).toMatchObject({ service: 'pageserver', auth: 'EdDSA', timelines: 1 });
      expect((await httpsGet(`${ps.url}/v1/status`, ca, 'garbage')).status).toBe(401);
      // The stream is an upgrade of the same TLS connection.
      const client = await PageserverClient.connect({ url: ps.url, ca, tenantId: TENANT, timelineId: ROOT, token });
      try {
        const [item] = await client.getPages([{ spaceId: SPACE, pageNo: 1, lsn: LSN }]);
        expect(item?.status).toBe(GetPageStatus.OK);
        expect(item?.status === GetPageStatus.OK && Buffer.from(item.page).equals(Buffer.from(page(1)))).toBe(true);
      } finally {
        client.close();
      }
      // Without trusting the certificate there is no connection at all.
      await expect(PageserverClient.connect({ url: ps.url, tenantId: TENANT, timelineId: ROOT, token })).rejects.toThrow(/CONNECTION_FAILED|certificate/i);
    } finally {
      await ps.stop();
    }
  });
});
