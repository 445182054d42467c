import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TENANT, TIMELINE, createBody, json, testApp, type TestApp } from '../app.test-util.js';

const base = `/v1/tenants/${TENANT}/timelines`;
const joinBody = (createdAt = '2026-01-02T00:00:00.000Z', members = [1, 2, 3]) => ({
  startLsn: '1000',
  conf: { generation: 1, members },
  timelineCreatedAt: createdAt,
});

// The test app's data directory is dated 2026-01-01 (app.test-util.ts).
describe('a member that missed the timeline joins; one that lost it does not', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await testApp();
  });
  afterEach(() => t.close());

  it('a member that never held the timeline joins as a fresh acceptor, and joining again changes nothing', async () => {
    const r = await t.app.request(`${base}/${TIMELINE}/join`, json(joinBody()));
    expect(r.status).toBe(201);
    expect(await r.json()).toMatchObject({ term: '0', flushLsn: '1000', conf: { generation: 1, members: [1, 2, 3] } });
    expect((await t.app.request(`${base}/${TIMELINE}/join`, json(joinBody()))).status).toBe(200);
  });

  it('a data directory younger than the timeline is refused (it may be a replaced disk)', async () => {
    const r = await t.app.request(`${base}/${TIMELINE}/join`, json(joinBody('2025-12-31T00:00:00.000Z')));
    expect(r.status).toBe(409);
    expect(await r.json()).toMatchObject({ code: 'JOIN_REFUSED' });
    expect((await t.app.request(`${base}/${TIMELINE}`)).status).toBe(404);
  });

  it('a start LSN near 2^64, an empty or repeated member list, or unknown members are refused before anything is recorded', async () => {
    for (const body of [
      { ...joinBody(), startLsn: '18446744073709551615' },
      { ...joinBody(), startLsn: '4611686018427387904' },
      joinBody(undefined, []),
      joinBody(undefined, [1, 2, 2]),
      joinBody(undefined, [0, 1, 2]),
    ]) {
      const r = await t.app.request(`${base}/${TIMELINE}/join`, json(body));
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(await r.json()).toMatchObject({ code: 'BAD_REQUEST' });
    }
    await t.close();
    t = await testApp({ peers: new Map([[2, 'http://127.0.0.1:7702'], [3, 'http://127.0.0.1:7703']]) });
    const unknown = await t.app.request(`${base}/${TIMELINE}/join`, json(joinBody(undefined, [1, 2, 7])));
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ code: 'UNKNOWN_MEMBER' });
    expect(t.deps.ledger?.has(TENANT, TIMELINE)).toBe(false);
    expect((await t.app.request(`${base}/${TIMELINE}`)).status).toBe(404);
  });

  it('a node outside the configuration is refused', async () => {
    const r = await t.app.request(`${base}/${TIMELINE}/join`, json(joinBody(undefined, [2, 3, 4])));
    expect(r.status).toBe(409);
  });

  it('a timeline whose directory was lost is TIMELINE_LOST after a restart: no status, no consensus, no create, no join', async () => {
    expect((await t.app.request(base, json(createBody()))).status).toBe(201);
    await rm(join(t.dataDir, 'tenants', TENANT, 'timelines', TIMELINE), { recursive: true });
    t = await t.restart();
    for (const r of [
      await t.app.request(`${base}/${TIMELINE}`),
      await t.app.request(base, json(createBody())),
      await t.app.request(`${base}/${TIMELINE}/join`, json(joinBody())),
      await t.app.request(`${base}/${TIMELINE}/consensus`, { method: 'POST', body: new Uint8Array(), headers: { 'content-type': 'application/octet-stream' } }),
    ]) {
      expect(r.status).toBe(410);
      expect(await r.json()).toMatchObject({ code: 'TIMELINE_LOST' });
    }
    const status = (await (await t.app.request('/v1/status')).json()) as { lostTimelines: unknown };
    expect(status.lostTimelines).toEqual([{ tenantId: TENANT, timelineId: TIMELINE }]);
  });

  it('an explicit delete forgets the timeline: it may be created again', async () => {
    expect((await t.app.request(base, json(createBody()))).status).toBe(201);
    expect((await t.app.request(`${base}/${TIMELINE}`, { method: 'DELETE' })).status).toBe(200);
    t = await t.restart();
    expect((await t.app.request(base, json(createBody()))).status).toBe(201);
  });
});
