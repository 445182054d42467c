/**
 * Membership change with real safekeeper processes and real MariaDB redo:
 * {1,2,3} → {1,2,4} while `wal push` appends ≥ 20 MB. The push's proposer
 * is fenced by each configuration switch and restarts in the new one; at
 * the end 1, 2 and 4 hold the source log byte for byte, 3 is out, and a
 * later push commits with 3 stopped.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLogFile } from '@strata/datadir';
import { makeTempDir, readLogCheckpoint, removeTempDir, startMariadb } from '../support/mariadb.js';
import { recordWorkload, REPO_ROOT, runStrata, withConnection } from '../support/redo-scenario.js';
import { safekeeper, type SafekeeperProcess, timelineStatus } from '../support/safekeepers.js';

const TENANT = '0123456789abcdef0123456789abcdef';
const TIMELINE = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb1';
let dir: string;
let finalDir: string;
let logPath: string;
let fromLsn: bigint;
const sks: SafekeeperProcess[] = [];
const dirs: string[] = [];

const sk = (id: number): SafekeeperProcess => sks.find((s) => s.id === id)!;
const all = (): string => sks.map((s) => s.hostPort).join(',');

function sourceBytes(from: bigint, to: bigint): Uint8Array {
  const r = openLogFile(logPath);
  try {
    return r.readAt(from, Number(to - from));
  } finally {
    r.close();
  }
}

function pushInBackground(): { done: Promise<{ code: number; stdout: string; stderr: string }> } {
  const child = spawn(join(REPO_ROOT, 'strata'), ['wal', 'push', '--safekeepers', all(), '--tenant', TENANT, '--timeline', TIMELINE, '--log', logPath, '--from', String(fromLsn), '--max-mib-per-sec', '6'], { cwd: REPO_ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return { done: new Promise((resolve) => child.once('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }))) };
}

async function lsnField(s: SafekeeperProcess, field: 'flushLsn' | 'commitLsn'): Promise<bigint> {
  return BigInt(String((await timelineStatus(s, TENANT, TIMELINE))[field]));
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Every listed safekeeper holds the source log over [fromLsn, to), read back with `wal read`. */
async function expectSourceLog(ids: number[], to: bigint, context: string): Promise<void> {
  const expected = Buffer.from(sourceBytes(fromLsn, to));
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
  // ≥ 20 MB of real MariaDB redo.
  const rec = await recordWorkload({
    name: 'skm',
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
  finalDir = rec.final;
  logPath = join(rec.final, 'ib_logfile0');
  fromLsn = (await readLogCheckpoint(rec.base)).endLsn;
  const end = (await readLogCheckpoint(rec.final)).endLsn;
  expect(end - fromLsn).toBeGreaterThan(20n << 20n);
  for (const id of [1, 2, 3, 4]) {
    const s = await safekeeper(id, dir);
    await s.start();
    sks.push(s);
  }
}, 600_000);

afterAll(async () => {
  for (const s of sks) await s.stop().catch(() => undefined);
  await removeTempDir(dir);
  for (const d of dirs) await removeTempDir(d);
});

describe('safekeeper membership change (four real processes)', () => {
  let committed = 0n;

  it('[MEMBERSHIP] {1,2,3} → {1,2,4} during a 20 MB push: the push completes and nothing is lost', async () => {
    // The timeline lives on 1, 2, 3; 4 is running but empty.
    for (const id of [1, 2, 3]) {
      const res = await fetch(`${sk(id).url}/v1/tenants/${TENANT}/timelines`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ timelineId: TIMELINE, startLsn: String(fromLsn), conf: { generation: 1, members: [1, 2, 3] } }),
      });
      expect(res.status).toBe(201);
    }
    // The push knows all four addresses; it learns who the members are from
    // the safekeepers. It runs at 6 MiB/s (a busy compute), so the change,
    // which starts after 2 MiB, happens well inside it.
    const push = pushInBackground();
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
    committed = BigInt(/^committed (\d+)$/m.exec(r.stdout)?.[1] ?? '0');
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
    const again = BigInt(/^committed (\d+)$/m.exec(r.stdout)?.[1] ?? '0');
    expect(again).toBeGreaterThan(committed + (1n << 20n));
    await expectSourceLog([1, 2, 4], again, r.stderr);
    // 3 got nothing of it.
    await sk(3).start();
    expect(await lsnField(sk(3), 'flushLsn')).toBe(flush3);
  });
});
