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
import { openLogFile } from '@strata/datadir';
import { makeTempDir, readLogCheckpoint, removeTempDir } from '../support/mariadb.js';
import { recordWorkload, runStrata } from '../support/redo-scenario.js';
import { safekeeper, type SafekeeperProcess, timelineStatus } from '../support/safekeepers.js';

const TENANT = '0123456789abcdef0123456789abcdef';
const TIMELINE = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb1';
const CONF = { generation: 1, members: [1, 2, 3] };
/** Smaller than the default 16 MiB so that 20 MB of redo makes several segments. */
const SEGMENT_BYTES = 4 << 20;

let dir: string;
let recDir: string | undefined;
let remoteRoot: string;
let remote: RemoteStorage;
let logPath: string;
let fromLsn: bigint;
const sks: SafekeeperProcess[] = [];

function sourceBytes(from: bigint, to: bigint): Uint8Array {
  const r = openLogFile(logPath);
  try {
    return r.readAt(from, Number(to - from));
  } finally {
    r.close();
  }
}

async function status(sk: SafekeeperProcess) {
  const s = await timelineStatus(sk, TENANT, TIMELINE);
  const lsn = (k: string) => BigInt(String(s[k]));
  return { oldest: lsn('oldestLsn'), flush: lsn('flushLsn'), commit: lsn('commitLsn'), backup: lsn('backupLsn'), rcl: lsn('remoteConsistentLsn') };
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

beforeAll(async () => {
  dir = await makeTempDir('strata-skb-');
  remoteRoot = join(dir, 'remote');
  await mkdir(remoteRoot);
  remote = openRemoteStorage(`file://${remoteRoot}`);
  const rec = await recordWorkload({
    name: 'skb',
    server: { logFileSize: '256M' },
    setup: async (c) => {
      await c.query('CREATE DATABASE s');
      await c.query('CREATE TABLE s.t (id INT PRIMARY KEY, k INT, v VARCHAR(300), KEY (k)) ENGINE=InnoDB');
    },
    workload: async (c) => {
      for (let i = 0; i < 4; i++) {
        await c.query(`INSERT INTO s.t SELECT ${i} * 100000 + seq, seq % 1000, REPEAT(CHAR(97 + seq % 26), 250) FROM seq_1_to_40000`);
      }
    },
  });
  recDir = rec.dir;
  logPath = join(rec.final, 'ib_logfile0');
  fromLsn = (await readLogCheckpoint(rec.base)).endLsn;
  const end = (await readLogCheckpoint(rec.final)).endLsn;
  expect(end - fromLsn).toBeGreaterThan(20n << 20n);
  for (const id of CONF.members) {
    const s = await safekeeper(id, dir, ['--remote-storage', `file://${remoteRoot}`, '--wal-segment-bytes', String(SEGMENT_BYTES)]);
    await s.start();
    sks.push(s);
  }
}, 600_000);

afterAll(async () => {
  for (const s of sks) await s.stop().catch(() => undefined);
  await remote?.close();
  await removeTempDir(dir);
  if (recDir) await removeTempDir(recDir);
});

describe('safekeeper WAL backup (three real processes, file:// remote storage)', () => {
  it('[BACKUP][RESTORE] uploads finished segments, removes WAL once persisted, restores a wiped safekeeper', async () => {
    const push = await runStrata(['wal', 'push', '--safekeepers', sks.map((s) => s.hostPort).join(','), '--tenant', TENANT, '--timeline', TIMELINE, '--log', logPath, '--from', String(fromLsn)]);
    expect(push.code, push.stderr).toBe(0);
    const committed = BigInt(/^committed (\d+)$/m.exec(push.stdout)?.[1] ?? '0');
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
      expect(Buffer.from(bytes).equals(Buffer.from(sourceBytes(start, end))), `segment ${start} equals the source log`).toBe(true);
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
    expect(Buffer.from(readFileSync(out)).equals(Buffer.from(sourceBytes(fromLsn, committed))), 'restored WAL equals the source log').toBe(true);
  });
});
