import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TENANT, TIMELINE, createBody, json, testApp, type TestApp } from '../app.test-util.js';

const base = `/v1/tenants/${TENANT}/timelines`;
const walUrl = (q: string) => `${base}/${TIMELINE}/wal?${q}`;
const data = Uint8Array.from({ length: 3000 }, (_, i) => (i * 13) & 0xff);

describe('WAL read path', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await testApp({ segmentBytes: 1024, limits: { walReadBytes: 1000 } });
    await t.app.request(base, json(createBody({ startLsn: '1000' })));
    const tl = t.deps.timelines.get(TENANT, TIMELINE);
    await tl.appendWal(1000n, data);
    await tl.updateConsensus({ commitLsn: 3500n });
  });
  afterEach(() => t.close());

  it('returns the stored bytes across segments, capped by the commit LSN', async () => {
    const res = await t.app.request(walUrl('from=1500&to=2400'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('x-strata-end-lsn')).toBe('2400');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(data.subarray(500, 1400));

    // Past the commit LSN nothing leaves the safekeeper, even though it is flushed.
    const capped = await t.app.request(walUrl('from=3400&to=4000'));
    expect(capped.headers.get('x-strata-end-lsn')).toBe('3500');
    expect(capped.headers.get('x-strata-commit-lsn')).toBe('3500');
    expect(capped.headers.get('x-strata-flush-lsn')).toBe('4000');
    expect(new Uint8Array(await capped.arrayBuffer())).toEqual(data.subarray(2400, 2500));
  });

  it('caps a response at the read limit; the reader continues from the end header', async () => {
    const res = await t.app.request(walUrl('from=1000'));
    expect(res.headers.get('x-strata-end-lsn')).toBe('2000');
    expect((await res.arrayBuffer()).byteLength).toBe(1000);
  });

  it('long-polls for a commit beyond from', async () => {
    const tl = t.deps.timelines.get(TENANT, TIMELINE);
    const pending = t.app.request(walUrl('from=3500&waitMs=5000'));
    await new Promise((r) => setTimeout(r, 20));
    await tl.updateConsensus({ commitLsn: 3600n });
    const res = await pending;
    expect(res.headers.get('x-strata-end-lsn')).toBe('3600');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(data.subarray(2500, 2600));
    // With nothing new, it answers empty after the wait.
    const empty = await t.app.request(walUrl('from=3600&waitMs=10'));
    expect(empty.headers.get('x-strata-end-lsn')).toBe('3600');
    expect((await empty.arrayBuffer()).byteLength).toBe(0);
  });

  it('rejects bad ranges with typed errors', async () => {
    const below = await t.app.request(walUrl('from=999'));
    expect(below.status).toBe(400);
    expect(((await below.json()) as { code: string }).code).toBe('LSN_OUT_OF_RANGE');
    const inverted = await t.app.request(walUrl('from=2000&to=1500'));
    expect(((await inverted.json()) as { code: string }).code).toBe('LSN_OUT_OF_RANGE');
    const noFrom = await t.app.request(walUrl('to=1500'));
    expect(noFrom.status).toBe(400);
    expect(((await noFrom.json()) as { code: string }).code).toBe('BAD_REQUEST');
    const unknown = await t.app.request(`${base}/00000000000000000000000000000002/wal?from=1000`);
    expect(unknown.status).toBe(404);
  });

  it('counts bytes sent', async () => {
    await t.app.request(walUrl('from=1000&to=1100'));
    expect(t.deps.metrics.walBytesSent.get({ tenant_id: TENANT, timeline_id: TIMELINE })).toBe(100n);
  });

  it('a node the configuration does not name serves no WAL (NOT_A_MEMBER): readers go to the members', async () => {
    const other = await testApp({ nodeId: 9 });
    try {
      await other.app.request(base, json(createBody({ startLsn: '1000', conf: { generation: 3, members: [1, 2, 3] } })));
      const res = await other.app.request(walUrl('from=1000'));
      expect(res.status).toBe(403);
      expect(((await res.json()) as { code: string }).code).toBe('NOT_A_MEMBER');
    } finally {
      await other.close();
    }
  });
});
