/**
 * The proposer's consensus streams against three real safekeeper processes:
 * a safekeeper killed with -9 mid-stream is reconnected (with backoff) once
 * it is back, and catches up on the same stream; the quorum commits meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProposerDriver } from '@strata/client';
import { makeTempDir, removeTempDir } from '../support/mariadb.js';
import { createTimeline, startSafekeepers, timelineLsn, type SafekeeperProcess } from '../support/safekeepers.js';
import { until } from '../support/until.js';
import { mtrs } from '../support/mtrs.js';

const TENANT = '0123456789abcdef0123456789abcdef';
const TIMELINE = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb1';
const START_LSN = 100_000n;
let dir: string;
let sks: SafekeeperProcess[] = [];


beforeAll(async () => {
  dir = await makeTempDir('strata-sk-stream-');
  sks = await startSafekeepers([1, 2, 3], dir);
  for (const s of sks) {
    const res = await createTimeline(s, TENANT, { timelineId: TIMELINE, startLsn: START_LSN, conf: { generation: 1, members: [1, 2, 3] } });
    expect(res.status, await res.text()).toBe(201);
  }
}, 120_000);

afterAll(async () => {
  for (const s of sks) await s.stop().catch(() => undefined);
  await removeTempDir(dir);
});

describe('consensus streams to real safekeeper processes', () => {
  it('[STREAM] kill -9 of one mid-stream: the quorum commits, the restarted one is reconnected with backoff and catches up', async () => {
    const d = new ProposerDriver({
      tenantId: TENANT,
      timelineId: TIMELINE,
      proposerId: 5,
      safekeepers: sks.map((s) => ({ nodeId: s.id, baseUrl: s.url })),
      backoffMsMin: 20,
      backoffMsMax: 500,
    });
    try {
      await d.waitElected(20_000);
      let lsn = d.endLsn;
      expect(lsn).toBe(START_LSN);
      const push = (n: number, size: number) => {
        for (let i = 0; i < n; i++) {
          const data = mtrs(size, Number(lsn % 100_000n));
          d.append(lsn, data);
          lsn += BigInt(data.length);
        }
      };
      push(64, 64 * 1024);
      await d.waitCommitted(lsn, 30_000);
      // Killed while appends are still flowing to it.
      push(64, 64 * 1024);
      await sks[1]!.kill9();
      push(64, 64 * 1024);
      await d.waitCommitted(lsn, 30_000);
      await until('the driver to see the connection gone', async () => d.peerStats()[1]!.connection !== 'open', 10_000);
      await new Promise((r) => setTimeout(r, 2000));
      const down = d.peerStats()[1]!;
      // 2 s down with a 20..500 ms backoff: a handful of attempts, not a busy loop.
      expect(down.failed).toBeGreaterThanOrEqual(3);
      expect(down.failed).toBeLessThanOrEqual(20);
      await sks[1]!.start();
      push(16, 64 * 1024);
      expect(await d.waitAllFlushed([1, 2, 3], lsn, 60_000)).toBe(true);
      for (const s of sks) expect(await timelineLsn(s, TENANT, TIMELINE, 'flushLsn')).toBe(lsn);
      expect(d.peerStats()[1]).toMatchObject({ connection: 'open', connects: 2 });
      expect(d.peerStats()[0]).toMatchObject({ connects: 1, failed: 0 });
      expect(d.peerStats()[2]).toMatchObject({ connects: 1, failed: 0 });
    } finally {
      d.stop();
    }
  });
});
