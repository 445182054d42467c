import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TENANT, TIMELINE, createBody, json, testApp, type TestApp } from '../app.test-util.js';

describe('GET /metrics', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await testApp();
  });
  afterEach(() => t.close());

  it('serves Prometheus text with per-timeline LSNs, fsync histogram and byte counters', async () => {
    await t.app.request(`/v1/tenants/${TENANT}/timelines`, json(createBody({ startLsn: '1000' })));
    const tl = t.deps.timelines.get(TENANT, TIMELINE);
    await tl.appendWal(1000n, new Uint8Array(1500));
    await tl.updateConsensus({ commitLsn: 2000n });
    await tl.readWal(1000n, 2000n);

    const res = await t.app.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    const labels = `{tenant_id="${TENANT}",timeline_id="${TIMELINE}"}`;
    expect(text).toContain(`safekeeper_flush_lsn${labels} 2500\n`);
    expect(text).toContain(`safekeeper_commit_lsn${labels} 2000\n`);
    expect(text).toContain(`safekeeper_wal_bytes_on_disk${labels} 1500\n`);
    // Just appended: read from memory, not from the segment files.
    expect(text).toContain(`safekeeper_wal_tail_cache_reads${labels} 1\n`);
    expect(text).toContain(`safekeeper_wal_file_reads${labels} 0\n`);
    expect(text).toContain(`safekeeper_wal_bytes_received_total${labels} 1500\n`);
    expect(text).toContain('# TYPE safekeeper_wal_fsync_seconds histogram\n');
    expect(text).toContain('safekeeper_wal_fsync_seconds_bucket{le="+Inf"} 1\n');
    expect(text).toContain('safekeeper_wal_fsync_seconds_count 1\n');
    expect(text).toMatch(/safekeeper_http_requests_total\{method="POST",route="\/v1\/tenants\/:tenant\/timelines",status="201"\} 1\n/);

    // Every line is a comment or `name{labels} value`; buckets are cumulative.
    for (const line of text.trimEnd().split('\n')) {
      expect(line).toMatch(/^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\{[^}]*\})? [0-9.e+-]+|[a-z_]+(\{[^}]*\})? \+Inf)$/);
    }
    const buckets = [...text.matchAll(/safekeeper_wal_fsync_seconds_bucket\{le="[^"]+"\} (\d+)/g)].map((m) => Number(m[1]));
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  });
});
