import { describe, expect, it } from 'vitest';
import { isRetryable, operationTarget } from './operation-info';

describe('retry only what a retry could fix', () => {
  it('a conflict, an invalid input or a missing thing would fail the same way again', () => {
    for (const code of ['CONFLICT', 'INVALID', 'NOT_FOUND', 'LSN_OUT_OF_RANGE', 'TIMELINE_NOT_FOUND', 'BRANCH_EXISTS']) expect(isRetryable('branch.create', code), code).toBe(false);
  });
  it('a service that was down, slow or failing inside may answer next time', () => {
    for (const code of ['SERVICE_UNREACHABLE', 'SERVICE_ERROR', 'CLI_FAILED', 'INTERNAL', 'MAINTENANCE_FAILED', 'BASEBACKUP_FAILED']) expect(isRetryable('pageserver.compact', code), code).toBe(true);
  });
  it('a time-travel query answers its caller: the log cannot re-run it', () => {
    expect(isRetryable('timetravel.query', 'SERVICE_UNREACHABLE')).toBe(false);
  });
});

describe('the target column tells rows of one kind apart', () => {
  it('names what each kind acted on', () => {
    expect(operationTarget('branch.create', { from: 'main', name: 'dev' })).toBe('branch dev from main at head');
    expect(operationTarget('branch.create', { from: 'main', name: 'old', lsn: '123' })).toBe('branch old from main at LSN 123');
    expect(operationTarget('branch.create', { from: 'dev', name: 'then', at: '2026-01-01T00:00:00.000Z' })).toBe('branch then from dev at 2026-01-01T00:00:00.000Z');
    expect(operationTarget('branch.restore', { name: 'dev', backupName: 'dev-backup-x', at: '2026-01-01T00:00:00.000Z' })).toBe('branch dev to 2026-01-01T00:00:00.000Z (backup dev-backup-x)');
    expect(operationTarget('compute.start', { branch: 'main', readOnly: false })).toBe('branch main');
    expect(operationTarget('compute.start', { branch: 'main', readOnly: true, lsn: '9' })).toBe('branch main, read-only at LSN 9');
    expect(operationTarget('compute.stop', { name: 'main-ro-9' })).toBe('compute main-ro-9');
    expect(operationTarget('safekeepers.membership', { timelineId: 'ab'.repeat(16), members: [2, 3, 4] })).toBe('timeline abababab → [2,3,4]');
    expect(operationTarget('pageserver.compact', { timelineId: 'cd'.repeat(16), force: false })).toBe('timeline cdcdcdcd');
    expect(operationTarget('timetravel.query', { branch: 'main', at: '2026-01-01T00:00:00.000Z', sql: 'SELECT 1' })).toBe('branch main at 2026-01-01T00:00:00.000Z');
    expect(operationTarget('safekeepers.add', {})).toBeNull();
  });
});
