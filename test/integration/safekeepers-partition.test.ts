/**
 * Partitions, for real (issue 11): three safekeeper processes, each in its
 * own network namespace behind a bridge; proposers run inside namespaces too
 * (the test's own namespace gets no address) and are driven over pipes.
 *
 * Proposer A lives next to safekeeper 3. A is elected and commits with all
 * three; then safekeeper 3's link is cut, leaving A on the minority side:
 * its appends are not committed. Proposer B, on the majority side next to
 * safekeeper 1, is elected and commits. The link heals under B's writes:
 * A is fenced, safekeeper 3 converges, and every byte committed (A's before
 * the cut, B's after) is on all three, unchanged.
 *
 * Needs root and iproute2 (`ip netns`, veth, bridge); skipped with the
 * reason where network namespaces are not permitted.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDir } from '../support/mariadb.js';
import { mtrs } from '../support/mtrs.js';
import { netnsUnavailable, TestNetwork } from '../support/netns.js';
import { REPO_ROOT } from '../support/redo-scenario.js';
import { until } from '../support/until.js';

const TENANT = '0123456789abcdef0123456789abcdef';
const TIMELINE = 'dddddddddddddddddddddddddddddd01';
const START_LSN = 100_000n;
const PORT = 7676;
const CHUNK_BYTES = 8 * 1024;

const unavailable = process.getuid?.() === 0 ? netnsUnavailable() : 'not running as root';
if (unavailable !== null) console.warn(`safekeepers-partition: skipped, network namespaces are not available: ${unavailable}`);

interface Chunk {
  lsn: bigint;
  end: bigint;
  seed: number;
}
type Reply = Record<string, unknown>;

/** A netns-proposer.ts process: commands over stdin, answers and events over stdout. */
class Helper {
  private nextId = 1;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  readonly events: Reply[] = [];
  readonly ready: Promise<void>;
  log = '';
  constructor(private readonly child: ChildProcess) {
    let onReady: () => void = () => {};
    this.ready = new Promise((r) => (onReady = r));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let m: Reply;
      try {
        m = JSON.parse(line) as Reply;
      } catch {
        this.log += `${line}\n`;
        return;
      }
      if (typeof m.id === 'number') {
        this.waiting.get(m.id)?.(m);
        this.waiting.delete(m.id);
      } else if (m.event === 'ready') onReady();
      else this.events.push(m);
    });
    child.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
  }
  call(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<Reply> {
    const id = this.nextId++;
    const line = JSON.stringify({ id, cmd, ...args }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`helper ${cmd} timed out\n${this.log}`)), timeoutMs);
      this.waiting.set(id, (r) => {
        clearTimeout(t);
        if (typeof r.error === 'string') reject(new Error(`helper ${cmd}: ${r.error}`));
        else resolve(r);
      });
      this.child.stdin!.write(`${line}\n`);
    });
  }
  async append(count: number, seed: number): Promise<Chunk[]> {
    const r = await this.call('append', { count, bytes: CHUNK_BYTES, seed });
    return (r.chunks as { lsn: string; end: string; seed: number }[]).map((c) => ({ lsn: BigInt(c.lsn), end: BigInt(c.end), seed: c.seed }));
  }
  async wait(lsn: bigint, timeoutMs: number): Promise<{ committed: boolean; commitLsn: bigint }> {
    const r = await this.call('wait', { lsn, timeoutMs }, timeoutMs + 10_000);
    return { committed: r.committed === true, commitLsn: BigInt(r.commitLsn as string) };
  }
  async http(url: string, init: { method?: string; json?: unknown; binary?: boolean } = {}): Promise<{ status: number; text: string }> {
    const r = await this.call('http', { url, ...init });
    return { status: r.status as number, text: r.text as string };
  }
}

let net: TestNetwork | undefined;
let destroying = false;
let dir = '';
let token = '';
const helpers: Record<'a' | 'b', Helper | undefined> = { a: undefined, b: undefined };

const sk = (i: number) => `http://${net!.node(`s${i}`).address}:${PORT}`;
const endpoints = () => [1, 2, 3].map((i) => ({ nodeId: i, baseUrl: sk(i) }));
const tl = (i: number) => `${sk(i)}/v1/tenants/${TENANT}/timelines/${TIMELINE}`;

async function startSafekeeper(i: number, secretFile: string): Promise<void> {
  const n = net!.node(`s${i}`);
  const c = net!.spawn(`s${i}`, join(REPO_ROOT, 'strata'), ['safekeeper', '--id', String(i), '--listen', `${n.address}:${PORT}`, '--data', join(dir, `sk${i}`), '--auth-hs256-secret-file', secretFile], REPO_ROOT);
  let log = '';
  // A safekeeper that dies during the test is a bug: its output is printed.
  c.once('exit', (code, signal) => {
    if (!destroying) console.error(`safekeeper ${i} exited (${code ?? signal}) during the test:\n${log.slice(-6000)}`);
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`safekeeper ${i} did not start:\n${log}`)), 60_000);
    const on = (d: Buffer) => {
      log = (log + d.toString()).slice(-20_000);
      if (log.includes('listening on')) {
        clearTimeout(t);
        resolve();
      }
    };
    c.stdout!.on('data', on);
    c.stderr!.on('data', on);
    c.once('exit', (code) => reject(new Error(`safekeeper ${i} exited with ${code}:\n${log}`)));
  });
}

async function startHelper(node: string): Promise<Helper> {
  const h = new Helper(net!.spawn(node, join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['test/support/netns-proposer.ts'], REPO_ROOT));
  await h.ready;
  await h.call('token', { token });
  return h;
}

async function timelineOf(h: Helper, i: number): Promise<{ flushLsn: bigint; commitLsn: bigint; term: bigint }> {
  const r = await h.http(tl(i));
  if (r.status !== 200) throw new Error(`safekeeper ${i}: HTTP ${r.status} ${r.text}`);
  const j = JSON.parse(r.text) as { flushLsn: string; commitLsn: string; term: string };
  return { flushLsn: BigInt(j.flushLsn), commitLsn: BigInt(j.commitLsn), term: BigInt(j.term) };
}

/** The expected WAL `[from, to)` from the chunks that wrote it. */
function expectedBytes(chunks: readonly Chunk[], from: bigint, to: bigint): Buffer {
  const parts: Buffer[] = [];
  for (const c of chunks) {
    if (c.end <= from || c.lsn >= to) continue;
    const data = Buffer.from(mtrs(CHUNK_BYTES, c.seed));
    const b = c.lsn < from ? Number(from - c.lsn) : 0;
    const e = c.end > to ? Number(to - c.lsn) : data.length;
    parts.push(data.subarray(b, e));
  }
  const out = Buffer.concat(parts);
  expect(BigInt(out.length)).toBe(to - from);
  return out;
}

describe.skipIf(unavailable !== null)(`[PARTITION] safekeepers in network namespaces${unavailable !== null ? ` (skipped: ${unavailable})` : ''}`, () => {
  beforeAll(async () => {
    dir = await makeTempDir('strata-sk-netns-');
    const secret = 'partition-test-secret-0123456789abcdef';
    const secretFile = join(dir, 'hs256.secret');
    await writeFile(secretFile, secret, { mode: 0o600 });
    token = await new SignJWT({ scope: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('2h').sign(new TextEncoder().encode(secret));
    net = new TestNetwork(`stp${process.pid}`, '10.231.0');
    for (const i of [1, 2, 3]) net.addNode(`s${i}`, i);
    await Promise.all([1, 2, 3].map((i) => startSafekeeper(i, secretFile)));
    // A next to safekeeper 3 (the minority side to be), B next to safekeeper 1.
    [helpers.a, helpers.b] = await Promise.all([startHelper('s3'), startHelper('s1')]);
    for (const i of [1, 2, 3]) {
      const r = await helpers.b.http(`${sk(i)}/v1/tenants/${TENANT}/timelines`, { method: 'POST', json: { timelineId: TIMELINE, startLsn: START_LSN.toString(), conf: { generation: 1, members: [1, 2, 3] } } });
      expect(r.status, r.text).toBe(201);
    }
  }, 180_000);

  afterAll(async () => {
    destroying = true;
    await net?.destroy();
    if (dir) await removeTempDir(dir);
  }, 60_000);

  it('the minority cannot commit, the majority goes on, and after healing all converge with every committed byte intact', async () => {
    const a = helpers.a!;
    const b = helpers.b!;
    await a.call('start', { proposerId: 101, tenantId: TENANT, timelineId: TIMELINE, endpoints: endpoints(), token });
    await until('proposer A elected', async () => a.events.some((e) => e.event === 'elected'), 30_000);
    const aChunks = await a.append(32, 1_000);
    const aCommitted = aChunks.at(-1)!.end;
    expect((await a.wait(aCommitted, 30_000)).committed).toBe(true);

    // Cut safekeeper 3 (and A with it) off from 1 and 2, A still writing.
    net!.cut('s3');
    aChunks.push(...(await a.append(16, 2_000)));
    const minority = await a.wait(aChunks.at(-1)!.end, 5_000);
    expect(minority.committed, 'a proposer with one of three safekeepers must not commit').toBe(false);
    expect(minority.commitLsn).toBeLessThanOrEqual(aChunks[31]!.end);
    // Safekeeper 3 holds A's uncommitted tail, but its commit stays where the quorum's was.
    const s3 = await timelineOf(a, 3);
    expect(s3.commitLsn).toBeLessThanOrEqual(aCommitted);

    // The majority elects B and goes on.
    await b.call('start', { proposerId: 102, tenantId: TENANT, timelineId: TIMELINE, endpoints: endpoints(), token });
    await until('proposer B elected on the majority side', async () => b.events.some((e) => e.event === 'elected'), 30_000);
    const elected = b.events.find((e) => e.event === 'elected')!;
    const epochStart = BigInt(elected.epochStartLsn as string);
    // Leader completeness: B's log holds all that A committed.
    expect(epochStart).toBeGreaterThanOrEqual(aCommitted);
    const bChunks = await b.append(32, 3_000);
    expect((await b.wait(bChunks.at(-1)!.end, 30_000)).committed).toBe(true);

    // Heal under B's writes.
    const writing = (async () => {
      for (let i = 0; i < 8; i++) {
        bChunks.push(...(await b.append(8, 4_000 + i * 8)));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    net!.heal('s3');
    await writing;
    const finalLsn = bChunks.at(-1)!.end;
    const healed = await b.call('wait', { lsn: finalLsn, timeoutMs: 30_000 }, 40_000);
    expect(healed.committed, `B after healing: ${JSON.stringify(healed)}; B's events ${JSON.stringify(b.events.slice(-5))}; A's ${JSON.stringify(a.events.slice(-5))}`).toBe(true);
    await until('proposer A fenced by the higher term', async () => a.events.some((e) => e.event === 'fenced'), 30_000);
    let last = '';
    await until(
      'all three safekeepers at B\'s final commit',
      async () => {
        const ts = await Promise.all([1, 2, 3].map((i) => timelineOf(b, i)));
        last = ts.map((t, i) => `s${i + 1} flush ${t.flushLsn} commit ${t.commitLsn} term ${t.term}`).join('; ');
        return ts.every((t) => t.flushLsn >= finalLsn && t.commitLsn >= finalLsn);
      },
      30_000,
    ).catch(async (e: unknown) => {
      throw new Error(`${String(e)} (final ${finalLsn}: ${last}; B ${JSON.stringify(await b.call('stats'))})`);
    });

    // Every committed byte, on every safekeeper: A's log below B's epoch start, B's after.
    const want = Buffer.concat([expectedBytes(aChunks, START_LSN, epochStart), expectedBytes(bChunks, epochStart, finalLsn)]);
    for (const i of [1, 2, 3]) {
      const r = await b.http(`${tl(i)}/wal?from=${START_LSN}&to=${finalLsn}`, { binary: true });
      expect(r.status).toBe(200);
      const got = Buffer.from(r.text, 'base64');
      expect(got.length, `safekeeper ${i} WAL length`).toBe(want.length);
      expect(got.equals(want), `safekeeper ${i} WAL bytes`).toBe(true);
    }
  }, 240_000);
});
