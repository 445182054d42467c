import { readdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TENANT, TIMELINE, createBody, json, testApp, type TestApp } from '../app.test-util.js';

const base = `/v1/tenants/${TENANT}/timelines`;
const START = 1000n;

/** Source WAL: 5000 bytes, a different value at every offset so misplaced bytes show. */
const WAL = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff);

describe('pulling a timeline from a peer', () => {
  let source: TestApp;
  let dest: TestApp;
  let server: ServerType;
  let sourceUrl: string;

  beforeEach(async () => {
    source = await testApp();
    dest = await testApp();
    expect((await source.app.request(base, json(createBody()))).status).toBe(201);
    const t = source.deps.timelines.get(TENANT, TIMELINE);
    await t.appendWal(START, WAL);
    // An acceptor in a joint configuration that adopted term 3's history and
    // knows a commit below its flush LSN: the pull must copy the uncommitted tail too.
    await t.updateConsensus({
      term: 4n,
      termHistory: [
        { term: 2n, lsn: START },
        { term: 3n, lsn: START + 3000n },
      ],
      conf: { generation: 2, members: [1, 2, 3], newMembers: [1, 2, 4] },
      commitLsn: START + 4000n,
    });
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: source.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
    });
    sourceUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await source.close();
    await dest.close();
  });

  it('copies the consensus state and the WAL up to the flush LSN, atomically and durably', async () => {
    const res = await dest.app.request(`${base}/${TIMELINE}/pull`, json({ from: sourceUrl }));
    expect(res.status).toBe(201);
    const body = (await res.json()) as { pulled: boolean; status: Record<string, unknown> };
    expect(body.pulled).toBe(true);
    expect(body.status).toMatchObject({
      term: '4',
      termHistory: [
        { term: '2', lsn: '1000' },
        { term: '3', lsn: '4000' },
      ],
      conf: { generation: 2, members: [1, 2, 3], newMembers: [1, 2, 4] },
      timelineStartLsn: '1000',
      flushLsn: '6000',
      commitLsn: '5000',
    });
    // Survives a restart, bytes included.
    dest = await dest.restart();
    const wal = await dest.app.request(`${base}/${TIMELINE}/snapshot/wal?from=1000`);
    expect(wal.headers.get('x-strata-end-lsn')).toBe('6000');
    expect(Buffer.from(await wal.arrayBuffer()).equals(Buffer.from(WAL))).toBe(true);
    // The ordinary read path still stops at the commit LSN.
    const committed = await dest.app.request(`${base}/${TIMELINE}/wal?from=1000`);
    expect(committed.headers.get('x-strata-end-lsn')).toBe('5000');
  });

  it('is idempotent: pulling a timeline that is already here changes nothing', async () => {
    expect((await dest.app.request(`${base}/${TIMELINE}/pull`, json({ from: sourceUrl }))).status).toBe(201);
    await source.deps.timelines.get(TENANT, TIMELINE).appendWal(START + 5000n, new Uint8Array(10));
    const again = await dest.app.request(`${base}/${TIMELINE}/pull`, json({ from: sourceUrl }));
    expect(again.status).toBe(200);
    const body = (await again.json()) as { pulled: boolean; status: { flushLsn: string } };
    expect(body.pulled).toBe(false);
    expect(body.status.flushLsn).toBe('6000');
  });

  it('fails with PEER_FAILED and leaves nothing behind when the source is down or lacks the timeline', async () => {
    const down = await dest.app.request(`${base}/${TIMELINE}/pull`, json({ from: 'http://127.0.0.1:1' }));
    expect(down.status).toBe(502);
    expect(((await down.json()) as { code: string }).code).toBe('PEER_FAILED');
    const other = '00000000000000000000000000000002';
    const missing = await dest.app.request(`${base}/${other}/pull`, json({ from: sourceUrl }));
    expect(missing.status).toBe(502);
    expect(((await missing.json()) as { message: string }).message).toMatch(/HTTP 404/);
    expect((await dest.app.request(`${base}/${TIMELINE}`)).status).toBe(404);
    expect(await readdir(join(dest.dataDir, 'tenants', TENANT, 'timelines')).catch(() => [])).toEqual([]);
  });

  it('refuses bad input with BAD_REQUEST', async () => {
    for (const body of [{}, { from: 'not a url' }, { from: 'ftp://x' }, { from: sourceUrl, extra: 1 }]) {
      const res = await dest.app.request(`${base}/${TIMELINE}/pull`, json(body));
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
  });

  it('snapshot/wal serves up to the flush LSN and refuses ranges outside the stored WAL', async () => {
    const ok = await source.app.request(`${base}/${TIMELINE}/snapshot/wal?from=5500&to=9999`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-strata-end-lsn')).toBe('6000');
    expect((await ok.arrayBuffer()).byteLength).toBe(500);
    expect((await source.app.request(`${base}/${TIMELINE}/snapshot/wal?from=999`)).status).toBe(400);
    expect((await source.app.request(`${base}/${TIMELINE}/snapshot/wal?from=6001`)).status).toBe(400);
  });
});
