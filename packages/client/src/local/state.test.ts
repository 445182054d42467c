import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalClusterError } from './errors.js';
import { readLocalCluster, updateLocalCluster } from './state.js';

const home = mkdtempSync(join(tmpdir(), 'strata-local-state-'));
afterEach(() => rmSync(join(home, 'cluster.json.lock'), { force: true }));

function seed(extra: Record<string, unknown> = {}) {
  writeFileSync(
    join(home, 'cluster.json'),
    JSON.stringify({
      version: 1,
      tenantId: 'a'.repeat(32),
      s3: false,
      remoteStorage: 'file:///tmp/remote',
      safekeepers: [{ id: 1, port: 7001, url: 'http://127.0.0.1:7001' }],
      pageserver: { port: 7100, url: 'http://127.0.0.1:7100' },
      computePorts: {},
      auth: { publicKeyFile: '/k.pub', privateKeyFile: '/k', adminTokenFile: '/t' },
      db: { user: 'root', password: 'pw' },
      branches: [{ name: 'main', timelineId: 'b'.repeat(32), parent: null, lsn: null, createdAt: 'now' }],
      consolePort: null,
      ...extra,
    }),
  );
}

const branch = (i: number) => ({ name: `b${i}`, timelineId: i.toString(16).padStart(32, '0'), parent: 'main', lsn: String(i), createdAt: 'now' });

describe('[LOCAL STATE] cluster.json shared by the CLI and the console', () => {
  it('concurrent read-modify-writes lose nothing (every change sees the one before)', async () => {
    seed();
    await Promise.all(Array.from({ length: 20 }, (_, i) => updateLocalCluster(home, (now) => ({ ...now, branches: [...now.branches, branch(i + 1)] }))));
    expect(readLocalCluster(home)!.branches.map((b) => b.name).sort()).toEqual(['main', ...Array.from({ length: 20 }, (_, i) => `b${i + 1}`)].sort());
  });

  it('two processes changing it at once (the CLI and the console) lose nothing either', async () => {
    seed();
    const writer = fileURLToPath(new URL('./state-writer.test-util.ts', import.meta.url));
    const tsx = fileURLToPath(new URL('../../../../node_modules/tsx/dist/loader.mjs', import.meta.url));
    const run = (prefix: string) => promisify(execFile)(process.execPath, ['--import', tsx, writer, home, prefix, '25'], { timeout: 60_000 });
    await Promise.all([run('p'), run('q')]);
    const names = readLocalCluster(home)!.branches.map((b) => b.name);
    expect(names).toHaveLength(51);
    for (let i = 0; i < 25; i++) expect(names).toEqual(expect.arrayContaining([`p${i}`, `q${i}`]));
  });

  it('fields this module does not name survive its writes (a newer CLI\'s additions)', async () => {
    seed({ proxyPorts: { main: 9000 } });
    await updateLocalCluster(home, (now) => ({ ...now, computePorts: { main: 9100 } }));
    const raw = JSON.parse(readFileSync(join(home, 'cluster.json'), 'utf8')) as Record<string, unknown>;
    expect(raw['proxyPorts']).toEqual({ main: 9000 });
    expect(raw['s3']).toBe(false);
    expect(raw['computePorts']).toEqual({ main: 9100 });
  });

  it('a lock left by a dead process is taken over; a change that throws writes nothing', async () => {
    seed();
    writeFileSync(join(home, 'cluster.json.lock'), '999999999\n');
    await updateLocalCluster(home, (now) => ({ ...now, branches: [...now.branches, branch(1)] }));
    await expect(updateLocalCluster(home, () => { throw new LocalClusterError('conflict', 'taken'); })).rejects.toMatchObject({ reason: 'conflict' });
    expect(readLocalCluster(home)!.branches.map((b) => b.name)).toEqual(['main', 'b1']);
  });

  it('a registry that is not one is a noCluster error naming the field', () => {
    writeFileSync(join(home, 'cluster.json'), JSON.stringify({ version: 1 }));
    expect(() => readLocalCluster(home)).toThrow(/tenantId/);
  });
});
