/**
 * WAL backup and lost-disk recovery with three real safekeeper processes,
 * remote storage in a local directory, and real MariaDB redo (≥ 20 MB):
 * finished segments appear in remote storage zstd-compressed and equal to
 * the source log; WAL is removed locally once it is backed up and the page
 * server reported it persisted; a safekeeper whose disk was wiped gets the
 * committed WAL back from a peer and the backup.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRemoteStorage, type RemoteStorage } from '@strata/remote-storage';
import { zstdDecompress } from '@strata/zstd';
import { listBackedUpSegments, readIndex, segmentEnd, segmentKey } from '../../apps/safekeeper/src/backup/remote-layout.js';
import { uploaderOf } from '../../apps/safekeeper/src/backup/wal-backup.js';
import { makeTempDir, removeTempDir } from '../support/mariadb.js';
import { runStrata } from '../support/redo-scenario.js';
import { hostPorts, post, startSafekeepers, timelineStatus, type SafekeeperProcess } from '../support/safekeepers.js';
import { until } from '../support/until.js';
import { committedLsn, recordWalSource, sourceBytes, type WalSource } from '../support/wal-source.js';

const TENANT = '0123456789abcdef0123456789abcdef';
const TIMELINE = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb1';
const CONF = { generation: 1, members: [1, 2, 3] };
/** Smaller than the default 16 MiB so that 20 MB of redo makes several segments. */
const SEGMENT_BYTES = 4 << 20;

let dir: string;
let src: WalSource | undefined;
let remoteRoot: string;
let remote: RemoteStorage;
let logPath: string;
let fromLsn: bigint;
let sks: SafekeeperProcess[] = [];

async function status(sk: SafekeeperProcess) {
  const s = await timelineStatus(sk, TENANT, TIMELINE);
  const lsn = (k: string) => BigInt(String(s[k]));
  return { oldest: lsn('oldestLsn'), flush: lsn('flushLsn'), commit: lsn('commitLsn'), backup: lsn('backupLsn'), rcl: lsn('remoteConsistentLsn') };
}

beforeAll(async () => {
  dir = await makeTempDir('strata-skb-');
  remoteRoot = join(dir, 'remote');
  await mkdir(remoteRoot);
  remote = openRemoteStorage(`file://${remoteRoot}`);
  src = await recordWalSource('skb');
  ({ logPath, fromLsn } = src);
  sks = await startSafekeepers(CONF.members, dir, ['--remote-storage', `file://${remoteRoot}`, '--wal-segment-bytes', String(SEGMENT_BYTES)]);
}, 600_000);

afterAll(async () => {
  for (const s of sks) await s.stop().catch(() => undefined);
  await remote?.close();
  await removeTempDir(dir);
  if (src) await removeTempDir(src.dir);
});

describe('safekeeper WAL backup (three real processes, file:// remote storage)', () => {
  it('[BACKUP][RESTORE] uploads finished segments, removes WAL once persisted, restores a wiped safekeeper', async () => {
    const push = await runStrata(['wal', 'push', '--safekeepers', hostPorts(sks), '--tenant', TENANT, '--timeline', TIMELINE, '--log', logPath, '--from', String(fromLsn)]);
    expect(push.code, push.stderr).toBe(0);
    const committed = committedLsn(push.stdout);
    expect(committed).toBeGreaterThan(fromLsn + (20n << 20n));

    // Every full segment below the commit LSN gets backed up, by exactly one of them.
    const lastSegmentStart = (committed / BigInt(SEGMENT_BYTES)) * BigInt(SEGMENT_BYTES);
    const uploaderId = uploaderOf(CONF, TENANT, TIMELINE);
    const uploader = sks.find((s) => s.id === uploaderId)!;
    await until('the backup to reach the last finished segment', async () => (await readIndex(remote, TENANT, TIMELINE))?.backupLsn === lastSegmentStart);
    const index = (await readIndex(remote, TENANT, TIMELINE))!;
    expect(index).toMatchObject({ timelineStartLsn: fromLsn, segmentBytes: SEGMENT_BYTES, uploadedBy: uploaderId });
    const starts = await listBackedUpSegments(remote, TENANT, TIMELINE);
    expect(starts[0]).toBe(fromLsn);
    expect(starts.length).toBeGreaterThanOrEqual(4);
    let compressedTotal = 0;
    let at = fromLsn;
    for (const start of starts) {
      expect(start).toBe(at);
      const end = segmentEnd(start, SEGMENT_BYTES);
      const z = (await remote.get(segmentKey(TENANT, TIMELINE, start)))!;
      compressedTotal += z.length;
      const bytes = zstdDecompress(z, SEGMENT_BYTES);
      expect(Buffer.from(bytes).equals(Buffer.from(sourceBytes(logPath, start, end))), `segment ${start} equals the source log`).toBe(true);
      at = end;
    }
    expect(at).toBe(lastSegmentStart);
    expect(compressedTotal).toBeLessThan(Number(at - fromLsn));
    await until('the uploader to record its backup LSN', async () => (await status(uploader)).backup === lastSegmentStart);
    const metrics = await (await fetch(`${uploader.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`safekeeper_wal_backup_segments_total\\{[^}]*\\} ${starts.length}`));
    // Backed up, but the page server has not said it persisted anything: every safekeeper keeps all its WAL.
    for (const sk of sks) expect((await status(sk)).oldest).toBe(fromLsn);

    // The page server reports; each safekeeper drops the segments both horizons cover (the others learn backupLsn from the index).
    for (const sk of sks) {
      const res = await post(`${sk.url}/v1/tenants/${TENANT}/timelines/${TIMELINE}/remote_consistent_lsn`, { lsn: String(committed) });
      expect(res.status, await res.clone().text()).toBe(200);
    }
    for (const sk of sks) {
      await until(`safekeeper ${sk.id} to remove its backed-up WAL`, async () => (await status(sk)).oldest === lastSegmentStart, 30_000);
      const st = await status(sk);
      expect(st.backup).toBe(lastSegmentStart);
      expect(st.flush).toBeGreaterThanOrEqual(committed);
    }

    // Lost disk: wipe a safekeeper, restart it empty, and pull the timeline back from the uploader.
    const victim = sks.find((s) => s.id !== uploaderId)!;
    await victim.kill9();
    await rm(victim.dataDir, { recursive: true, force: true });
    await mkdir(victim.dataDir);
    await victim.start();
    expect((await fetch(`${victim.url}/v1/tenants/${TENANT}/timelines/${TIMELINE}`)).status).toBe(404);
    const pulled = await post(`${victim.url}/v1/tenants/${TENANT}/timelines/${TIMELINE}/pull`, { from: uploader.url });
    expect(pulled.status, await pulled.clone().text()).toBe(201);
    const restored = await status(victim);
    expect(restored.oldest).toBe(fromLsn); // below the peer's oldest WAL: from the backup
    expect(restored.flush).toBeGreaterThanOrEqual(committed);
    expect(restored.commit).toBeGreaterThanOrEqual(committed);
    const out = join(dir, 'restored.bin');
    const read = await runStrata(['wal', 'read', '--safekeeper', victim.hostPort, '--tenant', TENANT, '--timeline', TIMELINE, '--from', String(fromLsn), '--to', String(committed), '--out', out]);
    expect(read.code, read.stderr).toBe(0);
    expect(Buffer.from(readFileSync(out)).equals(Buffer.from(sourceBytes(logPath, fromLsn, committed))), 'restored WAL equals the source log').toBe(true);
  });
});
