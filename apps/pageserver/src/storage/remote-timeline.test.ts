/**
 * The upload queue against a real S3 (s3rver on loopback) behind a real
 * proxy that answers 500 or holds requests back: failures are retried with a
 * doubling backoff, counted and shown with their message, the queue drains
 * once the store recovers, and remote_consistent_lsn moves only when the
 * index naming the layers is in remote storage.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { S3Storage } from '@strata/remote-storage';
import { type FaultProxy, startFaultProxy } from '../../../../packages/remote-storage/src/fault-proxy.test-util.js';
import { type RunningS3rver, S3RVER_CREDENTIALS, startS3rver } from '../../../../packages/remote-storage/src/s3rver.test-util.js';
import { RemoteTimeline, type RemoteTimelineOptions, type RemoteTimelineStats, uploadBackoffMs } from './remote-timeline.js';
import { encodeMeta, type TimelineMeta } from './timeline-meta.js';

const TENANT = '0123456789abcdef0123456789abcdef';
const TIMELINE = '00000000000000000000000000000001';
const PREFIX = RemoteTimeline.prefixFor(TENANT, TIMELINE);
const LAYER_BYTES = 64 * 1024;

function meta(diskConsistentLsn: bigint, layers: string[]): TimelineMeta {
  return {
    version: 1,
    tenantId: TENANT,
    timelineId: TIMELINE,
    pageSize: 16384,
    logFileSize: 4n << 20n,
    ancestor: null,
    initLsn: 100n,
    diskConsistentLsn,
    layers,
    tablespaces: [],
    auxSets: [],
    snapshots: [],
    lsnTimes: [],
    gc: null,
  };
}

/** Poll `f` until it holds; bounded, so a regression fails instead of hanging. */
async function until(what: string, f: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function drained(rt: RemoteTimeline, timeoutMs = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    rt.drain(),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`queue not drained in ${timeoutMs} ms: ${JSON.stringify(rt.snapshot(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

describe('uploadBackoffMs', () => {
  it('doubles from the base per consecutive failure up to the cap, the same every time', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => uploadBackoffMs(n, 100, 10_000))).toEqual([0, 100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
    expect(uploadBackoffMs(1_000_000, 100, 10_000)).toBe(10_000);
  });
});

describe('remote timeline upload queue against s3rver behind a faulty proxy', () => {
  let s3: RunningS3rver;
  let proxy: FaultProxy;
  let direct: S3Storage;
  let dir: string;
  const open: RemoteTimeline[] = [];
  const savedAttempts = process.env['AWS_MAX_ATTEMPTS'];

  beforeAll(async () => {
    // One SDK attempt per call: each injected 500 is then one failure of the queue, and the test runs in seconds.
    process.env['AWS_MAX_ATTEMPTS'] = '1';
    s3 = await startS3rver();
    proxy = await startFaultProxy(s3.endpoint);
    direct = new S3Storage({ bucket: s3.bucket, prefix: '', endpoint: s3.endpoint, region: 'us-east-1', credentials: S3RVER_CREDENTIALS });
  });
  afterAll(async () => {
    await direct.close();
    await proxy.stop();
    await s3.stop();
    if (savedAttempts === undefined) delete process.env['AWS_MAX_ATTEMPTS'];
    else process.env['AWS_MAX_ATTEMPTS'] = savedAttempts;
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'strata-rt-'));
    proxy.rule = () => 'pass';
  });
  afterEach(async () => {
    proxy.rule = () => 'pass';
    // Whatever a test left behind goes, so the next one starts from an empty prefix.
    for (const rt of open.splice(0)) await rt.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  function remoteTimeline(options: RemoteTimelineOptions): RemoteTimeline {
    const storage = new S3Storage({ bucket: s3.bucket, prefix: '', endpoint: proxy.endpoint, region: 'us-east-1', credentials: S3RVER_CREDENTIALS });
    const rt = new RemoteTimeline(storage, PREFIX, options);
    open.push(rt);
    return rt;
  }

  function layerFile(name: string): string {
    const path = join(dir, name);
    writeFileSync(path, new Uint8Array(LAYER_BYTES).fill(7));
    return path;
  }

  it('retries a failing PUT with a doubling backoff, counts and shows the failures, and drains once S3 recovers', async () => {
    const failedAt: number[] = [];
    proxy.rule = (r) => {
      if (r.method !== 'PUT') return 'pass';
      failedAt.push(performance.now());
      return 'fail';
    };
    const rt = remoteTimeline({ backoffBaseMs: 40, backoffMaxMs: 320 });
    rt.uploadFile('layers/L1', layerFile('L1'));
    const m = meta(200n, ['L1']);
    rt.uploadIndex(m, encodeMeta(m));

    await until('4 consecutive failures', () => rt.snapshot().consecutiveFailures >= 4);
    const s: RemoteTimelineStats = rt.snapshot();
    expect(s.failures).toBeGreaterThanOrEqual(4);
    expect(s.backoffMs).toBe(uploadBackoffMs(s.consecutiveFailures, 40, 320));
    expect(s.lastError).toMatch(/remote storage put "tenants\/.*\/layers\/L1" failed: .*internal error/i);
    expect(s.lastErrorCode).toBe('REMOTE_STORAGE_IO');
    expect(s.lastErrorAtMs).toBeGreaterThan(Date.now() - 10_000);
    // The backlog is visible: the layer and the index wait, and nothing counts as remote yet.
    expect(s.queued).toBe(2);
    expect(s.pendingFiles).toBe(1);
    expect(s.pendingBytes).toBeGreaterThanOrEqual(LAYER_BYTES);
    expect(s.oldestPendingAgeMs).toBeGreaterThan(0);
    expect(s.remoteConsistentLsn).toBe(0n);
    expect(rt.isUploaded('L1')).toBe(false);
    // The gaps between attempts follow the schedule 40, 80, 160 ms (less a little for timer granularity).
    const gaps = failedAt.slice(1, 4).map((t, i) => t - failedAt[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(35);
    expect(gaps[1]).toBeGreaterThanOrEqual(75);
    expect(gaps[2]).toBeGreaterThanOrEqual(155);

    proxy.rule = () => 'pass';
    await drained(rt);
    const after = rt.snapshot();
    expect(after).toMatchObject({ queued: 0, pendingFiles: 0, pendingBytes: 0, consecutiveFailures: 0, backoffMs: 0, remoteConsistentLsn: 200n });
    // History stays for the operator: the total and the last message, and when it recovered.
    expect(after.failures).toBeGreaterThanOrEqual(s.failures);
    expect(after.lastError).not.toBeNull();
    expect(after.lastSuccessAtMs).toBeGreaterThanOrEqual(after.lastErrorAtMs ?? 0);
    expect(await direct.list(`${PREFIX}/`)).toEqual([`${PREFIX}/index.json`, `${PREFIX}/layers/L1`]);
  });

  it('advances remote_consistent_lsn only after the index is uploaded, not when the layers are', async () => {
    proxy.rule = (r) => (r.method === 'PUT' && r.url.includes('/index.json') ? 'fail' : 'pass');
    const rt = remoteTimeline({ backoffBaseMs: 20, backoffMaxMs: 50 });
    rt.uploadFile('layers/L2', layerFile('L2'));
    const m = meta(300n, ['L2']);
    rt.uploadIndex(m, encodeMeta(m));
    await until('the layer uploaded and the index failing', () => rt.isUploaded('L2') && rt.snapshot().consecutiveFailures >= 2);
    expect(rt.remoteConsistentLsn).toBe(0n);
    expect(rt.snapshot().lastError).toMatch(/index\.json/);

    proxy.rule = () => 'pass';
    await drained(rt);
    expect(rt.remoteConsistentLsn).toBe(300n);
  });

  it('keeps advancing remote_consistent_lsn while new layers keep coming faster than uploads (no index starvation)', async () => {
    // Every layer PUT takes a while: layers arrive faster than they go up.
    proxy.rule = (r) => (r.method === 'PUT' && r.url.includes('/layers/') ? { delayMs: 150 } : 'pass');
    const rt = remoteTimeline({ backoffBaseMs: 20, backoffMaxMs: 50 });
    const names: string[] = [];
    let lsn = 1000n;
    const seen: bigint[] = [];
    for (let i = 0; i < 12; i++) {
      const name = `S${i}`;
      names.push(name);
      rt.uploadFile(`layers/${name}`, layerFile(name));
      lsn += 100n;
      const m = meta(lsn, [...names]);
      rt.uploadIndex(m, encodeMeta(m));
      await new Promise((r) => setTimeout(r, 60));
      seen.push(rt.remoteConsistentLsn);
    }
    // Before the last layer is even queued, indexes behind earlier layers are up: the LSN moved while uploads lagged.
    expect(seen[seen.length - 1]!).toBeGreaterThan(1000n);
    expect(rt.snapshot().queued).toBeGreaterThan(2);
    await drained(rt, 20_000);
    expect(rt.remoteConsistentLsn).toBe(lsn);
  });

  it('cuts off a request that S3 does not answer in time, and retries it', async () => {
    proxy.rule = (r) => (r.method === 'PUT' ? { delayMs: 5_000 } : 'pass');
    const rt = remoteTimeline({ backoffBaseMs: 20, backoffMaxMs: 50, attemptTimeoutMs: 200 });
    const m = meta(400n, []);
    rt.uploadIndex(m, encodeMeta(m));
    await until('a timed-out attempt', () => rt.snapshot().failures >= 1);
    expect(rt.snapshot().lastErrorCode).toBe('REMOTE_UPLOAD_TIMEOUT');
    expect(rt.snapshot().lastError).toMatch(/took longer than 200 ms/);
    expect(rt.remoteConsistentLsn).toBe(0n);

    proxy.rule = () => 'pass';
    await drained(rt);
    expect(rt.remoteConsistentLsn).toBe(400n);
  });

  it('does not wedge on a layer that compaction replaced before it could be uploaded', async () => {
    proxy.rule = (r) => (r.method === 'PUT' ? 'fail' : 'pass');
    const rt = remoteTimeline({ backoffBaseMs: 20, backoffMaxMs: 50 });
    const path = layerFile('L3');
    rt.uploadFile('layers/L3', path);
    const m1 = meta(500n, ['L3']);
    rt.uploadIndex(m1, encodeMeta(m1));
    await until('a failure', () => rt.snapshot().failures >= 1);
    // What Timeline.replaceLayers does: the new index no longer names L3, the local file goes, the remote delete is queued.
    rt.uploadFile('layers/L4', layerFile('L4'));
    const m2 = meta(600n, ['L4']);
    rt.uploadIndex(m2, encodeMeta(m2));
    rmSync(path);
    rt.deleteFile('layers/L3');

    proxy.rule = () => 'pass';
    await drained(rt);
    expect(rt.snapshot().skippedFiles).toBe(1);
    expect(rt.remoteConsistentLsn).toBe(600n);
    expect(await direct.list(`${PREFIX}/`)).toEqual([`${PREFIX}/index.json`, `${PREFIX}/layers/L4`]);
  });

  it('destroy does not sit out a backoff, and leaves nothing under the prefix', async () => {
    proxy.rule = (r) => (r.method === 'PUT' && r.url.includes('/index.json') ? 'fail' : 'pass');
    const rt = remoteTimeline({ backoffBaseMs: 60_000, backoffMaxMs: 60_000 });
    rt.uploadFile('layers/L5', layerFile('L5'));
    const m = meta(700n, ['L5']);
    rt.uploadIndex(m, encodeMeta(m));
    await until('the index failing', () => rt.snapshot().consecutiveFailures >= 1);
    expect(rt.snapshot().backoffMs).toBe(60_000);
    const t0 = performance.now();
    await rt.destroy();
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(await direct.list(`${PREFIX}/`)).toEqual([]);
  });
});
