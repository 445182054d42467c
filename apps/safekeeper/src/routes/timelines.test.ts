import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TENANT, TIMELINE, createBody, json, testApp, type TestApp } from '../app.test-util.js';

const base = `/v1/tenants/${TENANT}/timelines`;

describe('timelines admin API', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await testApp();
  });
  afterEach(() => t.close());

  it('creates, lists, shows and deletes a timeline', async () => {
    const created = await t.app.request(base, json(createBody()));
    expect(created.status).toBe(201);
    const status = await created.json();
    expect(status).toEqual({
      tenantId: TENANT,
      timelineId: TIMELINE,
      nodeId: 1,
      term: '0',
      termHistory: [],
      conf: { generation: 1, members: [1, 2, 3] },
      timelineStartLsn: '1000',
      oldestLsn: '1000',
      flushLsn: '1000',
      commitLsn: '1000',
      backupLsn: '1000',
      remoteConsistentLsn: '1000',
      peerHorizonLsn: '1000',
      walBytesOnDisk: 0,
      createdAt: '2026-01-02T03:04:05.000Z',
      pageSize: 16384,
    });
    // Creating again with the same parameters is not an error.
    expect((await t.app.request(base, json(createBody()))).status).toBe(200);

    const list = await t.app.request(base);
    expect(list.status).toBe(200);
    expect(((await list.json()) as { timelines: unknown[] }).timelines).toEqual([status]);

    const one = await t.app.request(`${base}/${TIMELINE}`);
    expect(await one.json()).toEqual(status);

    const st = await t.app.request('/v1/status');
    expect(await st.json()).toEqual({ nodeId: 1, version: 'test', timelines: 1, auth: 'none', remoteStorage: null, lostTimelines: [] });

    const del = await t.app.request(`${base}/${TIMELINE}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect((await t.app.request(`${base}/${TIMELINE}`)).status).toBe(404);
  });

  it('keeps the page size appends are parsed at across a restart, and refuses one InnoDB cannot have', async () => {
    expect((await t.app.request(base, json({ ...createBody(), pageSize: 12345 }))).status).toBe(400);
    expect((await t.app.request(base, json({ ...createBody(), pageSize: 4096 }))).status).toBe(201);
    t = await t.restart();
    expect(t.deps.timelines.get(TENANT, TIMELINE).pageSize).toBe(4096);
    expect(((await (await t.app.request(`${base}/${TIMELINE}`)).json()) as { pageSize: number }).pageSize).toBe(4096);
  });

  it('status survives a restart, read from the control file', async () => {
    // The highest start LSN the API takes (bounds.ts): 2^62 − 1000, past any JavaScript number.
    expect((await t.app.request(base, json(createBody({ startLsn: '4611686018427386904' })))).status).toBe(201);
    await t.deps.timelines.get(TENANT, TIMELINE).appendWal(4611686018427386904n, new Uint8Array(100));
    t = await t.restart();
    const body = (await (await t.app.request(`${base}/${TIMELINE}`)).json()) as { flushLsn: string; walBytesOnDisk: number };
    expect(body.flushLsn).toBe('4611686018427387004');
    expect(body.walBytesOnDisk).toBe(100);
  });

  it('answers typed errors with code, message and requestId', async () => {
    const missing = await t.app.request(`${base}/${TIMELINE}`);
    expect(missing.status).toBe(404);
    const body = (await missing.json()) as { code: string; message: string; requestId: string };
    expect(body.code).toBe('TIMELINE_NOT_FOUND');
    expect(body.message).toContain(TIMELINE);
    expect(body.requestId).toBe(missing.headers.get('x-request-id'));

    await t.app.request(base, json(createBody()));
    const conflict = await t.app.request(base, json(createBody({ startLsn: '2000' })));
    expect(conflict.status).toBe(409);
    expect(((await conflict.json()) as { code: string }).code).toBe('TIMELINE_EXISTS');

    expect((await t.app.request('/v1/nothing')).status).toBe(404);
  });

  it.each([
    ['a bad tenant id', '/v1/tenants/XYZ/timelines', createBody(), /tenant: must be 32 lowercase hex/],
    ['a bad LSN', base, createBody({ startLsn: '-5' }), /startLsn: must be a decimal LSN/],
    ['an LSN as a number', base, createBody({ startLsn: 1000 }), /startLsn/],
    ['no members', base, createBody({ conf: { generation: 1, members: [] } }), /conf.members/],
    ['duplicate members', base, createBody({ conf: { generation: 1, members: [1, 1] } }), /listed twice/],
    ['duplicate new members', base, createBody({ conf: { generation: 1, members: [1, 2, 3], newMembers: [4, 4] } }), /conf.newMembers: a node is listed twice/],
    ['an empty new member list', base, createBody({ conf: { generation: 1, members: [1, 2, 3], newMembers: [] } }), /conf.newMembers/],
    ['node ID 0', base, createBody({ conf: { generation: 1, members: [0, 1, 2] } }), /node IDs start at 1/],
    ['a node ID beyond u32', base, createBody({ conf: { generation: 1, members: [1, 2, 2 ** 32] } }), /u32/],
    ['a generation of 2^31', base, createBody({ conf: { generation: 2 ** 31, members: [1, 2, 3] } }), /generation must be below 2\^31/],
    ['start LSN 2^64 − 1', base, createBody({ startLsn: '18446744073709551615' }), /startLsn: must be below 2\^62/],
    ['start LSN 2^62', base, createBody({ startLsn: '4611686018427387904' }), /startLsn: must be below 2\^62/],
    ['an unknown field', base, { ...createBody(), extra: true }, /Unrecognized key/],
  ])('rejects %s with 400 BAD_REQUEST', async (_name, path, body, message) => {
    const res = await t.app.request(path, json(body));
    expect(res.status).toBe(400);
    const reply = (await res.json()) as { code: string; message: string };
    expect(reply.code).toBe('BAD_REQUEST');
    expect(reply.message).toMatch(message);
    expect(t.deps.timelines.size).toBe(0);
  });

  it('refuses members this safekeeper does not know (itself and --peers) with UNKNOWN_MEMBER, creating nothing', async () => {
    await t.close();
    t = await testApp({ peers: new Map([[2, 'http://127.0.0.1:7702'], [3, 'http://127.0.0.1:7703']]) });
    for (const conf of [{ generation: 1, members: [1, 2, 9] }, { generation: 1, members: [1, 2, 3], newMembers: [1, 2, 9] }]) {
      const res = await t.app.request(base, json(createBody({ conf })));
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'UNKNOWN_MEMBER', message: expect.stringMatching(/node 9 unknown .* known nodes: 1, 2, 3/) });
    }
    expect(t.deps.timelines.size).toBe(0);
    expect(t.deps.ledger?.has(TENANT, TIMELINE)).toBe(false);
    expect((await t.app.request(base, json(createBody()))).status).toBe(201);
  });

  it('rejects malformed JSON and a wrong content type', async () => {
    const bad = await t.app.request(base, { method: 'POST', body: '{"timelineId":', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe('BAD_REQUEST');
    const text = await t.app.request(base, { method: 'POST', body: JSON.stringify(createBody()), headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(400);
  });

  it('rejects an oversize body with 413 and stores nothing', async () => {
    const big = createBody({ pad: 'x'.repeat(70 * 1024) });
    const res = await t.app.request(base, json(big));
    expect(res.status).toBe(413);
    expect(((await res.json()) as { code: string }).code).toBe('PAYLOAD_TOO_LARGE');
    // Without a content-length (chunked), the limit holds too.
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 80; i++) c.enqueue(new Uint8Array(1024).fill(0x20));
        c.close();
      },
    });
    const chunked = await t.app.request(base, {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(t.deps.timelines.size).toBe(0);
  });
});
