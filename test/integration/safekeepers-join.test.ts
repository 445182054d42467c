/**
 * Issue 11, "a member that missed the timeline gets it", against real
 * safekeeper processes: the third safekeeper is down when the timeline is
 * created; the proposer commits with two; once the third is back, the
 * proposer has it join as a fresh acceptor and it catches up. A safekeeper
 * whose timeline directory is lost refuses to come back empty: it answers
 * TIMELINE_LOST, the proposer reports it as degraded, the quorum goes on.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProposerDriver } from '@strata/client';
import { makeTempDir, removeTempDir } from '../support/mariadb.js';
import { createTimeline, startSafekeepers, timelineLsn, type SafekeeperProcess } from '../support/safekeepers.js';
import { until } from '../support/until.js';
import { mtrs } from '../support/mtrs.js';

const TENANT = '0123456789abcdef0123456789abcdef';
const TIMELINE = 'ccccccccccccccccccccccccccccccc1';
const START_LSN = 100_000n;
let dir: string;
let sks: SafekeeperProcess[] = [];


beforeAll(async () => {
  dir = await makeTempDir('strata-sk-join-');
  sks = await startSafekeepers([1, 2, 3], dir);
  // The third is killed before it hears of the timeline.
  await sks[2]!.kill9();
  for (const s of sks.slice(0, 2)) {
    const res = await createTimeline(s, TENANT, { timelineId: TIMELINE, startLsn: START_LSN, conf: { generation: 1, members: [1, 2, 3] } });
    expect(res.status, await res.text()).toBe(201);
  }
}, 120_000);

afterAll(async () => {
  for (const s of sks) await s.stop().catch(() => undefined);
  await removeTempDir(dir);
});

function driver(): ProposerDriver {
  return new ProposerDriver({
    tenantId: TENANT,
    timelineId: TIMELINE,
    proposerId: 7,
    safekeepers: sks.map((s) => ({ nodeId: s.id, baseUrl: s.url })),
    backoffMsMin: 20,
    backoffMsMax: 300,
    reconnectMs: 1000,
  });
}

describe('members without the timeline', () => {
  it('[JOIN] a member down at the creation is brought in once it is back, and catches up', async () => {
    const d = driver();
    try {
      await d.waitElected(20_000);
      let lsn = d.endLsn;
      for (let i = 0; i < 16; i++) {
        const data = mtrs(16 * 1024, i);
        d.append(lsn, data);
        lsn += BigInt(data.length);
      }
      await d.waitCommitted(lsn, 30_000);
      await new Promise((r) => setTimeout(r, 2000));
      await sks[2]!.start();
      await until('safekeeper 3 to hold the timeline and the committed WAL', async () => (await timelineLsn(sks[2]!, TENANT, TIMELINE, 'flushLsn')) >= lsn, 30_000);
      await until('the proposer to see every member present', async () => d.degradedMembers.length === 0, 10_000);
    } finally {
      d.stop();
    }
  }, 90_000);

  it('[JOIN] a member whose timeline directory was lost stays out (TIMELINE_LOST), shown degraded; the quorum goes on', async () => {
    await sks[2]!.kill9();
    await rm(join(sks[2]!.dataDir, 'tenants', TENANT, 'timelines', TIMELINE), { recursive: true });
    await sks[2]!.start();
    const lost = await fetch(`${sks[2]!.url}/v1/tenants/${TENANT}/timelines/${TIMELINE}`);
    expect(lost.status).toBe(410);
    const d = driver();
    try {
      await d.waitElected(20_000);
      let lsn = d.endLsn;
      const data = mtrs(64 * 1024, 99);
      d.append(lsn, data);
      lsn += BigInt(data.length);
      await d.waitCommitted(lsn, 30_000);
      await until('the proposer to report member 3 as lost', async () => d.degradedMembers.some((m) => m.nodeId === 3 && m.presence === 'lost'), 15_000);
      // It never came back as a fresh acceptor.
      expect((await fetch(`${sks[2]!.url}/v1/tenants/${TENANT}/timelines/${TIMELINE}`)).status).toBe(410);
      const st = (await (await fetch(`${sks[2]!.url}/v1/status`)).json()) as { lostTimelines: unknown[] };
      expect(st.lostTimelines).toEqual([{ tenantId: TENANT, timelineId: TIMELINE }]);
    } finally {
      d.stop();
    }
  }, 90_000);
});
