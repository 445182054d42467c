import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRemoteStorage, type RemoteStorage } from '@strata/remote-storage';
import { TENANT, TIMELINE, createBody, ed25519Keys, json, testApp, type TestApp } from '../app.test-util.js';
import { uploaderOf, WalBackup } from '../backup/wal-backup.js';

const base = `/v1/tenants/${TENANT}/timelines`;
const rclUrl = `${base}/${TIMELINE}/remote_consistent_lsn`;
const CONF = { generation: 1, members: [1, 2, 3] };
const UPLOADER = uploaderOf(CONF, TENANT, TIMELINE);
const data = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff);

async function withWal(t: TestApp, commit: bigint): Promise<void> {
  expect((await t.app.request(base, json(createBody({ startLsn: '1000', conf: CONF })))).status).toBe(201);
  const tl = t.deps.timelines.get(TENANT, TIMELINE);
  await tl.appendWal(1000n, data);
  await tl.updateConsensus({ commitLsn: commit });
}

describe('POST .../remote_consistent_lsn', () => {
  let t: TestApp;
  afterEach(() => t.close());

  it('records the horizon, removes only what is also backed up, and never goes back', async () => {
    t = await testApp({ segmentBytes: 1024 });
    await withWal(t, 4500n);
    const tl = t.deps.timelines.get(TENANT, TIMELINE);
    let res = await t.app.request(rclUrl, json({ lsn: '4000' }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ remoteConsistentLsn: '4000', backupLsn: '1000', oldestLsn: '1000', removedBytes: 0 });

    // The backup catches up: now both horizons cover [1000, 3072).
    expect(await tl.updateHorizons({ backupLsn: 3072n })).toBe(2072n);
    res = await t.app.request(rclUrl, json({ lsn: '4100' }));
    expect(await res.json()).toEqual({ remoteConsistentLsn: '4100', backupLsn: '3072', oldestLsn: '3072', removedBytes: 0 });

    res = await t.app.request(rclUrl, json({ lsn: '2000' }));
    expect(await res.json()).toMatchObject({ remoteConsistentLsn: '4100', removedBytes: 0 });
    expect(tl.control.remoteConsistentLsn).toBe(4100n);
  });

  it('keeps only the part of a report that covers WAL stored here; refuses bad bodies and unknown timelines', async () => {
    t = await testApp({ segmentBytes: 1024 });
    await withWal(t, 4500n);
    // Beyond what this safekeeper knows committed (it learns commits late) and beyond its WAL (it lags).
    expect(await (await t.app.request(rclUrl, json({ lsn: '5000' }))).json()).toMatchObject({ remoteConsistentLsn: '5000' });
    expect(await (await t.app.request(rclUrl, json({ lsn: '9000' }))).json()).toMatchObject({ remoteConsistentLsn: '6000' });
    const bad = await t.app.request(rclUrl, json({ lsn: 12 }));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'BAD_REQUEST' });
    expect((await t.app.request(rclUrl, json({ lsn: '1', extra: 1 }))).status).toBe(400);
    expect((await t.app.request(`${base}/${'f'.repeat(32)}/remote_consistent_lsn`, json({ lsn: '1' }))).status).toBe(404);
    expect(t.deps.timelines.get(TENANT, TIMELINE).control.remoteConsistentLsn).toBe(6000n);
  });

  it('takes the pageserverapi and admin scopes only', async () => {
    const keys = await ed25519Keys();
    t = await testApp({ segmentBytes: 1024, verifier: keys.verifier });
    const admin = { authorization: `Bearer ${await keys.token({ scope: 'admin' })}` };
    expect((await t.app.request(base, json(createBody({ startLsn: '1000', conf: CONF }), admin))).status).toBe(201);
    const as = async (claims: Record<string, unknown>) =>
      (await t.app.request(rclUrl, json({ lsn: '1000' }, { authorization: `Bearer ${await keys.token(claims)}` }))).status;
    expect(await as({ scope: 'pageserverapi' })).toBe(200);
    expect(await as({ scope: 'admin' })).toBe(200);
    expect(await as({ scope: 'safekeeperdata' })).toBe(403);
    expect(await as({ scope: 'tenant', tenant_id: TENANT })).toBe(403);
  });
});

describe('lost disk: pull from a peer that removed its oldest WAL', () => {
  let root: string;
  let storage: RemoteStorage;
  let source: TestApp;
  let dest: TestApp;
  let server: ServerType;
  let sourceUrl: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'strata-remote-'));
    storage = openRemoteStorage(`file://${root}`);
    source = await testApp({ nodeId: UPLOADER, segmentBytes: 1024, remoteStorage: storage });
    await withWal(source, 4500n);
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: source.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
    });
    sourceUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await source.close();
    await dest?.close();
    await storage.close();
    await rm(root, { recursive: true, force: true });
  });

  it('takes the removed prefix from the WAL backup and the rest from the peer', async () => {
    const backup = new WalBackup({ timelines: source.deps.timelines, storage, nodeId: UPLOADER, metrics: source.deps.metrics, log: source.deps.log });
    await backup.runOnce();
    await source.app.request(rclUrl, json({ lsn: '4500' }));
    const src = source.deps.timelines.get(TENANT, TIMELINE);
    expect(src.wal.oldestLsn).toBe(4096n);

    // Without the backup the prefix cannot be had.
    const bare = await testApp({ nodeId: 2, segmentBytes: 1024 });
    const refused = await bare.app.request(`${base}/${TIMELINE}/pull`, json({ from: sourceUrl }));
    expect(refused.status).toBe(409);
    expect(bare.deps.timelines.size).toBe(0);
    await bare.close();

    dest = await testApp({ nodeId: 2, segmentBytes: 1024, remoteStorage: storage });
    const res = await dest.app.request(`${base}/${TIMELINE}/pull`, json({ from: sourceUrl }));
    expect(res.status, await res.clone().text()).toBe(201);
    const tl = dest.deps.timelines.get(TENANT, TIMELINE);
    expect(tl.wal.oldestLsn).toBe(1000n);
    expect(tl.flushLsn).toBe(6000n);
    expect(tl.commitLsn).toBe(4500n);
    expect(Buffer.from(await tl.readWal(1000n, 6000n)).equals(Buffer.from(data))).toBe(true);
  });
});
