import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openRemoteStorage, type RemoteStorage } from '@strata/remote-storage';
import { memoryLogger } from '@strata/service-kit';
import { zstdDecompress } from '@strata/zstd';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../../../../packages/remote-storage/src/s3rver.test-util.js';
import { TENANT, TIMELINE, tempDir } from '../app.test-util.js';
import { SafekeeperMetrics } from '../metrics.js';
import type { Timeline } from '../storage/timeline.js';
import { TimelineRegistry } from '../storage/timelines.js';
import { indexKey, readIndex, segmentKey } from './remote-layout.js';
import { appendFromBackup, BackupUnavailable } from './restore.js';
import { finishedSegments, uploaderOf, WalBackup } from './wal-backup.js';

const SEGMENT = 1024;
const START = 1000n; // not aligned: the first segment is [1000, 1024)
const CONF = { generation: 1, members: [1, 2, 3] };
const UPLOADER = uploaderOf(CONF, TENANT, TIMELINE);
const FOLLOWER = CONF.members.find((m) => m !== UPLOADER)!;
const data = Uint8Array.from({ length: 5000 }, (_, i) => (i % 97 < 60 ? i & 0x3f : (i * 31) & 0xff));

interface Backend {
  name: string;
  open(): Promise<RemoteStorage>;
  teardown(): Promise<void>;
}

let fileRoot = '';
let s3: RunningS3rver | undefined;
const savedEnv = { id: process.env['AWS_ACCESS_KEY_ID'], secret: process.env['AWS_SECRET_ACCESS_KEY'] };
const restoreEnv = (k: string, v: string | undefined) => (v === undefined ? delete process.env[k] : (process.env[k] = v));

const backends: Backend[] = [
  {
    name: 'file://',
    async open() {
      fileRoot = await mkdtemp(join(tmpdir(), 'strata-backup-'));
      return openRemoteStorage(`file://${fileRoot}`);
    },
    teardown: () => rm(fileRoot, { recursive: true, force: true }),
  },
  {
    name: 's3 (s3rver on loopback)',
    async open() {
      s3 = await startS3rver();
      process.env['AWS_ACCESS_KEY_ID'] = S3RVER_CREDENTIALS.accessKeyId;
      process.env['AWS_SECRET_ACCESS_KEY'] = S3RVER_CREDENTIALS.secretAccessKey;
      return openRemoteStorage(`s3://${s3.bucket}/backup?endpoint=${s3.endpoint}&region=us-east-1`);
    },
    async teardown() {
      await s3?.stop();
      restoreEnv('AWS_ACCESS_KEY_ID', savedEnv.id);
      restoreEnv('AWS_SECRET_ACCESS_KEY', savedEnv.secret);
    },
  },
];

/** A safekeeper's storage (registry over a temp dir) with one timeline holding `data` at START, committed up to `commit`. */
async function node(nodeId: number, commit: bigint) {
  const tmp = await tempDir();
  const metrics = new SafekeeperMetrics();
  const timelines = await TimelineRegistry.open({ dataDir: tmp.dir, nodeId, metrics, segmentBytes: SEGMENT });
  const { timeline } = await timelines.create({ tenantId: TENANT, timelineId: TIMELINE, startLsn: START, conf: CONF });
  await timeline.appendWal(START, data);
  await timeline.updateConsensus({ commitLsn: commit });
  return {
    timelines,
    timeline,
    metrics,
    log: memoryLogger(),
    async close() {
      await timelines.close();
      await tmp.cleanup();
    },
  };
}

/** The same storage with some calls replaced (close is left to the owner). */
function wrap(inner: RemoteStorage, overrides: Partial<RemoteStorage>): RemoteStorage {
  return {
    description: inner.description,
    put: (k, b) => inner.put(k, b),
    putFile: (k, p) => inner.putFile(k, p),
    get: (k) => inner.get(k),
    getRange: (k, o, l) => inner.getRange(k, o, l),
    list: (p) => inner.list(p),
    delete: (k) => inner.delete(k),
    close: async () => undefined,
    ...overrides,
  };
}

/** A storage that fails its next `failures` puts, like an object store having a bad minute. */
function flaky(inner: RemoteStorage, failures: { left: number }): RemoteStorage {
  return wrap(inner, { put: (k, b) => (failures.left-- > 0 ? Promise.reject(new Error('injected put failure')) : inner.put(k, b)) });
}

const segmentsOf = (t: Timeline) => t.wal.listSegments().map((s) => Number(s.startLsn));

describe.each(backends)('WAL backup against $name', (backend) => {
  let storage: RemoteStorage;
  beforeAll(async () => {
    storage = await backend.open();
  }, 60_000);
  afterAll(async () => {
    await storage.close();
    await backend.teardown();
  });
  // Each test uses its own tenant-free prefix by wiping the timeline's objects first.
  beforeEach(async () => {
    for (const k of await storage.list(`tenants/${TENANT}/`)) await storage.delete(k);
  });

  let nodes: Awaited<ReturnType<typeof node>>[] = [];
  afterEach(async () => {
    for (const n of nodes) await n.close();
    nodes = [];
  });
  const open = async (id: number, commit: bigint) => {
    const n = await node(id, commit);
    nodes.push(n);
    return n;
  };

  it('the uploader uploads only full segments the commit LSN passed, zstd, and records backupLsn', async () => {
    // WAL [1000, 6000): segments 1000, 1024, 2048, 3072, 4096, 5120 (partial). Commit at 3500: three are finished.
    const n = await open(UPLOADER, 3500n);
    const backup = new WalBackup({ timelines: n.timelines, storage, nodeId: UPLOADER, metrics: n.metrics, log: n.log });
    expect(backup.isUploader(n.timeline)).toBe(true);
    expect(finishedSegments(n.timeline).map((s) => Number(s.startLsn))).toEqual([1000, 1024, 2048]);
    expect(n.metrics.registry.render()).toMatch(/safekeeper_wal_backup_queue_segments\{.*\} 3/);

    await backup.runOnce();
    expect(n.timeline.control.backupLsn).toBe(3072n);
    for (const [start, end] of [[1000, 1024], [1024, 2048], [2048, 3072]] as const) {
      const z = await storage.get(segmentKey(TENANT, TIMELINE, BigInt(start)));
      expect(z, `segment ${start}`).toBeDefined();
      expect(Buffer.from(zstdDecompress(z!, SEGMENT)).equals(Buffer.from(data.subarray(start - 1000, end - 1000)))).toBe(true);
    }
    expect(await storage.get(segmentKey(TENANT, TIMELINE, 3072n))).toBeUndefined();
    const index = await readIndex(storage, TENANT, TIMELINE);
    expect(index).toMatchObject({ backupLsn: 3072n, timelineStartLsn: START, segmentBytes: SEGMENT, uploadedBy: UPLOADER });
    expect(backup.segmentsUploaded.get(n.timeline.labels())).toBe(3n);
    expect(backup.bytesUploaded.get(n.timeline.labels())).toBe(2072n);
    expect(backup.compressedBytesUploaded.get(n.timeline.labels())).toBeLessThan(2072n);
    expect(n.metrics.registry.render()).toMatch(/safekeeper_wal_backup_queue_segments\{.*\} 0/);
    // Backed up but not persisted by the page server: nothing is removed locally.
    expect(segmentsOf(n.timeline)).toEqual([1000, 1024, 2048, 3072, 4096, 5120]);

    // The page server reports; WAL both horizons cover goes.
    expect(await n.timeline.updateHorizons({ remoteConsistentLsn: 2500n })).toBe(1048n);
    expect(segmentsOf(n.timeline)).toEqual([2048, 3072, 4096, 5120]);

    // More commits: the next pass continues where it stopped and removes behind it.
    await n.timeline.updateConsensus({ commitLsn: 6000n });
    await n.timeline.updateHorizons({ remoteConsistentLsn: 6000n });
    await backup.runOnce();
    expect(n.timeline.control.backupLsn).toBe(5120n);
    expect(segmentsOf(n.timeline)).toEqual([5120]); // the newest segment always stays
    expect(backup.segmentsUploaded.get(n.timeline.labels())).toBe(5n);
  });

  it('a member that does not upload follows the index to remove its WAL, and reads it only when that can free a segment', async () => {
    const up = await open(UPLOADER, 4500n);
    const follower = await open(FOLLOWER, 4500n);
    let reads = 0;
    const counting = wrap(storage, {
      get: (k) => {
        if (k === indexKey(TENANT, TIMELINE)) reads++;
        return storage.get(k);
      },
    });
    let nowMs = 0;
    const fb = new WalBackup({ timelines: follower.timelines, storage: counting, nodeId: FOLLOWER, metrics: follower.metrics, log: follower.log, now: () => nowMs });
    expect(fb.isUploader(follower.timeline)).toBe(false);

    await fb.runOnce();
    expect(reads).toBe(0); // the page server has persisted nothing: no segment could go
    await follower.timeline.updateHorizons({ remoteConsistentLsn: 4500n });
    await fb.runOnce();
    expect(reads).toBe(1); // no index yet: nothing to adopt
    expect(follower.timeline.control.backupLsn).toBe(START);

    await new WalBackup({ timelines: up.timelines, storage, nodeId: UPLOADER, metrics: up.metrics, log: up.log }).runOnce();
    await fb.runOnce();
    expect(reads).toBe(1); // polls are spaced
    nowMs += 10_000;
    await fb.runOnce();
    expect(reads).toBe(2);
    expect(follower.timeline.control.backupLsn).toBe(4096n);
    expect(segmentsOf(follower.timeline)).toEqual([4096, 5120]);
    expect(fb.segmentsUploaded.get(follower.timeline.labels())).toBe(0n);
  });

  it('a new uploader starts from the index instead of uploading again', async () => {
    const first = await open(UPLOADER, 4500n);
    await new WalBackup({ timelines: first.timelines, storage, nodeId: UPLOADER, metrics: first.metrics, log: first.log }).runOnce();
    // The same timeline on another node that (after a membership change, say) is now the uploader.
    const second = await open(FOLLOWER, 6000n);
    const b = new WalBackup({ timelines: second.timelines, storage, nodeId: FOLLOWER, metrics: second.metrics, log: second.log });
    b.isUploader = () => true;
    await b.runOnce();
    expect(b.segmentsUploaded.get(second.timeline.labels())).toBe(1n); // only [4096, 5120)
    expect(second.timeline.control.backupLsn).toBe(5120n);
    expect((await readIndex(storage, TENANT, TIMELINE))?.backupLsn).toBe(5120n);
  });

  it('counts failures and backs off exponentially, then resumes', async () => {
    const n = await open(UPLOADER, 3500n);
    const failures = { left: 2 };
    let nowMs = 100_000;
    const backup = new WalBackup({ timelines: n.timelines, storage: flaky(storage, failures), nodeId: UPLOADER, metrics: n.metrics, log: n.log, now: () => nowMs, backoffMinMs: 1000 });
    await backup.runOnce();
    expect(backup.failures.get(n.timeline.labels())).toBe(1n);
    expect(n.timeline.control.backupLsn).toBe(START);
    await backup.runOnce(); // still backing off: no attempt
    expect(failures.left).toBe(1);
    nowMs += 1000;
    await backup.runOnce();
    expect(backup.failures.get(n.timeline.labels())).toBe(2n);
    nowMs += 1999; // the second backoff is 2 s
    await backup.runOnce();
    expect(failures.left).toBe(0);
    nowMs += 1;
    await backup.runOnce();
    expect(n.timeline.control.backupLsn).toBe(3072n);
    expect(n.metrics.registry.render()).toMatch(/safekeeper_wal_backup_failures_total\{.*\} 2/);
    expect(n.log.lines.filter((l) => l.msg.startsWith('wal backup failed'))).toHaveLength(2);
  });

  it('restores the backed-up prefix into an empty timeline, checking every segment', async () => {
    const up = await open(UPLOADER, 4500n);
    await new WalBackup({ timelines: up.timelines, storage, nodeId: UPLOADER, metrics: up.metrics, log: up.log }).runOnce();
    const tmp = await tempDir();
    const timelines = await TimelineRegistry.open({ dataDir: tmp.dir, nodeId: FOLLOWER, metrics: new SafekeeperMetrics(), segmentBytes: SEGMENT });
    try {
      const params = { tenantId: TENANT, timelineId: TIMELINE, startLsn: START, conf: CONF };
      await expect(timelines.createFrom(params, (staging) => appendFromBackup(storage, staging, 4500n).then(() => undefined))).rejects.toThrow(BackupUnavailable);
      expect(timelines.size).toBe(0);
      const { timeline } = await timelines.createFrom(params, async (staging) => {
        expect(await appendFromBackup(storage, staging, 2048n)).toBe(2048n);
      });
      expect(timeline.flushLsn).toBe(2048n);
      expect(Buffer.from(await timeline.readWal(START, 2048n)).equals(Buffer.from(data.subarray(0, 1048)))).toBe(true);

      // A corrupt object is refused, and nothing is left behind.
      const key = segmentKey(TENANT, TIMELINE, 1024n);
      const z = Uint8Array.from((await storage.get(key))!);
      z[z.length - 6]! ^= 0x55;
      await storage.put(key, z);
      await timelines.delete(TENANT, TIMELINE);
      await expect(timelines.createFrom(params, (staging) => appendFromBackup(storage, staging, 2048n).then(() => undefined))).rejects.toThrow(/does not decompress/);
      expect(timelines.size).toBe(0);
    } finally {
      await timelines.close();
      await tmp.cleanup();
    }
  });
});

describe('the loop', () => {
  it('runs passes in the background and stops cleanly', async () => {
    const root = await mkdtemp(join(tmpdir(), 'strata-backup-'));
    const storage = openRemoteStorage(`file://${root}`);
    const n = await node(UPLOADER, 3500n);
    const backup = new WalBackup({ timelines: n.timelines, storage, nodeId: UPLOADER, metrics: n.metrics, log: n.log, intervalMs: 10 });
    try {
      backup.start();
      const deadline = Date.now() + 10_000;
      while (n.timeline.control.backupLsn < 3072n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(n.timeline.control.backupLsn).toBe(3072n);
    } finally {
      await backup.stop();
      await n.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
