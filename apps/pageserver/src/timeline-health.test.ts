/**
 * Errors an operator sees: a failed compaction, basebackup or upload shows
 * in the timeline's status (`remote`, `lastErrors`) and in `/metrics`, with
 * the real message, never a bare INTERNAL. Real app over a temp data dir;
 * remote storage is a real s3rver behind a real proxy that answers 500.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeLayer, encodePageValue, layerFileName, type LayerDesc } from '@strata/core/layers';
import { type RemoteStorage, S3Storage } from '@strata/remote-storage';
import { memoryLogger } from '@strata/service-kit';
import { type FaultProxy, startFaultProxy } from '../../../packages/remote-storage/src/fault-proxy.test-util.js';
import { type RunningS3rver, S3RVER_CREDENTIALS, startS3rver } from '../../../packages/remote-storage/src/s3rver.test-util.js';
import { createApp } from './app.js';
import type { PageserverDeps } from './deps.js';
import { PageserverMetrics } from './metrics.js';
import { LSN, page, ROOT, seedTimeline, SPACE, TENANT } from './seed-timeline.test-util.js';
import { TenantManager } from './tenant-manager.js';

const base = `/v1/tenants/${TENANT}/timelines/${ROOT}`;

interface TimelineStatus {
  remote: null | { queued: number; pendingFiles: number; pendingBytes: number; consecutiveFailures: number; failures: number; backoffMs: number; lastError: string | null; lastErrorCode: string | null; lastErrorAt: string | null; lagBytes: string; remoteConsistentLsn: string };
  lastErrors: Array<{ kind: string; count: number; code: string; message: string; at: string; resolvedAt: string | null }>;
}

describe('timeline health in the status route and /metrics', () => {
  const dirs: string[] = [];
  const closers: Array<() => Promise<void> | void> = [];
  const tmp = (name: string): string => {
    const d = mkdtempSync(join(tmpdir(), `strata-health-${name}-`));
    dirs.push(d);
    return d;
  };
  let s3: RunningS3rver;
  let proxy: FaultProxy;
  const savedAttempts = process.env['AWS_MAX_ATTEMPTS'];
  beforeAll(async () => {
    // One SDK attempt per request: each injected 500 is one failure of the upload queue.
    process.env['AWS_MAX_ATTEMPTS'] = '1';
    s3 = await startS3rver();
    proxy = await startFaultProxy(s3.endpoint);
  });
  afterEach(async () => {
    proxy.rule = () => 'pass';
    for (const c of closers.splice(0).reverse()) await c();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  afterAll(async () => {
    await proxy.stop();
    await s3.stop();
    if (savedAttempts === undefined) delete process.env['AWS_MAX_ATTEMPTS'];
    else process.env['AWS_MAX_ATTEMPTS'] = savedAttempts;
  });

  function build(remote?: RemoteStorage) {
    const dataDir = tmp('data');
    seedTimeline(dataDir);
    const tenants = TenantManager.open({ dataDir, log: memoryLogger(), remote });
    const deps: PageserverDeps = { version: 'test', tenants, metrics: new PageserverMetrics(), verifier: null, log: memoryLogger() };
    closers.push(() => tenants.close());
    return { app: createApp(deps), tenants };
  }

  const status = async (app: ReturnType<typeof build>['app']): Promise<TimelineStatus> => (await (await app.request(base)).json()) as TimelineStatus;
  const metrics = async (app: ReturnType<typeof build>['app']): Promise<string> => (await app.request('/metrics')).text();
  const series = (text: string, name: string, extra = ''): number => {
    const m = new RegExp(`^${name}\\{tenant_id="${TENANT}",timeline_id="${ROOT}"${extra}\\} (\\S+)$`, 'm').exec(text);
    if (!m) throw new Error(`no ${name}${extra} in /metrics`);
    return Number(m[1]);
  };

  it('a failing compaction and basebackup answer with their real error and stay in the status and /metrics', async () => {
    const { app, tenants } = build();
    const t = tenants.get(TENANT, ROOT);
    // A delta layer above the image whose file is then lost (no remote storage to bring it back): both must read it.
    const desc: LayerDesc = { kind: 'delta', keyStart: { spaceId: SPACE, pageNo: 1 }, keyEnd: { spaceId: SPACE, pageNo: 2 }, lsnStart: LSN + 1n, lsnEnd: LSN + 11n };
    t.addLayer(desc, encodeLayer(desc, [{ key: { spaceId: SPACE, pageNo: 1 }, lsn: LSN + 10n, value: encodePageValue({ kind: 'image', lsn: LSN + 10n, page: page(1) }) }]), { diskConsistentLsn: LSN + 11n });
    rmSync(join(t.dir, 'layers', layerFileName(desc)));

    const compact = await app.request(`${base}/compact?force=true`, { method: 'POST' });
    expect(compact.status).toBe(500);
    const cbody = (await compact.json()) as { code: string; message: string };
    expect(cbody.code).toBe('MAINTENANCE_FAILED');
    expect(cbody.message).toContain(layerFileName(desc));

    const bb = await app.request(`${base}/basebackup?lsn=${LSN}`);
    expect(bb.status).toBe(500);
    const bbody = (await bb.json()) as { code: string; message: string };
    expect(bbody.code).toBe('BASEBACKUP_FAILED');
    expect(bbody.message).toContain(layerFileName(desc));

    const s = await status(app);
    expect(s.remote).toBeNull();
    expect(s.lastErrors.map((e) => e.kind)).toEqual(['compaction', 'basebackup']);
    for (const e of s.lastErrors) {
      expect(e).toMatchObject({ count: 1, resolvedAt: null });
      expect(e.message).toContain(layerFileName(desc));
      expect(Date.parse(e.at)).toBeGreaterThan(Date.now() - 60_000);
    }
    const text = await metrics(app);
    expect(series(text, 'pageserver_background_errors_total', ',kind="compaction"')).toBe(1);
    expect(series(text, 'pageserver_background_errors_total', ',kind="basebackup"')).toBe(1);
    expect(series(text, 'pageserver_background_errors_total', ',kind="gc"')).toBe(0);
  });

  it('failing uploads show as a backlog with the last error, and clear once remote storage recovers', async () => {
    proxy.rule = (r) => (r.method === 'PUT' ? 'fail' : 'pass');
    const remote = new S3Storage({ bucket: s3.bucket, prefix: 'health', endpoint: proxy.endpoint, region: 'us-east-1', credentials: S3RVER_CREDENTIALS });
    closers.push(() => remote.close());
    const { app, tenants } = build(remote);
    const t = tenants.get(TENANT, ROOT);
    t.scheduleFullUpload();
    const deadline = Date.now() + 10_000;
    while ((t.remote?.snapshot().consecutiveFailures ?? 0) < 2) {
      if (Date.now() > deadline) throw new Error('uploads never failed');
      await new Promise((r) => setTimeout(r, 10));
    }

    const s = await status(app);
    expect(s.remote).toMatchObject({ queued: 2, pendingFiles: 1, remoteConsistentLsn: '0', lagBytes: String(LSN), lastErrorCode: 'REMOTE_STORAGE_IO' });
    expect(s.remote!.consecutiveFailures).toBeGreaterThanOrEqual(2);
    expect(s.remote!.pendingBytes).toBeGreaterThan(0);
    expect(s.remote!.backoffMs).toBeGreaterThan(0);
    expect(s.remote!.lastError).toMatch(/put ".*layers\/.*" failed: .*internal error/i);
    expect(s.lastErrors).toEqual([expect.objectContaining({ kind: 'upload', code: 'REMOTE_STORAGE_IO', resolvedAt: null })]);

    const text = await metrics(app);
    expect(series(text, 'pageserver_remote_upload_queue_tasks')).toBe(2);
    expect(series(text, 'pageserver_remote_upload_queue_bytes')).toBeGreaterThan(0);
    expect(series(text, 'pageserver_remote_upload_queue_files')).toBe(1);
    expect(series(text, 'pageserver_remote_upload_consecutive_failures')).toBeGreaterThanOrEqual(2);
    expect(series(text, 'pageserver_remote_upload_retry_backoff_seconds')).toBeGreaterThan(0);
    expect(series(text, 'pageserver_remote_upload_oldest_task_age_seconds')).toBeGreaterThan(0);
    expect(series(text, 'pageserver_remote_upload_failures_total')).toBeGreaterThanOrEqual(2);
    expect(series(text, 'pageserver_background_errors_total', ',kind="upload"')).toBeGreaterThanOrEqual(2);
    expect(series(text, 'pageserver_remote_consistent_lag_bytes')).toBe(Number(LSN));

    proxy.rule = () => 'pass';
    await tenants.drainUploads();
    const after = await status(app);
    expect(after.remote).toMatchObject({ queued: 0, pendingBytes: 0, consecutiveFailures: 0, backoffMs: 0, remoteConsistentLsn: String(LSN), lagBytes: '0' });
    expect(after.lastErrors[0]?.resolvedAt).not.toBeNull();
    expect(series(await metrics(app), 'pageserver_remote_consistent_lag_bytes')).toBe(0);
  });
});
