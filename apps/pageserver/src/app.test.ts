/**
 * The page server app over a real data directory: a synthetic tablespace
 * stored as an image layer, served through the admin API, GetPage and
 * basebackup; branches, deletes, restarts, auth and bad input.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeAuxSet } from '@strata/core';
import { createVerifier, memoryLogger, type TokenVerifier } from '@strata/service-kit';
import { createApp } from './app.js';
import { decodeGetPageResponse, encodeGetPageRequests, GetPageStatus, type GetPageRequest } from '@strata/core/getpage';
import { TarParser } from '@strata/datadir';
import type { PageserverDeps } from './deps.js';
import { PageserverMetrics } from './metrics.js';
import { TenantManager } from './tenant-manager.js';

import { LSN, OTHER, page, PAGE, PAGES, ROOT, seedTimeline, SPACE, TENANT } from './seed-timeline.test-util.js';

function build(dataDir: string, verifier: TokenVerifier | null = null) {
  const tenants = TenantManager.open({ dataDir, log: memoryLogger() });
  const deps: PageserverDeps = { version: 'test', tenants, metrics: new PageserverMetrics(), verifier, log: memoryLogger() };
  return { app: createApp(deps), tenants };
}

const base = `/v1/tenants/${TENANT}/timelines`;
const post = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('page server app', () => {
  let dataDir: string;
  let t: ReturnType<typeof build>;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'strata-ps-app-'));
    seedTimeline(dataDir);
    t = build(dataDir);
  });
  afterAll(() => {
    t.tenants.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function getpage(path: string, reqs: GetPageRequest[]) {
    const res = await t.app.request(`${path}/getpage`, { method: 'POST', body: encodeGetPageRequests(reqs) as Uint8Array<ArrayBuffer> });
    expect(res.status).toBe(200);
    return decodeGetPageResponse(new Uint8Array(await res.arrayBuffer()), reqs.length, Number(res.headers.get('x-strata-page-size')));
  }

  it('lists tenants and timelines with their LSNs and layers', async () => {
    expect(await (await t.app.request('/v1/tenants')).json()).toEqual({ tenants: [{ tenantId: TENANT, timelines: 1 }] });
    const info = (await (await t.app.request(`${base}/${ROOT}`)).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ timelineId: ROOT, ancestor: null, initLsn: String(LSN), lastRecordLsn: String(LSN), diskConsistentLsn: String(LSN), layers: 1, children: [] });
    expect(info['layerBytes']).toBeGreaterThan(3 * PAGE);
    expect((await t.app.request(`/v1/tenants/${OTHER}/timelines`)).status).toBe(404);
    expect((await (await t.app.request(`${base}/${'9'.repeat(32)}`)).json()) as { code: string }).toMatchObject({ code: 'TIMELINE_NOT_FOUND' });
    const layers = (await (await t.app.request(`${base}/${ROOT}/layers`)).json()) as { layers: Array<Record<string, unknown>> };
    expect(layers.layers).toHaveLength(1);
    expect(layers.layers[0]).toMatchObject({ kind: 'image', lsnStart: String(LSN), local: true, uploaded: false });
    expect(layers.layers[0]!['sizeBytes']).toBeGreaterThan(3 * PAGE);
  });

  it('GetPage answers a batch with a status per page', async () => {
    const items = await getpage(`${base}/${ROOT}`, [
      { spaceId: SPACE, pageNo: 1, lsn: LSN },
      { spaceId: SPACE, pageNo: 2, lsn: LSN },
      { spaceId: SPACE, pageNo: 1, lsn: LSN + 10n },
      { spaceId: SPACE, pageNo: 1, lsn: LSN - 1n },
    ]);
    expect(items[0]).toEqual({ status: GetPageStatus.OK, lsn: 5001n, page: page(1) });
    expect(items[1]?.status).toBe(GetPageStatus.NOT_FOUND);
    expect(items[2]).toEqual({ status: GetPageStatus.NOT_YET_AVAILABLE, lsn: LSN });
    expect(items[3]?.status).toBe(GetPageStatus.LSN_OUT_OF_RANGE);
  });

  it('GetPage refuses malformed batches with a typed error', async () => {
    const res = await t.app.request(`${base}/${ROOT}/getpage`, { method: 'POST', body: new Uint8Array(15) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe('CORRUPT_FRAME');
    expect((await t.app.request(`${base}/${ROOT}/getpage?waitMs=abc`, { method: 'POST', body: new Uint8Array(16) })).status).toBe(400);
  });

  it('wait_lsn returns at once for an ingested LSN and answers 503 after its timeout', async () => {
    expect((await t.app.request(`${base}/${ROOT}/wait_lsn?lsn=${LSN}`)).status).toBe(200);
    const res = await t.app.request(`${base}/${ROOT}/wait_lsn?lsn=${LSN + 1n}&timeoutMs=50`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { code: string }).code).toBe('LSN_NOT_YET_AVAILABLE');
  });

  it('basebackup streams a tar that GNU tar reads: the tablespace at the LSN (zeros where unwritten) and a fresh log', async () => {
    const res = await t.app.request(`${base}/${ROOT}/basebackup`);
    expect(res.status).toBe(200);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes.length).toBe(Number(res.headers.get('x-strata-basebackup-bytes')));
    expect(res.headers.get('x-strata-lsn')).toBe(String(LSN));
    const files = new Map<string, Uint8Array>();
    let cur = new Uint8Array(0);
    const p = new TarParser({ entry: (e) => void (cur = new Uint8Array(e.size)), data: (b, o) => cur.set(b, o), end: (e) => void files.set(e.path, cur) });
    p.push(bytes);
    expect(p.finished).toBe(true);
    expect([...files.keys()]).toEqual(['db/t.ibd', 'ib_logfile0']);
    const ibd = files.get('db/t.ibd')!;
    expect(ibd.length).toBe(PAGES * PAGE);
    expect(Buffer.from(ibd.subarray(PAGE, 2 * PAGE)).equals(Buffer.from(page(1)))).toBe(true);
    expect(ibd.subarray(2 * PAGE, 3 * PAGE).every((b) => b === 0)).toBe(true);
    expect(files.get('ib_logfile0')!.length).toBe(4 << 20);
    const tarFile = join(dataDir, 'bb.tar');
    writeFileSync(tarFile, bytes);
    expect(execFileSync('tar', ['-tf', tarFile], { encoding: 'utf8' }).trim().split('\n')).toEqual(['db/t.ibd', 'ib_logfile0']);
  });

  it('stores an aux set sent as frames and serves it in basebackups; refuses paths, tablespaces and traversal', async () => {
    const url = `${base}/${ROOT}/aux`;
    const frm = new Uint8Array([0xfe, 1, 9, 3]);
    const body = (files: { path: string; data: Uint8Array }[]) => encodeAuxSet(files) as Uint8Array<ArrayBuffer>;
    const bin = (b: Uint8Array<ArrayBuffer>): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: b });
    // A path on the page server's own disk is not a way to send files.
    expect((await t.app.request(url, post({ lsn: String(LSN), datadir: '/etc' }))).status).toBe(400);
    expect((await t.app.request(`${url}?lsn=${LSN}`, bin(body([{ path: 'db/t.ibd', data: frm }])))).status).toBe(400);
    const evil = body([{ path: 'aa/t.frm', data: frm }]);
    evil.set(new TextEncoder().encode('../t.frm'), 10);
    const refused = await t.app.request(`${url}?lsn=${LSN}`, bin(evil));
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ code: 'CORRUPT_FRAME' });
    const ok = await t.app.request(`${url}?lsn=${LSN}`, bin(body([{ path: 'db/t.frm', data: frm }, { path: 'db/db.opt', data: new Uint8Array([65]) }])));
    expect(ok.status).toBe(201);
    expect(await ok.json()).toMatchObject({ files: 2 });
    const res = await t.app.request(`${base}/${ROOT}/basebackup`);
    const files = new Map<string, Uint8Array>();
    let cur = new Uint8Array(0);
    const p = new TarParser({ entry: (e) => void (cur = new Uint8Array(e.size)), data: (b, o) => cur.set(b, o), end: (e) => void files.set(e.path, cur) });
    p.push(new Uint8Array(await res.arrayBuffer()));
    expect([...files.keys()].sort()).toEqual(['db/db.opt', 'db/t.frm', 'db/t.ibd', 'ib_logfile0']);
    expect([...files.get('db/t.frm')!]).toEqual([...frm]);
  });

  it('refuses an empty aux set (400); basebackups and aux reads of the timeline keep working (found by the fuzzer)', async () => {
    const empty = await t.app.request(`${base}/${ROOT}/aux?lsn=${LSN}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: encodeAuxSet([]) as Uint8Array<ArrayBuffer> });
    expect(empty.status).toBe(400);
    expect(await empty.json()).toMatchObject({ code: 'BAD_REQUEST' });
    const bb = await t.app.request(`${base}/${ROOT}/basebackup`);
    expect(bb.status).toBe(200);
    await bb.arrayBuffer();
    expect((await t.app.request(`${base}/${ROOT}/aux?lsn=${LSN}`)).status).toBe(200);
  });

  it('admin triggers and status: compaction and GC over HTTP answer with their counts and byte sizes; /v1/status describes the server', async () => {
    const status = await t.app.request('/v1/status');
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ service: 'pageserver', version: 'test', tenants: 1, timelines: 1, auth: 'none', remoteStorage: null, diskBudgetBytes: null, localLayerBytes: expect.any(Number) });
    const compact = await t.app.request(`${base}/${ROOT}/compact?force=true`, { method: 'POST' });
    expect(compact.status).toBe(200);
    expect(await compact.json()).toMatchObject({ layers: expect.any(Number), durationMs: expect.any(Number) });
    const gc = await t.app.request(`${base}/${ROOT}/gc`, post({ horizonLsn: String(LSN) }));
    expect(gc.status).toBe(200);
    const g = (await gc.json()) as Record<string, unknown>;
    expect(g).toMatchObject({ horizon: String(LSN), layersBefore: expect.any(Number), layersAfter: expect.any(Number), bytesBefore: expect.any(Number), bytesAfter: expect.any(Number) });
    expect(g['bytesAfter']).toBeLessThanOrEqual(g['bytesBefore'] as number);
    expect((await t.app.request(`${base}/${ROOT}/gc`, post({ pitrMs: 1, horizonLsn: '1' }))).status).toBe(400);
    // The image layer at LSN is what the horizon needs: pages still read.
    expect((await getpage(`${base}/${ROOT}`, [{ spaceId: SPACE, pageNo: 1, lsn: LSN }]))[0]?.status).toBe(GetPageStatus.OK);
  });

  it('branches in O(1), reads through to the ancestor, refuses bad LSNs, survives a restart, and deletes children first', async () => {
    const child = '00000000000000000000000000000002';
    expect((await t.app.request(`${base}/${ROOT}/branch`, post({ lsn: String(LSN + 1n) }))).status).toBe(400);
    expect((await t.app.request(`${base}/${ROOT}/branch`, post({ lsn: String(LSN - 1n) }))).status).toBe(400);
    const res = await t.app.request(`${base}/${ROOT}/branch`, post({ lsn: String(LSN), newTimelineId: child }));
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ timelineId: child, ancestor: { timelineId: ROOT, lsn: String(LSN) }, initLsn: String(LSN), layers: 0 });
    expect((await t.app.request(`${base}/${ROOT}/branch`, post({ lsn: String(LSN), newTimelineId: child }))).status).toBe(409);
    const [viaChild] = await getpage(`${base}/${child}`, [{ spaceId: SPACE, pageNo: 3, lsn: LSN }]);
    expect(viaChild).toEqual({ status: GetPageStatus.OK, lsn: LSN, page: page(3) });

    // A restart loads the branch after its ancestor and wires it to it.
    t.tenants.close();
    t = build(dataDir);
    const [again] = await getpage(`${base}/${child}`, [{ spaceId: SPACE, pageNo: 3, lsn: LSN }]);
    expect(again?.status).toBe(GetPageStatus.OK);

    const refused = await t.app.request(`${base}/${ROOT}`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { code: string }).code).toBe('TIMELINE_HAS_CHILDREN');
    expect((await t.app.request(`${base}/${child}`, { method: 'DELETE' })).status).toBe(200);
    expect((await t.app.request(`${base}/${child}`)).status).toBe(404);
  });

  it('validates import input', async () => {
    expect((await t.app.request('/v1/tenants/import', post({ datadir: 'relative/path' }))).status).toBe(400);
    const missing = await t.app.request('/v1/tenants/import', post({ datadir: '/nonexistent/datadir' }));
    expect(((await missing.json()) as { code: string }).code).toBe('INVALID_DATADIR');
    const taken = await t.app.request(`/v1/tenants/${TENANT}/import`, post({ datadir: dataDir }));
    expect(taken.status).toBe(400); // no ib_logfile0 there; a tenant with timelines would be 409
  });

  it('with a key: tenant tokens read their own tenant only and cannot administer', async () => {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA');
    const token = (claims: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA' }).setExpirationTime('1h').sign(privateKey);
    const secured = build(dataDir, createVerifier(publicKey, 'EdDSA'));
    try {
      const auth = (tok: string) => ({ headers: { authorization: `Bearer ${tok}` } });
      expect((await secured.app.request(`${base}/${ROOT}`)).status).toBe(401);
      const mine = await token({ scope: 'tenant', tenant_id: TENANT });
      const other = await token({ scope: 'tenant', tenant_id: OTHER });
      expect((await secured.app.request(`${base}/${ROOT}`, auth(mine))).status).toBe(200);
      expect((await secured.app.request(`${base}/${ROOT}`, auth(other))).status).toBe(403);
      expect((await secured.app.request('/v1/tenants', auth(mine))).status).toBe(403);
      expect((await secured.app.request('/v1/tenants', auth(await token({ scope: 'pageserverapi' })))).status).toBe(200);
    } finally {
      secured.tenants.close();
    }
  });

  it('exposes Prometheus metrics', async () => {
    const text = await (await t.app.request('/metrics')).text();
    expect(text).toContain('pageserver_getpage_batch_size_bucket');
    expect(text).toMatch(new RegExp(`pageserver_last_record_lsn\\{tenant_id="${TENANT}",timeline_id="${ROOT}"\\} ${LSN}`));
    // Without remote storage the remote-consistent LSN is the disk-consistent one, and nothing is queued.
    expect(text).toMatch(new RegExp(`pageserver_remote_consistent_lsn\\{tenant_id="${TENANT}",timeline_id="${ROOT}"\\} ${LSN}`));
    expect(text).toMatch(new RegExp(`pageserver_remote_upload_queue\\{tenant_id="${TENANT}",timeline_id="${ROOT}"\\} 0`));
    // One family per measure across the tiers: pages served from local layers so far, their bytes, nothing remote.
    const tier = (family: string, name: string): number => Number(new RegExp(`^pageserver_tier_${family}\\{tier="${name}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? -1);
    expect(tier('hits_total', 'local')).toBeGreaterThan(0);
    expect(tier('bytes', 'local')).toBeGreaterThan(0);
    expect(tier('bytes', 'remote')).toBe(0);
    for (const f of ['misses_total', 'evictions_total', 'promotions_total']) expect(tier(f, 'local')).toBeGreaterThanOrEqual(0);
  });
});

describe('page server app: tenant delete', () => {
  it('deletes a tenant with its whole branch tree and its directory; a second delete is TENANT_NOT_FOUND', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'strata-ps-tenant-del-'));
    seedTimeline(dataDir);
    const t = build(dataDir);
    try {
      const child = await t.app.request(`${base}/${ROOT}/branch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lsn: String(LSN) }) });
      expect(child.status).toBe(201);
      // A parent alone cannot go; the tenant delete takes the children first.
      expect((await t.app.request(`${base}/${ROOT}`, { method: 'DELETE' })).status).toBe(409);
      const del = await t.app.request(`/v1/tenants/${TENANT}`, { method: 'DELETE' });
      expect(del.status).toBe(200);
      expect(await del.json()).toEqual({ tenantId: TENANT, timelinesDeleted: 2 });
      expect(await (await t.app.request('/v1/tenants')).json()).toEqual({ tenants: [] });
      expect(existsSync(join(dataDir, 'tenants', TENANT))).toBe(false);
      const again = await t.app.request(`/v1/tenants/${TENANT}`, { method: 'DELETE' });
      expect(again.status).toBe(404);
      expect(((await again.json()) as { code: string }).code).toBe('TENANT_NOT_FOUND');
    } finally {
      t.tenants.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
