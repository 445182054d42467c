import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { computeExitRecords, computesDir, writeComputeExit } from '@strata/client/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addOperator, createHarness, type Harness } from '../testing/harness';

const TIMELINE = 'b'.repeat(32);

describe('[ALERTS][COMPUTE] a fenced compute is an alert until acknowledged (real Postgres, no cluster)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ cluster: false });
    await addOperator(h.deps, { username: 'admin', password: 'correct horse', role: 'admin' });
    await addOperator(h.deps, { username: 'viewer', password: 'battery staple', role: 'viewer' });
    // A registry whose nodes do not answer (port 1 refuses at once): the alerts come from files alone.
    writeFileSync(
      join(h.home, 'cluster.json'),
      JSON.stringify({
        version: 1,
        tenantId: 'a'.repeat(32),
        s3: false,
        remoteStorage: 'file:///nonexistent',
        safekeepers: [{ id: 1, port: 1, url: 'http://127.0.0.1:1' }],
        pageserver: { port: 1, url: 'http://127.0.0.1:1' },
        computePorts: {},
        auth: { publicKeyFile: join(h.home, 'k.pub'), privateKeyFile: join(h.home, 'k'), adminTokenFile: join(h.home, 'admin.token') },
        db: { user: 'root', password: 'pw' },
        branches: [{ name: 'main', timelineId: TIMELINE, parent: null, lsn: null, createdAt: '2026-12-01T00:00:00.000Z' }],
      }),
    );
    // What the controller writes when it is fenced (controller.ts), under its data directory.
    const dataDir = join(computesDir(h.home), 'main');
    mkdirSync(dataDir, { recursive: true });
    writeComputeExit(dataDir, { name: 'main', tenantId: 'a'.repeat(32), timelineId: TIMELINE, code: 'ProposerFencedByTerm', message: 'term 3 < 4: another compute took timeline', at: '2026-12-07T21:00:00.000Z' });
    // A record of another kind of exit is not this alert.
    const other = join(computesDir(h.home), 'dev');
    mkdirSync(other, { recursive: true });
    writeComputeExit(other, { name: 'dev', tenantId: 'a'.repeat(32), timelineId: 'c'.repeat(32), code: 'MariadbExited', message: 'crashed', at: '2026-12-07T21:00:00.000Z' });
  });
  afterAll(() => h?.close());

  it('warns with the branch, the time and the message, linking to the branch page', async () => {
    const viewer = await h.signIn('viewer', 'battery staple');
    const alerts = (await h.caller(viewer).overview.get()).alerts.filter((a) => a.message.includes('fenced'));
    expect(alerts).toEqual([
      {
        severity: 'warning',
        message: 'compute main on branch main was fenced by a newer compute at 2026-12-07T21:00:00.000Z: term 3 < 4: another compute took timeline',
        href: '/branches/main',
        acknowledgeCompute: 'main',
      },
    ]);
  });

  it('viewers cannot acknowledge; a name that climbs out of computes/ is refused; an admin acknowledges and the alert goes', async () => {
    const viewer = await h.signIn('viewer', 'battery staple');
    const admin = await h.signIn('admin', 'correct horse');
    await expect(h.caller(viewer).computes.acknowledgeExit({ name: 'main' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(h.caller(admin).computes.acknowledgeExit({ name: '../main' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(await h.caller(admin).computes.acknowledgeExit({ name: 'main' })).toEqual({ name: 'main' });
    expect((await h.caller(viewer).overview.get()).alerts.filter((a) => a.message.includes('fenced'))).toEqual([]);
    expect(computeExitRecords(h.home).map((r) => r.name)).toEqual(['dev']);
  });
});
