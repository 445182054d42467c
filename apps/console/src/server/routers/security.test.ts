/**
 * Issue 16's attacks on the console and the compute, against a real local
 * cluster (`./strata up`) and a real Postgres: a viewer reads no secret,
 * time travel cannot read the host's files or the grant tables, mariadbd
 * runs unprivileged, the compute's control port wants the admin token, and
 * the files holding secrets are 0600.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addOperator, createHarness, type Harness } from '../testing/harness';

interface ComputeFile {
  controlUrl: string;
  controllerPid: number;
  mariadbdPid: number;
  connectionUrl: string;
}

describe('[SECURITY][CLUSTER] least privilege for viewers, time travel, mariadbd and the compute control port', () => {
  let h: Harness;
  let admin: string;
  let viewer: string;
  let dbPassword: string;
  let adminToken: string;

  const mainFile = (): ComputeFile => JSON.parse(readFileSync(join(h.home, 'computes', 'main', 'compute.json'), 'utf8')) as ComputeFile;
  const modeOf = (file: string) => (statSync(file).mode & 0o777).toString(8);

  beforeAll(async () => {
    h = await createHarness({ cluster: true });
    await addOperator(h.deps, { username: 'admin', password: 'correct horse', role: 'admin' });
    await addOperator(h.deps, { username: 'viewer', password: 'battery staple', role: 'viewer' });
    admin = await h.signIn('admin', 'correct horse');
    viewer = await h.signIn('viewer', 'battery staple');
    const registry = JSON.parse(readFileSync(join(h.home, 'cluster.json'), 'utf8')) as { db: { password: string } };
    dbPassword = registry.db.password;
    expect(dbPassword.length).toBeGreaterThanOrEqual(8);
    adminToken = readFileSync(join(h.home, 'keys', 'admin.jwt'), 'utf8').trim();
  });
  afterAll(() => h?.close());

  it("[VIEWER] computes.list, overview and operations carry no password; an admin's list does", async () => {
    const mine = await h.caller(viewer).computes.list();
    const main = mine.find((c) => c.name === 'main');
    expect(main?.connectionUrl).toMatch(/^mysql:\/\/root@127\.0\.0\.1:\d+\/$/);
    expect(JSON.stringify(mine)).not.toContain(dbPassword);
    expect(JSON.stringify(await h.caller(viewer).overview.get())).not.toContain(dbPassword);
    // The admin connects with it: the redaction is by role, not a broken URL.
    expect((await h.caller(admin).computes.list()).find((c) => c.name === 'main')?.connectionUrl).toContain(`:${dbPassword}@`);

    // An admin's compute start is an operation every viewer may read: its result names the compute, not the password.
    const op = await h.caller(admin).computes.start({ branch: 'main', readOnly: true });
    await h.deps.background.idle();
    const done = await h.caller(viewer).operations.get({ id: op.id });
    expect(done.status).toBe('finished');
    expect(done.result).toMatchObject({ connectionUrl: expect.stringMatching(/^mysql:\/\/root@/) });
    expect(JSON.stringify(done)).not.toContain(dbPassword);
    expect(JSON.stringify(await h.caller(viewer).operations.list())).not.toContain(dbPassword);
    const name = (done.result as { name: string }).name;
    await h.caller(admin).computes.stop({ name });
    await h.deps.background.idle();
  });

  it('[MARIADBD] runs as an unprivileged OS user with secure_file_priv on an empty directory: even root reads no host file', async () => {
    const { mariadbdPid, connectionUrl } = mainFile();
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${mariadbdPid}/status`, 'utf8'))![1]);
    if (process.getuid?.() === 0) expect(uid).not.toBe(0);
    const c = await mysql.createConnection({ uri: connectionUrl });
    try {
      const [rows] = await c.query<RowDataPacket[]>("SELECT @@secure_file_priv AS dir, LOAD_FILE('/etc/passwd') AS f");
      expect(rows[0]!['dir']).toMatch(/secure-files\/?$/);
      expect(rows[0]!['f']).toBeNull();
    } finally {
      await c.end();
    }
  });

  it('[TIME TRAVEL] LOAD_FILE returns NULL; the query runs as its own account that cannot read mysql.*', async () => {
    const file = await h.caller(viewer).timeTravel.query({ branch: 'main', sql: "SELECT LOAD_FILE('/etc/passwd') AS f" });
    expect(file.rows).toEqual([[null]]);
    const who = await h.caller(viewer).timeTravel.query({ branch: 'main', sql: 'SELECT CURRENT_USER() AS u' });
    expect(who.rows[0]![0]).toMatch(/^strata_tt_[0-9a-f]{12}@127\.0\.0\.1$/);
    await expect(h.caller(viewer).timeTravel.query({ branch: 'main', sql: 'SELECT User, Password FROM mysql.user' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/denied/i),
    });
    await expect(h.caller(viewer).timeTravel.query({ branch: 'main', sql: 'SELECT * FROM mysql.global_priv' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('[CONTROL PORT] every route but /v1/health wants the admin token; a tenant token is forbidden; a foreign Origin cannot stop the compute', async () => {
    const { controlUrl, controllerPid } = mainFile();
    const status = (headers: Record<string, string> = {}) => fetch(`${controlUrl}/v1/status`, { headers });
    expect((await fetch(`${controlUrl}/v1/health`)).status).toBe(200);
    expect((await status()).status).toBe(401);
    expect((await status({ authorization: 'Bearer not-a-jwt' })).status).toBe(401);
    // alg "none": a token anyone can write.
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"scope":"admin"}').toString('base64url')}.`;
    expect((await status({ authorization: `Bearer ${none}` })).status).toBe(401);
    for (const path of ['/metrics', '/v1/lsn-times']) expect((await fetch(`${controlUrl}${path}`)).status).toBe(401);
    // The compute's own tenant token (it holds it in its environment) is not the admin's.
    const tenantToken = /(?:^|\0)STRATA_TOKEN=([^\0]+)/.exec(readFileSync(`/proc/${controllerPid}/environ`, 'utf8'))![1]!;
    expect((await status({ authorization: `Bearer ${tenantToken}` })).status).toBe(403);
    expect((await status({ authorization: `Bearer ${adminToken}` })).status).toBe(200);

    const stop = (headers: Record<string, string>) => fetch(`${controlUrl}/v1/stop`, { method: 'POST', headers });
    expect((await stop({ origin: 'http://evil.example' })).status).toBe(403);
    // Not even with the token: a browser page must never steer it.
    expect((await stop({ origin: 'http://evil.example', authorization: `Bearer ${adminToken}` })).status).toBe(403);
    expect((await stop({ 'sec-fetch-site': 'cross-site', authorization: `Bearer ${adminToken}` })).status).toBe(403);
    expect((await stop({})).status).toBe(401);
    await new Promise((r) => setTimeout(r, 500));
    const after = await (await status({ authorization: `Bearer ${adminToken}` })).json() as { state: string };
    expect(after.state).toBe('running');
  });

  it('[FILES] compute.json (it names the root password), the registry, keys and daemon logs are 0600', () => {
    expect(readFileSync(join(h.home, 'computes', 'main', 'compute.json'), 'utf8')).toContain(dbPassword);
    expect(modeOf(join(h.home, 'computes', 'main', 'compute.json'))).toBe('600');
    expect(modeOf(join(h.home, 'cluster.json'))).toBe('600');
    for (const k of ['auth.key', 'admin.jwt', 'pageserver.jwt', 'safekeeper.jwt']) expect(modeOf(join(h.home, 'keys', k))).toBe('600');
    expect(modeOf(join(h.home, 'logs', 'compute-main.log'))).toBe('600');
  });
});
