import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TimelineDetails, timelineList } from '@strata/client/pageserver-api';
import { branchHref, diskBudgetAlert, fencedComputeAlert, LAG_BYTES_ALERT, lagAlerts, timelineAlerts } from './alerts';
import { callClient } from './http';

describe('disk budget alert', () => {
  it('warns above 90% of the budget, is critical at or over it, and says nothing without a budget', () => {
    expect(diskBudgetAlert({ diskBudgetBytes: null, localLayerBytes: 10 << 30 })).toBeUndefined();
    expect(diskBudgetAlert({ diskBudgetBytes: 1000, localLayerBytes: 900 })).toBeUndefined();
    expect(diskBudgetAlert({ diskBudgetBytes: 1000, localLayerBytes: 950 })).toEqual({ severity: 'warning', message: 'page server disk is 95% of its budget (950 of 1000 bytes of layers held locally)', href: '/pageservers' });
    expect(diskBudgetAlert({ diskBudgetBytes: 1000, localLayerBytes: 1200 })?.severity).toBe('critical');
    expect(diskBudgetAlert({})).toBeUndefined();
  });
});

describe('page server background failures are alerts with their real message', () => {
  // A timeline as the page server's GET /v1/tenants/:t/timelines returns it (timeline-health.ts there).
  const reply = {
    tenantId: 'ab'.repeat(16),
    timelineId: 'cd'.repeat(16),
    ancestor: null,
    initLsn: '0',
    lastRecordLsn: '900000000',
    diskConsistentLsn: '800000000',
    pageSize: 16384,
    layers: 12,
    layerBytes: 1 << 20,
    openLayerBytes: 0,
    children: [],
    walReceiver: null,
    remote: {
      queued: 3,
      pendingFiles: 3,
      pendingBytes: 3 << 20,
      oldestPendingAgeMs: 42_000,
      consecutiveFailures: 4,
      failures: 9,
      backoffMs: 800,
      lastError: 'PUT layer: 503 SlowDown',
      lastErrorCode: 'S3_ERROR',
      lastErrorAt: '2026-03-01T12:01:00.000Z',
      lastSuccessAt: null,
      remoteConsistentLsn: '800000000',
      lagBytes: '100000000',
    },
    lastErrors: [
      { kind: 'basebackup', count: 3, code: 'BASEBACKUP_FAILED', message: 'Maximum call stack size exceeded', at: '2026-03-01T12:00:00.000Z', resolvedAt: null },
      { kind: 'compaction', count: 2, code: 'MAINTENANCE_FAILED', message: 'layer 000…: short read', at: '2026-03-01T11:00:00.000Z', resolvedAt: null },
      { kind: 'gc', count: 1, code: 'MAINTENANCE_FAILED', message: 'old news', at: '2026-03-01T10:00:00.000Z', resolvedAt: '2026-03-01T10:05:00.000Z' },
      { kind: 'upload', count: 9, code: 'S3_ERROR', message: 'PUT layer: 503 SlowDown', at: '2026-03-01T12:01:00.000Z', resolvedAt: null },
    ],
  };

  // The reply served on loopback, read the way the cluster view reads it (callClient, the page server client).
  let server: Server;
  let read: TimelineDetails;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ timelines: [reply] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const target = { label: 'pageserver', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: undefined };
    const timelines = await callClient(target, 'timeline list', (t) => timelineList(t, reply.tenantId, { timeoutMs: 2_000 }));
    expect(timelines).toHaveLength(1);
    read = timelines[0]!;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('the console reads them from the reply (a null WAL receiver included)', () => {
    expect(read.walReceiver).toBeNull();
    expect(read.lastErrors).toHaveLength(4);
    expect(read.remote?.consecutiveFailures).toBe(4);
    expect(read.remote?.lagBytes).toBe(100000000n);
  });

  it("a branch alert links to that branch's page; a timeline no branch names, to the page servers", () => {
    expect(branchHref('main')).toBe('/branches/main');
    expect(branchHref('a b')).toBe('/branches/a%20b');
    expect(branchHref(undefined)).toBe('/pageservers');
  });

  it('failing basebackups and uploads are critical, compaction a warning, resolved ones silent; remote lag warns', () => {
    expect(timelineAlerts('main', read, branchHref('main'))).toEqual([
      { severity: 'critical', message: 'branch main: page server basebackup failing (BASEBACKUP_FAILED, 3 times, last at 2026-03-01T12:00:00.000Z): Maximum call stack size exceeded', href: '/branches/main' },
      { severity: 'warning', message: 'branch main: page server compaction failing (MAINTENANCE_FAILED, 2 times, last at 2026-03-01T11:00:00.000Z): layer 000…: short read', href: '/branches/main' },
      { severity: 'critical', message: 'branch main: page server upload failing (S3_ERROR, 9 times, last at 2026-03-01T12:01:00.000Z): PUT layer: 503 SlowDown', href: '/branches/main' },
      { severity: 'warning', message: 'branch main: remote storage is 100000000 bytes behind ingest', href: '/branches/main' },
    ]);
  });

  it('a healthy timeline, or a page server that reports no health, raises nothing', () => {
    expect(timelineAlerts('main', { lastErrors: [], remote: { consecutiveFailures: 0, lagBytes: 0n, lastError: null } }, '/branches/main')).toEqual([]);
    expect(timelineAlerts('main', {}, '/branches/main')).toEqual([]);
  });
});

describe('[ALERTS][LAG] ingest and upload lag past the threshold', () => {
  const over = LAG_BYTES_ALERT + 1n;
  it('ingest behind the safekeepers and an upload backlog each warn, linking to the branch', () => {
    expect(lagAlerts('dev', { commitLsn: 2n * over, lastRecordLsn: over, diskConsistentLsn: 0n }, '/branches/dev')).toEqual([
      { severity: 'warning', message: `branch dev: page server ingest is ${over} bytes behind the safekeepers`, href: '/branches/dev' },
      { severity: 'warning', message: `branch dev: ${over} bytes not yet in a layer file (upload backlog)`, href: '/branches/dev' },
    ]);
  });
  it('at the threshold, or with no commit known yet, nothing', () => {
    expect(lagAlerts('dev', { commitLsn: 2n * LAG_BYTES_ALERT, lastRecordLsn: LAG_BYTES_ALERT, diskConsistentLsn: 0n }, '/branches/dev')).toEqual([]);
    expect(lagAlerts('dev', { commitLsn: 0n, lastRecordLsn: 5n, diskConsistentLsn: 5n }, '/branches/dev')).toEqual([]);
  });
});

describe('fenced compute alert', () => {
  const rec = { name: 'main', timelineId: 'cd'.repeat(16), message: 'another compute took timeline', at: '2026-12-07T21:00:00.000Z' };
  it('names the branch and links to its page; a timeline no branch names falls back to the page servers', () => {
    expect(fencedComputeAlert(rec, 'main')).toEqual({
      severity: 'warning',
      message: 'compute main on branch main was fenced by a newer compute at 2026-12-07T21:00:00.000Z: another compute took timeline',
      href: '/branches/main',
      acknowledgeCompute: 'main',
    });
    expect(fencedComputeAlert(rec, undefined).href).toBe('/pageservers');
  });
});
