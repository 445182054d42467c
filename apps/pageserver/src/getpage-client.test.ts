/**
 * The GetPage client against a real page server (startPageserver: the app,
 * the stream on its port, the memory cache) listening on loopback, over a
 * timeline holding a synthetic tablespace: batches over the stream and over
 * HTTP, many batches in flight, the cache across ingest, waits, errors.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type redo } from '@strata/core';
import {
  basebackup,
  branchCreate,
  getPage,
  pageCacheStats,
  PageserverClient,
  PageserverClientError,
  pageserverMetrics,
  pageserverStatus,
  snapshotCreate,
  snapshotDelete,
  snapshotGet,
  snapshotList,
  snapshotRestore,
  timelineCompact,
  timelineDetails,
  timelineGc,
  timelineList,
  waitLsn,
} from '@strata/client';
import { StrataError } from '@strata/core';
import { GetPageStatus, type GetPageItem } from '@strata/core/getpage';
import { memoryLogger } from '@strata/service-kit';
import { loadConfig } from './env.js';
import { startPageserver, type RunningPageserver } from './main.js';
import { LSN, page, PAGE, ROOT, seedTimeline, SPACE, TENANT } from './seed-timeline.test-util.js';


/** One mtr writing `byte` at offset 200 of page `pageNo`. */
function writeMtr(startLsn: bigint, endLsn: bigint, pageNo: number, byte: number): redo.Mtr {
  return { startLsn, endLsn, bytes: new Uint8Array(0), records: [{ type: 'WRITE', spaceId: SPACE, pageNo, offset: 200, data: new Uint8Array([byte]) }] };
}

const okPage = (item: GetPageItem | undefined): Uint8Array => {
  if (item?.status !== GetPageStatus.OK) throw new Error(`not OK: ${JSON.stringify(item, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
  return item.page;
};

describe('PageserverClient over a listening page server', () => {
  let dataDir: string;
  let ps: RunningPageserver;
  let client: PageserverClient;
  const timeline = () => ps.deps.tenants.get(TENANT, ROOT);
  const cache = () => {
    const c = ps.deps.pageCache;
    if (!c) throw new Error('no page cache');
    return c;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'strata-ps-client-'));
    seedTimeline(dataDir);
    // Through the flag parser, so the test keeps up with new settings and their defaults.
    // Nothing listens on port 9: the WAL receiver backs off; the test ingests by hand.
    const config = loadConfig(['--listen', '127.0.0.1:0', '--data', dataDir, '--safekeepers', '127.0.0.1:9', '--page-cache-bytes', String(1 << 20)], {}, dataDir);
    ps = await startPageserver(config, memoryLogger());
    client = await PageserverClient.connect({ url: ps.url, tenantId: TENANT, timelineId: ROOT });
  });
  afterAll(async () => {
    client.close();
    await ps.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers a batch over the stream with a status per page, as over HTTP', async () => {
    expect(client.pageSize).toBe(PAGE);
    const batch = [
      { spaceId: SPACE, pageNo: 1, lsn: LSN },
      { spaceId: SPACE, pageNo: 2, lsn: LSN },
      { spaceId: SPACE, pageNo: 1, lsn: LSN + 10n },
      { spaceId: SPACE, pageNo: 1, lsn: LSN - 1n },
    ];
    const items = await client.getPages(batch);
    expect(items[0]).toEqual({ status: GetPageStatus.OK, lsn: 5001n, page: page(1) });
    expect(items[1]?.status).toBe(GetPageStatus.NOT_FOUND);
    expect(items[2]).toEqual({ status: GetPageStatus.NOT_YET_AVAILABLE, lsn: LSN });
    expect(items[3]?.status).toBe(GetPageStatus.LSN_OUT_OF_RANGE);
    expect(await client.getPagesHttp(batch)).toEqual(items);
  });

  it('keeps many batches in flight on one connection and answers them in order', async () => {
    const calls = Array.from({ length: 200 }, (_, i) => client.getPages([{ spaceId: SPACE, pageNo: [0, 1, 3][i % 3]!, lsn: LSN }]));
    expect(client.inFlight).toBeGreaterThan(1);
    const replies = await Promise.all(calls);
    replies.forEach((items, i) => expect(new DataView(okPage(items[0]).buffer, okPage(items[0]).byteOffset).getUint32(4)).toBe([0, 1, 3][i % 3]));
  });

  it('serves repeated reads from the memory cache and never a cached version after its page changed', async () => {
    const t = timeline();
    const hits0 = cache().hits;
    const before = okPage((await client.getPages([{ spaceId: SPACE, pageNo: 3, lsn: LSN }]))[0]);
    expect(before[200]).toBe(4);
    await client.getPages([{ spaceId: SPACE, pageNo: 3, lsn: LSN }]);
    expect(cache().hits).toBeGreaterThan(hits0);

    // Page 3 changes at [LSN, LSN + 100); page 1 does not.
    t.ingest(writeMtr(LSN, LSN + 100n, 3, 0xab));
    const [after, old, other] = await client.getPages([
      { spaceId: SPACE, pageNo: 3, lsn: LSN + 100n },
      { spaceId: SPACE, pageNo: 3, lsn: LSN },
      { spaceId: SPACE, pageNo: 1, lsn: LSN + 100n },
    ]);
    expect(okPage(after)[200]).toBe(0xab);
    expect(after?.lsn).toBe(LSN + 100n);
    expect(okPage(old)[200]).toBe(4);
    expect(okPage(other)).toEqual(page(1));

    // A second change: the version cached at LSN + 100 (the last record LSN then) must not answer LSN + 200,
    // but is what LSN + 200 is rebuilt from (only the new change is applied to it).
    t.ingest(writeMtr(LSN + 100n, LSN + 200n, 3, 0xcd));
    const bases0 = cache().bases;
    const [newest, middle] = await client.getPages([
      { spaceId: SPACE, pageNo: 3, lsn: LSN + 200n },
      { spaceId: SPACE, pageNo: 3, lsn: LSN + 100n },
    ]);
    expect(okPage(newest)[200]).toBe(0xcd);
    expect(okPage(middle)[200]).toBe(0xab);
    expect(cache().closedByIngest).toBeGreaterThan(0);
    expect(cache().bases).toBeGreaterThan(bases0);
  });

  it('waits for an LSN inside the stream while later batches queue behind it', async () => {
    const t = timeline();
    const end = t.lastRecordLsn;
    const waiting = client.getPages([{ spaceId: SPACE, pageNo: 1, lsn: end + 50n }], { waitMs: 5000 });
    const behind = client.getPages([{ spaceId: SPACE, pageNo: 0, lsn: end }]);
    setTimeout(() => t.ingest(writeMtr(end, end + 50n, 1, 0x11)), 50);
    expect(okPage((await waiting)[0])[200]).toBe(0x11);
    expect(okPage((await behind)[0])).toBeDefined();
  });

  it('refuses a stream of an unknown timeline with its error code', async () => {
    await expect(PageserverClient.connect({ url: ps.url, tenantId: TENANT, timelineId: '9'.repeat(32) })).rejects.toMatchObject({ code: 'TIMELINE_NOT_FOUND' });
    await expect(PageserverClient.connect({ url: ps.url, tenantId: TENANT, timelineId: '9'.repeat(32) })).rejects.toBeInstanceOf(PageserverClientError);
  });

  it('answers an upgrade to another protocol with a typed 400 instead of leaving the socket open (found by the fuzzer)', async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${ps.url}/v1/tenants/${TENANT}/timelines/${ROOT}/getpage/stream`, { headers: { connection: 'Upgrade', upgrade: 'h2c' } });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('upgrade', () => reject(new Error('upgraded to h2c')));
      req.on('error', reject);
      req.setTimeout(5000, () => reject(new Error('no answer to an upgrade to h2c')));
      req.end();
    });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('the HTTP API of the same client: details, one page, waits, a basebackup, and the page server\'s codes on failure', async () => {
    const t = { url: ps.url };
    const details = await timelineDetails(t, TENANT, ROOT);
    expect(details).toMatchObject({ timelineId: ROOT, pageSize: PAGE });
    const end = details.lastRecordLsn;
    expect(await getPage(t, TENANT, ROOT, { spaceId: SPACE, pageNo: 3, lsn: end })).toMatchObject({ status: GetPageStatus.OK });
    expect(await waitLsn(t, TENANT, ROOT, end, 1000)).toBe(end);
    // Not ingested yet is a retryable 503 with its own code, not LSN_OUT_OF_RANGE.
    const notYet = await waitLsn(t, TENANT, ROOT, end + 1n, 50).catch((e: unknown) => e);
    expect(notYet).toBeInstanceOf(StrataError);
    expect(notYet).toMatchObject({ code: 'LSN_NOT_YET_AVAILABLE', httpStatus: 503 });
    await expect(branchCreate(t, TENANT, ROOT, end + 1000n)).rejects.toMatchObject({ code: 'LSN_OUT_OF_RANGE', httpStatus: 400 });
    await expect(timelineDetails({ url: 'http://127.0.0.1:9' }, TENANT, ROOT)).rejects.toMatchObject({ code: 'CONNECTION_FAILED' });

    const out = join(dataDir, 'bb');
    const bb = await basebackup(t, TENANT, ROOT, out, { lsn: end });
    expect(bb.lsn).toBe(end);
    expect(bb.files).toBeGreaterThan(0);
    expect(readdirSync(out)).toContain('ib_logfile0');
    expect(existsSync(`${out}.partial-${process.pid}`)).toBe(false);
    const full = join(dataDir, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'x'), 'x');
    await expect(basebackup(t, TENANT, ROOT, full)).rejects.toMatchObject({ code: 'OUT_NOT_EMPTY' });
  });

  it('snapshots through the same client: create, list, get, restore as a timeline, delete; an unknown one keeps its code', async () => {
    const t = { url: ps.url };
    const at = (await timelineDetails(t, TENANT, ROOT)).lastRecordLsn;
    const snap = await snapshotCreate(t, TENANT, 'before-change', ROOT, at);
    expect(snap).toMatchObject({ name: 'before-change', timelineId: ROOT, lsn: String(at) });
    expect((await snapshotList(t, TENANT)).map((s) => s.name)).toContain('before-change');
    expect(await snapshotGet(t, TENANT, 'before-change')).toEqual(snap);
    const restored = await snapshotRestore(t, TENANT, 'before-change');
    expect((await timelineDetails(t, TENANT, restored.timelineId)).initLsn).toBe(at);
    await snapshotDelete(t, TENANT, 'before-change');
    await expect(snapshotGet(t, TENANT, 'before-change')).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND', httpStatus: 404 });
  });

  it('shows the memory tier and the stages in /metrics', async () => {
    const text = await (await fetch(`${ps.url}/metrics`)).text();
    expect(text).toMatch(/pageserver_page_cache_hits_total\{tier="memory"\} [1-9]/);
    expect(text).toMatch(/pageserver_getpage_seconds_count\{stage="lookup"\} [1-9]/);
    expect(text).toMatch(/pageserver_getpage_seconds_count\{stage="reconstruct"\} [1-9]/);
    // What reconstructions walked, and the part of their time blocked on layer files.
    expect(text).toMatch(/pageserver_getpage_seconds_count\{stage="layer_io"\} [1-9]/);
    expect(text).toMatch(/pageserver_getpage_layers_visited_count [1-9]/);
    expect(text).toMatch(/pageserver_getpage_tier_pages_total\{tier="memory"\} [1-9]/);
    const stats = (await (await fetch(`${ps.url}/v1/page_cache`)).json()) as { hits: number; capacityBytes: number };
    expect(stats.capacityBytes).toBe(1 << 20);
  });

  it('the console\'s calls through the same client: status, timeline list, page cache, metrics, compaction, GC', async () => {
    const t = { url: ps.url };
    const status = await pageserverStatus(t);
    expect(status).toMatchObject({ service: 'pageserver', tenants: 1, remoteStorage: null });
    expect(status.localLayerBytes).toBeGreaterThan(0);

    // The list holds each timeline as its details do: the root, and the timeline restored from a snapshot above.
    const list = await timelineList(t, TENANT);
    const root = list.find((x) => x.timelineId === ROOT);
    const details = await timelineDetails(t, TENANT, ROOT);
    expect(root).toMatchObject({ tenantId: TENANT, ancestor: null, initLsn: details.initLsn, lastRecordLsn: details.lastRecordLsn, layers: details.layers, remote: null, lastErrors: [] });
    expect(list.find((x) => x.timelineId !== ROOT)?.ancestor?.timelineId).toBe(ROOT);

    const cache = await pageCacheStats(t);
    expect(cache.capacityBytes).toBe(1 << 20);
    expect(cache.hits).toBeGreaterThan(0);
    expect(await pageserverMetrics(t)).toMatch(/^pageserver_page_cache_hits_total\{tier="memory"\} [1-9]/m);

    const compacted = await timelineCompact(t, TENANT, ROOT, true);
    expect(compacted.layers).toBe(timeline().layers.length);
    expect(compacted.imageLsn === null || compacted.imageLsn <= timeline().lastRecordLsn).toBe(true);
    const gc = await timelineGc(t, TENANT, ROOT, { horizonLsn: LSN });
    expect(gc.horizon).toBe(LSN);
    expect(gc.layersAfter).toBeLessThanOrEqual(gc.layersBefore);
    await expect(timelineGc(t, TENANT, '9'.repeat(32))).rejects.toMatchObject({ code: 'TIMELINE_NOT_FOUND', httpStatus: 404 });
    await expect(timelineGc(t, TENANT, ROOT, { pitrMs: 1, horizonLsn: LSN })).rejects.toMatchObject({ httpStatus: 400 });
  });
});
