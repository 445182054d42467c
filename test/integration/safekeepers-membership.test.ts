/**
 * Membership change with real safekeeper processes and real MariaDB redo:
 * {1,2,3} → {1,2,4} while `wal push` appends ≥ 20 MB. The push's proposer
 * is fenced by each configuration switch and restarts in the new one; at
 * the end 1, 2 and 4 hold the source log byte for byte, 3 is out, and a
 * later push commits with 3 stopped.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, readLogCheckpoint, removeTempDir, startMariadb } from '../support/mariadb.js';
import { runStrata, withConnection } from '../support/redo-scenario.js';
import { createTimeline, hostPorts, startSafekeepers, timelineLsn, timelineStatus, type SafekeeperProcess } from '../support/safekeepers.js';
import { until } from '../support/until.js';
import { committedLsn, pushInBackground, recordWalSource, sourceBytes, type WalSource } from '../support/wal-source.js';

const TENANT = '0123456789abcdef0123456789abcdef';
const TIMELINE = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb1';
let dir: string;
let src: WalSource | undefined;
let finalDir: string;
let logPath: string;
let fromLsn: bigint;
let sks: SafekeeperProcess[] = [];

const sk = (id: number): SafekeeperProcess => sks.find((s) => s.id === id)!;
const all = (): string => hostPorts(sks);
const lsnField = (s: SafekeeperProcess, field: 'flushLsn' | 'commitLsn') => timelineLsn(s, TENANT, TIMELINE, field);

/** Every listed safekeeper holds the source log over [fromLsn, to), read back with `wal read`. */
async function expectSourceLog(ids: number[], to: bigint, context: string): Promise<void> {
  const expected = Buffer.from(sourceBytes(logPath, fromLsn, to));
  for (const id of ids) {
    await until(`safekeeper ${id} to hold and know committed ${to}\n${context}`, async () => (await lsnField(sk(id), 'commitLsn')) >= to, 30_000);
    const out = join(dir, `wal-${id}.bin`);
    const read = await runStrata(['wal', 'read', '--safekeeper', sk(id).hostPort, '--tenant', TENANT, '--timeline', TIMELINE, '--from', String(fromLsn), '--to', String(to), '--out', out]);
    expect(read.code, read.stderr).toBe(0);
    expect(Buffer.from(readFileSync(out)).equals(expected), `safekeeper ${id} WAL equals the source log`).toBe(true);
  }
}

beforeAll(async () => {
  dir = await makeTempDir('strata-skm-');
  src = await recordWalSource('skm');
  ({ final: finalDir, logPath, fromLsn } = src);
  sks = await startSafekeepers([1, 2, 3, 4], dir);
}, 600_000);

afterAll(async () => {
  for (const s of sks) await s.stop().catch(() => undefined);
  await removeTempDir(dir);
  if (src) await removeTempDir(src.dir);
});

describe('safekeeper membership change (four real processes)', () => {
  let committed = 0n;

  it('[MEMBERSHIP] {1,2,3} → {1,2,4} during a 20 MB push: the push completes and nothing is lost', async () => {
    // The timeline lives on 1, 2, 3; 4 is running but empty.
    for (const id of [1, 2, 3]) {
      const res = await createTimeline(sk(id), TENANT, { timelineId: TIMELINE, startLsn: fromLsn, conf: { generation: 1, members: [1, 2, 3] } });
      expect(res.status).toBe(201);
    }
    // The push knows all four addresses; it learns who the members are from
    // the safekeepers. It runs at 6 MiB/s (a busy compute), so the change,
    // which starts after 2 MiB, happens well inside it.
    const push = pushInBackground({ safekeepers: all(), tenant: TENANT, timeline: TIMELINE, logPath, fromLsn, mibPerSec: 6 });
    await until('the push under way', async () => (await lsnField(sk(1), 'commitLsn')) > fromLsn + (2n << 20n));
    const change = await runStrata(['safekeeper', 'membership', '--safekeepers', all(), '--tenant', TENANT, '--timeline', TIMELINE, '--members', '1,2,4']);
    expect(change.code, change.stderr).toBe(0);
    expect(change.stdout.trim()).toBe('generation 3 members 1,2,4');
    expect(change.stderr).toMatch(/pulled the timeline into 4 from [123]/);
    const commitAfterChange = await lsnField(sk(1), 'commitLsn');

    const r = await push.done;
    expect(r.code, r.stderr).toBe(0);
    // The change really happened under load: the push was fenced by it and went on in the new configuration.
    expect(r.stderr).toMatch(/configuration changed .*restarting the proposer/);
    committed = committedLsn(r.stdout);
    expect(committed).toBeGreaterThan(fromLsn + (20n << 20n));
    // ... and the change was over while most of the log was still to come.
    expect(commitAfterChange).toBeLessThan(committed - (10n << 20n));

    await expectSourceLog([1, 2, 4], committed, `push:\n${r.stderr}\nchange:\n${change.stderr}`);
    for (const id of [1, 2, 4]) {
      expect((await timelineStatus(sk(id), TENANT, TIMELINE))['conf']).toEqual({ generation: 3, members: [1, 2, 4] });
    }
    // 3 learned the final configuration and is not in it: it refuses every proposer.
    expect((await timelineStatus(sk(3), TENANT, TIMELINE))['conf']).toEqual({ generation: 3, members: [1, 2, 4] });
    expect(await lsnField(sk(3), 'flushLsn')).toBeLessThanOrEqual(committed);
  });

  it('[MEMBERSHIP] a later push commits with {1,2,4} while 3 is stopped', async () => {
    expect(committed).toBeGreaterThan(0n);
    const flush3 = await lsnField(sk(3), 'flushLsn');
    await sk(3).stop();
    // More redo in the same log: MariaDB continues the LSN sequence after a restart.
    const server = await startMariadb(finalDir, { logFileSize: '256M' });
    await withConnection(server, (c) => c.query(`INSERT INTO s.t SELECT 900000 + seq, seq % 1000, REPEAT('z', 250) FROM seq_1_to_20000`));
    await server.shutdown();
    const end = (await readLogCheckpoint(finalDir)).endLsn;
    expect(end).toBeGreaterThan(committed + (1n << 20n));

    const r = await runStrata(['wal', 'push', '--safekeepers', all(), '--tenant', TENANT, '--timeline', TIMELINE, '--log', logPath, '--from', String(fromLsn)]);
    expect(r.code, r.stderr).toBe(0);
    const again = committedLsn(r.stdout);
    expect(again).toBeGreaterThan(committed + (1n << 20n));
    await expectSourceLog([1, 2, 4], again, r.stderr);
    // 3 got nothing of it.
    await sk(3).start();
    expect(await lsnField(sk(3), 'flushLsn')).toBe(flush3);
  });
});
