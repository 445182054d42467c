/**
 * `strata status` adds one line per page server problem under a branch, and
 * nothing when the timeline is healthy or the page server is too old to say.
 */
import { describe, expect, it } from 'vitest';
import { degradedMemberLines, pageserverProblemLines, type PageserverTimelineStatus } from './status.js';

const healthyRemote = {
  queued: 0,
  pendingBytes: 0,
  oldestPendingAgeMs: 0,
  consecutiveFailures: 0,
  backoffMs: 0,
  lastError: null,
  lastErrorAt: null,
  remoteConsistentLsn: 241489070n,
  lagBytes: 0n,
};

describe('pageserverProblemLines', () => {
  it('prints nothing for a healthy timeline, nor for a page server without the fields', () => {
    expect(pageserverProblemLines('main', { remote: healthyRemote, lastErrors: [] })).toEqual([]);
    expect(pageserverProblemLines('main', {})).toEqual([]);
    // A resolved error is history, not a problem.
    const resolved = { kind: 'compaction', count: 1, code: 'MAINTENANCE_FAILED', message: 'old', at: '2024-01-01T00:00:00.000Z', resolvedAt: '2024-01-01T00:01:00.000Z' };
    expect(pageserverProblemLines('main', { remote: null, lastErrors: [resolved] })).toEqual([]);
  });

  it('prints each failing kind with its real message and time, and a failing upload with its backlog', () => {
    const t: PageserverTimelineStatus = {
      remote: {
        ...healthyRemote,
        queued: 3,
        pendingBytes: 12_345_678,
        oldestPendingAgeMs: 42_000,
        consecutiveFailures: 5,
        backoffMs: 1600,
        lastError: 'remote storage put "tenants/x/index.json" failed: We encountered an internal error.',
        lastErrorAt: '2024-05-01T10:00:02.000Z',
        lagBytes: 204265727n,
      },
      lastErrors: [
        { kind: 'compaction', count: 1, code: 'MAINTENANCE_FAILED', message: 'compaction of timeline t failed: RangeError: Maximum call stack size exceeded', at: '2024-05-01T10:00:00.000Z', resolvedAt: null },
        { kind: 'upload', count: 5, code: 'S3_ERROR', message: 'superseded by the queue state', at: '2024-05-01T10:00:02.000Z', resolvedAt: null },
        { kind: 'basebackup', count: 2, code: 'BASEBACKUP_FAILED', message: 'basebackup of timeline t at LSN 241489070 failed: RangeError: Maximum call stack size exceeded', at: '2024-05-01T10:00:01.000Z', resolvedAt: null },
      ],
    };
    expect(pageserverProblemLines('main', t)).toEqual([
      '  pageserver error timeline main compaction: compaction of timeline t failed: RangeError: Maximum call stack size exceeded (at 2024-05-01T10:00:00.000Z)',
      '  pageserver error timeline main basebackup: basebackup of timeline t at LSN 241489070 failed: RangeError: Maximum call stack size exceeded (at 2024-05-01T10:00:01.000Z)',
      '  pageserver error timeline main upload: remote storage put "tenants/x/index.json" failed: We encountered an internal error. (at 2024-05-01T10:00:02.000Z; 5 failures in a row, next retry in 1600 ms)',
      '  pageserver upload backlog timeline main: 3 tasks, 12345678 bytes, oldest 42 s; remote-consistent 241489070 lags ingest by 204265727 bytes',
    ]);
  });

  it('prints an upload backlog that is old even while no attempt fails (uploads not keeping up)', () => {
    const t: PageserverTimelineStatus = { remote: { ...healthyRemote, queued: 40, pendingBytes: 1 << 30, oldestPendingAgeMs: 90_000, lagBytes: 1000n }, lastErrors: [] };
    expect(pageserverProblemLines('dev', t)).toEqual(['  pageserver upload backlog timeline dev: 40 tasks, 1073741824 bytes, oldest 90 s; remote-consistent 241489070 lags ingest by 1000 bytes']);
  });
});

describe('degradedMemberLines', () => {
  const conf = { generation: 1, members: [1, 2, 3] };
  it('names a member without the timeline and one that lost it; says nothing of non-members or when nobody has it', () => {
    expect(degradedMemberLines(conf, [{ id: 3, reply: 'HTTP 404' }, { id: 2, reply: 'HTTP 410' }, { id: 4, reply: 'HTTP 404' }])).toEqual([
      '  safekeeper 3: DEGRADED member of generation 1 without the timeline (missed its creation; a proposer asks it to join when it connects)',
      '  safekeeper 2: DEGRADED lost the timeline (held it, its directory is gone; it must not rejoin empty: replace it with `strata safekeeper membership`)',
    ]);
    expect(degradedMemberLines(null, [{ id: 3, reply: 'HTTP 404' }])).toEqual([]);
  });
});
