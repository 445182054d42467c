/**
 * Three real safekeeper processes on loopback and real MariaDB redo:
 * durability across kill -9, loss of quorum, and fencing.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProposerDriver, ProposerFenced } from '@strata/client';
import { openLogFile } from '@strata/datadir';
import { makeTempDir, readLogCheckpoint, removeTempDir } from '../support/mariadb.js';
import { recordWorkload, REPO_ROOT, runStrata } from '../support/redo-scenario.js';
import { safekeeper, type SafekeeperProcess, timelineStatus } from '../support/safekeepers.js';

const TENANT = '0123456789abcdef0123456789abcdef';
let dir: string;
let logPath: string;
let fromLsn: bigint;
const sks: SafekeeperProcess[] = [];

/** The source log's bytes `[from, to)`. */
function sourceBytes(from: bigint, to: bigint): Uint8Array {
  const r = openLogFile(logPath);
  try {
    return r.readAt(from, Number(to - from));
  } finally {
    r.close();
  }
}

/** A push paced to a few MiB/s, so that kills land while it is still running on any machine. */
function pushInBackground(timeline: string, mibPerSec = 4): { done: Promise<{ code: number; stdout: string; stderr: string }> } {
  const child = spawn(
    join(REPO_ROOT, 'strata'),
    ['wal', 'push', '--safekeepers', sks.map((s) => s.hostPort).join(','), '--tenant', TENANT, '--timeline', timeline, '--log', logPath, '--from', String(fromLsn), '--max-mib-per-sec', String(mibPerSec)],
    { cwd: REPO_ROOT },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return { done: new Promise((resolve) => child.once('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }))) };
}

async function flushLsn(sk: SafekeeperProcess, timeline: string): Promise<bigint> {
  return BigInt(String((await timelineStatus(sk, TENANT, timeline))['flushLsn']));
}
async function commitLsn(sk: SafekeeperProcess, timeline: string): Promise<bigint> {
  return BigInt(String((await timelineStatus(sk, TENANT, timeline))['commitLsn']));
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  dir = await makeTempDir('strata-sk-');
  // ≥ 20 MB of real MariaDB redo.
  const rec = await recordWorkload({
    name: 'sk',
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
  dirs.push(rec.dir);
  logPath = join(rec.final, 'ib_logfile0');
  fromLsn = (await readLogCheckpoint(rec.base)).endLsn;
  const end = (await readLogCheckpoint(rec.final)).endLsn;
  expect(end - fromLsn).toBeGreaterThan(20n << 20n);
  for (const id of [1, 2, 3]) {
    const s = await safekeeper(id, dir);
    await s.start();
    sks.push(s);
  }
}, 600_000);

const dirs: string[] = [];
afterAll(async () => {
  for (const s of sks) await s.stop().catch(() => undefined);
  await removeTempDir(dir);
  for (const d of dirs) await removeTempDir(d);
});

describe('safekeepers (three real processes)', () => {
  it('[DURABILITY] kill -9 of one during a push: the push completes, the restarted one catches up, every WAL is the source log', async () => {
    const timeline = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1';
    const push = pushInBackground(timeline);
    await until('some WAL on safekeeper 2', async () => (await flushLsn(sks[1]!, timeline)) > fromLsn + (2n << 20n));
    await sks[1]!.kill9();
    await new Promise((r) => setTimeout(r, 1500));
    await sks[1]!.start();
    const r = await push.done;
    expect(r.code, r.stderr).toBe(0);
    const committed = BigInt(/^committed (\d+)$/m.exec(r.stdout)?.[1] ?? '0');
    expect(committed).toBeGreaterThan(fromLsn + (20n << 20n));
    const expected = sourceBytes(fromLsn, committed);
    for (const sk of sks) {
      await until(`safekeeper ${sk.id} to hold the committed WAL`, async () => (await flushLsn(sk, timeline)) >= committed, 30_000);
      const out = join(dir, `wal-${sk.id}.bin`);
      const read = await runStrata(['wal', 'read', '--safekeeper', sk.hostPort, '--tenant', TENANT, '--timeline', timeline, '--from', String(fromLsn), '--to', String(committed), '--out', out]);
      expect(read.code, read.stderr).toBe(0);
      expect(Buffer.from(readFileSync(out)).equals(Buffer.from(expected)), `safekeeper ${sk.id} WAL equals the source log`).toBe(true);
    }
  });

  it('[QUORUM] kill -9 of two: no commit advances; the push resumes once one is back', async () => {
    const timeline = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2';
    const push = pushInBackground(timeline);
    await until('the push under way', async () => (await commitLsn(sks[0]!, timeline)) > fromLsn + (1n << 20n));
    await sks[1]!.kill9();
    await sks[2]!.kill9();
    // The pace guarantees the push is mid-way: there is WAL left that no quorum has.
    expect(await flushLsn(sks[0]!, timeline)).toBeLessThan(fromLsn + (20n << 20n));
    try {
      // What two of them flushed before dying may still get committed; after that, nothing.
      await new Promise((r) => setTimeout(r, 3000));
      const stalled = await commitLsn(sks[0]!, timeline);
      await new Promise((r) => setTimeout(r, 3000));
      expect(await commitLsn(sks[0]!, timeline)).toBe(stalled);
      expect(await flushLsn(sks[0]!, timeline)).toBeGreaterThan(stalled);
    } finally {
      await sks[2]!.start();
    }
    const r = await push.done;
    expect(r.code, r.stderr).toBe(0);
    const committed = BigInt(/^committed (\d+)$/m.exec(r.stdout)?.[1] ?? '0');
    expect(committed).toBeGreaterThan(fromLsn + (20n << 20n));
    await sks[1]!.start();
  });

  it('[FENCING] a second proposer on the same timeline fences the first', async () => {
    const timeline = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3';
    const endpoints = sks.map((s) => ({ nodeId: s.id, baseUrl: s.url }));
    for (const s of sks) {
      const res = await fetch(`${s.url}/v1/tenants/${TENANT}/timelines`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ timelineId: timeline, startLsn: String(fromLsn), conf: { generation: 1, members: [1, 2, 3] } }),
      });
      expect(res.status).toBe(201);
    }
    const bytes = sourceBytes(fromLsn, fromLsn + 65536n);
    const a = new ProposerDriver({ tenantId: TENANT, timelineId: timeline, proposerId: 1, safekeepers: endpoints });
    await a.waitElected(20_000);
    a.append(fromLsn, bytes.subarray(0, 1000));
    await a.waitCommitted(fromLsn + 1000n, 20_000);
    const b = new ProposerDriver({ tenantId: TENANT, timelineId: timeline, proposerId: 2, safekeepers: endpoints });
    await b.waitElected(20_000);
    expect(b.term).toBeGreaterThan(a.term);
    expect(b.endLsn).toBe(fromLsn + 1000n);
    await until('the first proposer to be fenced', async () => a.status === 'fenced', 20_000);
    expect(() => a.append(fromLsn + 1000n, bytes.subarray(1000, 2000))).toThrow(ProposerFenced);
    b.append(fromLsn + 1000n, bytes.subarray(1000, 3000));
    await b.waitCommitted(fromLsn + 3000n, 20_000);
    a.stop();
    b.stop();
  });
});
