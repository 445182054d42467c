/**
 * Deletes reach remote storage: a deleted timeline or tenant leaves no
 * objects behind, and a page server restored from remote storage alone does
 * not bring it back. Both backends: the directory one, and S3 (a real
 * s3rver on loopback).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openRemoteStorage, type RemoteStorage, S3Storage } from '@strata/remote-storage';
import { memoryLogger } from '@strata/service-kit';
import { type RunningS3rver, S3RVER_CREDENTIALS, startS3rver } from '../../../packages/remote-storage/src/s3rver.test-util.js';
import { LSN, ROOT, seedTimeline, TENANT } from './seed-timeline.test-util.js';
import { TenantManager } from './tenant-manager.js';

const CHILD = '00000000000000000000000000000002';

let s3: RunningS3rver | undefined;
beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(async () => {
  await s3?.stop();
});

const backends: Array<{ name: string; open: (tmp: (name: string) => string) => RemoteStorage }> = [
  { name: 'directory', open: (tmp) => openRemoteStorage(`file://${tmp('remote')}`) },
  {
    name: 's3 (s3rver on loopback)',
    // A prefix per test: the bucket is shared by the file's tests, and each must see only its own objects.
    open: () => new S3Storage({ bucket: s3!.bucket, prefix: `t${++s3Seq}`, endpoint: s3!.endpoint, region: 'us-east-1', credentials: S3RVER_CREDENTIALS }),
  },
];
let s3Seq = 0;

describe.each(backends)('tenant manager deletes in remote storage ($name)', (backend) => {
  const dirs: string[] = [];
  const tmp = (name: string): string => {
    const d = mkdtempSync(join(tmpdir(), `strata-tm-${name}-`));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function uploaded(): Promise<{ m: TenantManager; remote: RemoteStorage }> {
    const dataDir = tmp('data');
    seedTimeline(dataDir);
    const remote = backend.open(tmp);
    const m = TenantManager.open({ dataDir, log: memoryLogger(), remote });
    const root = m.get(TENANT, ROOT);
    root.scheduleFullUpload();
    m.branch(root, LSN, CHILD);
    await m.drainUploads();
    return { m, remote };
  }

  it('a deleted timeline leaves no object, and a restore from remote storage does not bring it back', async () => {
    const { m, remote } = await uploaded();
    const childPrefix = `tenants/${TENANT}/timelines/${CHILD}/`;
    expect(await remote.list(childPrefix)).toContain(`${childPrefix}index.json`);
    await m.delete(m.get(TENANT, CHILD));
    expect(await remote.list(childPrefix)).toEqual([]);
    expect((await remote.list(`tenants/${TENANT}/timelines/${ROOT}/`)).length).toBeGreaterThan(1);
    const fresh = tmp('restored');
    expect(await TenantManager.restoreFromRemote({ dataDir: fresh, log: memoryLogger(), remote })).toBe(1);
    m.close();
  });

  it('a deleted tenant leaves nothing under its prefix', async () => {
    const { m, remote } = await uploaded();
    expect((await remote.list(`tenants/${TENANT}/timelines/${CHILD}/`)).length).toBeGreaterThan(0);
    expect(await m.deleteTenant(TENANT)).toBe(2);
    expect(await remote.list(`tenants/${TENANT}/`)).toEqual([]);
    expect(await remote.list('')).toEqual([]);
    expect(await TenantManager.restoreFromRemote({ dataDir: tmp('restored'), log: memoryLogger(), remote })).toBe(0);
    m.close();
  });
});

describe('tenant manager restart with remote storage', () => {
  it('queues again only what the remote index does not list: no layer or aux file goes up twice', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'strata-tm-restart-'));
    const remoteDir = mkdtempSync(join(tmpdir(), 'strata-tm-restart-remote-'));
    try {
      seedTimeline(dataDir);
      const remote = openRemoteStorage(`file://${remoteDir}`);
      const m = TenantManager.open({ dataDir, log: memoryLogger(), remote });
      const root = m.get(TENANT, ROOT);
      root.putAuxSet(LSN + 10n, [
        { path: 'db/t.frm', data: new Uint8Array([1, 2, 3]) },
        { path: 'mysql/user.MAD', data: new Uint8Array([4]) },
      ]);
      root.scheduleFullUpload();
      await m.drainUploads();
      const firstFiles = root.remote!.snapshot().uploadedFiles;
      expect(firstFiles).toBeGreaterThanOrEqual(3);
      m.close();

      const again = TenantManager.open({ dataDir, log: memoryLogger(), remote: openRemoteStorage(`file://${remoteDir}`) });
      await again.syncRemote();
      await again.drainUploads();
      // Only the index again: every layer and aux file is listed by the remote index.
      expect(again.get(TENANT, ROOT).remote!.snapshot().uploadedFiles).toBe(0);
      again.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(remoteDir, { recursive: true, force: true });
    }
  });
});

describe('tenant manager restart: an aux set without a local directory', () => {
  it('starts (an empty or not yet downloaded aux set is skipped, not a crash)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'strata-tm-noaux-'));
    const remoteDir = mkdtempSync(join(tmpdir(), 'strata-tm-noaux-remote-'));
    try {
      seedTimeline(dataDir);
      const m = TenantManager.open({ dataDir, log: memoryLogger(), remote: openRemoteStorage(`file://${remoteDir}`) });
      const root = m.get(TENANT, ROOT);
      // An aux set of no files: listed in the index, no directory.
      root.putAuxSet(LSN + 20n, []);
      root.scheduleFullUpload();
      await m.drainUploads();
      m.close();
      const again = TenantManager.open({ dataDir, log: memoryLogger(), remote: openRemoteStorage(`file://${remoteDir}`) });
      await again.syncRemote();
      await again.drainUploads();
      again.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(remoteDir, { recursive: true, force: true });
    }
  });
});
