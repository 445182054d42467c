/**
 * Three real safekeeper processes on loopback and real MariaDB redo:
 * durability across kill -9, loss of quorum, and fencing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProposerDriver, ProposerFenced } from '@strata/client';
import { mtrCut } from '@strata/core/redo';
import { makeTempDir, removeTempDir } from '../support/mariadb.js';
import { runStrata } from '../support/redo-scenario.js';
import { createTimeline, hostPorts, startSafekeepers, timelineLsn, type SafekeeperProcess } from '../support/safekeepers.js';
import { until } from '../support/until.js';
import { committedLsn, pushInBackground, recordWalSource, sourceBytes, type WalSource } from '../support/wal-source.js';

const TENANT = '0123456789abcdef0123456789abcdef';
let dir: string;
let src: WalSource | undefined;
let logPath: string;
let fromLsn: bigint;
let sks: SafekeeperProcess[] = [];

/** A push paced to a few MiB/s, so that kills land while it is still running on any machine. */
const push = (timeline: string, mibPerSec = 4) => pushInBackground({ safekeepers: hostPorts(sks), tenant: TENANT, timeline, logPath, fromLsn, mibPerSec });
const flushLsn = (sk: SafekeeperProcess, timeline: string) => timelineLsn(sk, TENANT, timeline, 'flushLsn');
const commitLsn = (sk: SafekeeperProcess, timeline: string) => timelineLsn(sk, TENANT, timeline, 'commitLsn');

beforeAll(async () => {
  dir = await makeTempDir('strata-sk-');
  src = await recordWalSource('sk');
  ({ logPath, fromLsn } = src);
  sks = await startSafekeepers([1, 2, 3], dir);
}, 600_000);

afterAll(async () => {
  for (const s of sks) await s.stop().catch(() => undefined);
  await removeTempDir(dir);
  if (src) await removeTempDir(src.dir);
});

describe('safekeepers (three real processes)', () => {
  it('[DURABILITY] kill -9 of one during a push: the push completes, the restarted one catches up, every WAL is the source log', async () => {
    const timeline = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1';
    const pushing = push(timeline);
    await until('some WAL on safekeeper 2', async () => (await flushLsn(sks[1]!, timeline)) > fromLsn + (2n << 20n));
    await sks[1]!.kill9();
    await new Promise((r) => setTimeout(r, 1500));
    await sks[1]!.start();
    const r = await pushing.done;
    expect(r.code, r.stderr).toBe(0);
    const committed = committedLsn(r.stdout);
    expect(committed).toBeGreaterThan(fromLsn + (20n << 20n));
    const expected = sourceBytes(logPath, fromLsn, committed);
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
    const pushing = push(timeline);
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
    const r = await pushing.done;
    expect(r.code, r.stderr).toBe(0);
    const committed = committedLsn(r.stdout);
    expect(committed).toBeGreaterThan(fromLsn + (20n << 20n));
    await sks[1]!.start();
  });

  it('[FENCING] a second proposer on the same timeline fences the first', async () => {
    const timeline = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3';
    const endpoints = sks.map((s) => ({ nodeId: s.id, baseUrl: s.url }));
    for (const s of sks) {
      const res = await createTimeline(s, TENANT, { timelineId: timeline, startLsn: fromLsn, conf: { generation: 1, members: [1, 2, 3] } });
      expect(res.status).toBe(201);
    }
    const bytes = sourceBytes(logPath, fromLsn, fromLsn + 65536n);
    // Appends are whole mtrs (safekeepers refuse anything else): cut the log's redo at mtr ends.
    const first = mtrCut(bytes, 0, bytes.length, 1000);
    const second = mtrCut(bytes, first, bytes.length, 2000);
    expect(first).toBeGreaterThan(0);
    expect(second).toBeGreaterThan(first);
    const a = new ProposerDriver({ tenantId: TENANT, timelineId: timeline, proposerId: 1, safekeepers: endpoints });
    await a.waitElected(20_000);
    a.append(fromLsn, bytes.subarray(0, first));
    await a.waitCommitted(fromLsn + BigInt(first), 20_000);
    const b = new ProposerDriver({ tenantId: TENANT, timelineId: timeline, proposerId: 2, safekeepers: endpoints });
    await b.waitElected(20_000);
    expect(b.term).toBeGreaterThan(a.term);
    expect(b.endLsn).toBe(fromLsn + BigInt(first));
    await until('the first proposer to be fenced', async () => a.status === 'fenced', 20_000);
    expect(() => a.append(fromLsn + BigInt(first), bytes.subarray(first, second))).toThrow(ProposerFenced);
    b.append(fromLsn + BigInt(first), bytes.subarray(first, second));
    await b.waitCommitted(fromLsn + BigInt(second), 20_000);
    a.stop();
    b.stop();
  });
});
