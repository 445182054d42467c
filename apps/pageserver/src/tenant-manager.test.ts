/**
 * Deletes reach remote storage: a deleted timeline or tenant leaves no
 * objects behind, and a page server restored from remote storage alone does
 * not bring it back. Remote storage here is the directory backend (the
 * S3 one shares the interface and has its own tests against s3rver).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openRemoteStorage, type RemoteStorage } from '@strata/remote-storage';
import { memoryLogger } from '@strata/service-kit';
import { LSN, ROOT, seedTimeline, TENANT } from './seed-timeline.test-util.js';
import { TenantManager } from './tenant-manager.js';

const CHILD = '00000000000000000000000000000002';

describe('tenant manager deletes in remote storage', () => {
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
    const remote = openRemoteStorage(`file://${tmp('remote')}`);
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
    expect(await m.deleteTenant(TENANT)).toBe(2);
    expect(await remote.list(`tenants/${TENANT}/`)).toEqual([]);
    expect(await TenantManager.restoreFromRemote({ dataDir: tmp('restored'), log: memoryLogger(), remote })).toBe(0);
    m.close();
  });
});
