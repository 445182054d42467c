/**
 * Peer recovery (issue 3) with three real safekeeper processes started with
 * `--peers`: one is down during almost all of a push; once it is back, with
 * no proposer running, it copies the missing WAL from its peers by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDir } from '../support/mariadb.js';
import { createTimeline, hostPorts, safekeeper, timelineLsn, type SafekeeperProcess } from '../support/safekeepers.js';
import { until } from '../support/until.js';
import { committedLsn, pushInBackground, recordWalSource, sourceBytes, type WalSource } from '../support/wal-source.js';

const TENANT = '0123456789abcdef0123456789abcdef';
const TIMELINE = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb1';
let dir: string;
let src: WalSource | undefined;
const sks: SafekeeperProcess[] = [];

const flushLsn = (sk: SafekeeperProcess) => timelineLsn(sk, TENANT, TIMELINE, 'flushLsn');

/** The WAL `[from, to)` of one safekeeper through the snapshot route (which serves up to the flush LSN). */
async function snapshotWal(sk: SafekeeperProcess, from: bigint, to: bigint): Promise<Buffer> {
  const parts: Buffer[] = [];
  let at = from;
  while (at < to) {
    const res = await fetch(`${sk.url}/v1/tenants/${TENANT}/timelines/${TIMELINE}/snapshot/wal?from=${at}&to=${to}`);
    if (!res.ok) throw new Error(`snapshot/wal of ${sk.id}: HTTP ${res.status} ${await res.text()}`);
    const end = BigInt(res.headers.get('x-strata-end-lsn') ?? '0');
    if (end <= at) throw new Error(`snapshot/wal of ${sk.id} served nothing at ${at}`);
    parts.push(Buffer.from(await res.arrayBuffer()));
    at = end;
  }
  return Buffer.concat(parts);
}

beforeAll(async () => {
  dir = await makeTempDir('strata-sk-peer-');
  src = await recordWalSource('sk-peer');
  // The ports are known once the processes are made; the args are read at each start.
  const extra: string[] = [];
  for (const id of [1, 2, 3]) sks.push(await safekeeper(id, dir, extra));
  extra.push('--peers', sks.map((s) => `${s.id}=${s.url}`).join(','));
  for (const s of sks) await s.start();
}, 600_000);

afterAll(async () => {
  for (const s of sks) await s.stop().catch(() => undefined);
  await removeTempDir(dir);
  if (src) await removeTempDir(src.dir);
});

describe('safekeepers: peer recovery (three real processes)', () => {
  it('[PEER RECOVERY] a member down during almost all of a push catches up from its peers with no proposer running', async () => {
    const { logPath, fromLsn } = src!;
    for (const s of sks) {
      const res = await createTimeline(s, TENANT, { timelineId: TIMELINE, startLsn: fromLsn, conf: { generation: 1, members: [1, 2, 3] } });
      expect(res.status).toBe(201);
    }
    const sk3 = sks[2]!;
    // Safekeeper 3 takes part in the election (it adopts the proposer's term
    // history) and is stopped right after its first WAL: it then misses
    // almost all of the push, which commits on 1 and 2 and exits before 3 is
    // back. (An acceptor that never adopted the history cannot take the
    // peers' WAL: nothing proves it is its log; the next proposer syncs it.)
    const pushing = pushInBackground({ safekeepers: hostPorts(sks), tenant: TENANT, timeline: TIMELINE, logPath, fromLsn, mibPerSec: 8 });
    await until('safekeeper 3 to join the push', async () => (await flushLsn(sk3)) > fromLsn, 30_000);
    await sk3.stop();
    const r = await pushing.done;
    expect(r.code, r.stderr).toBe(0);
    const committed = committedLsn(r.stdout);
    expect(committed).toBeGreaterThan(fromLsn + (20n << 20n));
    const target = await flushLsn(sks[0]!);
    expect(await flushLsn(sks[1]!)).toBe(target);
    expect(target).toBeGreaterThanOrEqual(committed);

    // Recovery may finish before the first status read after the restart, so
    // the proof that the WAL came from the peers is the recovered byte count.
    await sk3.start();
    await until('safekeeper 3 to recover the WAL from its peers', async () => (await flushLsn(sk3)) >= target, 20_000);
    expect(await flushLsn(sk3)).toBe(target);
    const wal = await snapshotWal(sk3, fromLsn, target);
    expect(wal.equals(Buffer.from(sourceBytes(logPath, fromLsn, target))), 'safekeeper 3 WAL equals the source log').toBe(true);
    const metrics = await (await fetch(`${sk3.url}/metrics`)).text();
    const recovered = /safekeeper_peer_recovery_bytes_total\{[^}]*\} (\d+)/.exec(metrics);
    expect(recovered, 'peer recovery bytes metric').not.toBeNull();
    expect(Number(recovered![1])).toBeGreaterThan(16 << 20);
    expect(metrics).toMatch(/safekeeper_peer_recovery_runs_total\{[^}]*\} [1-9]/);
  });
});
