import { describe, expect, it } from 'vitest';
import { checkBranchForm, checkTimeTravelForm, timeZoneLabel, type BranchFormValues } from './forms';
import { branchName, lsnInput, pastTime } from './inputs';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const now = () => NOW;
const branches = [
  { name: 'main', lsn: null, lastRecordLsn: '5000' },
  { name: 'dev', lsn: '3000', lastRecordLsn: '4000' },
];
const blank: BranchFormValues = { from: 'main', name: 'feature', mode: 'head', lsn: '', at: '', snapshot: '' };
const errorsOf = (r: { ok: true } | { ok: false; errors: Record<string, string> }) => (r.ok ? {} : r.errors);

describe('input schemas say what is wrong in words', () => {
  it('names: empty, too long (one message), bad characters', () => {
    expect(branchName.safeParse('').error?.issues.map((i) => i.message)).toEqual(['give a name']);
    expect(branchName.safeParse('x'.repeat(3000)).error?.issues.map((i) => i.message)).toEqual(['at most 63 characters']);
    expect(branchName.safeParse('a b').error?.issues[0]?.message).toBe('use letters, digits, _ . and -, starting with a letter or digit');
    expect(branchName.safeParse('dev-1.2_x').success).toBe(true);
  });

  it('an LSN is a number below 2^64, and the message shows no regex', () => {
    const msg = lsnInput.safeParse('abc').error?.issues[0]?.message;
    expect(msg).toBe('an LSN is a whole number of at most 64 bits, like 21474836');
    expect(lsnInput.safeParse('18446744073709551616').success).toBe(false);
    expect(lsnInput.safeParse('').error?.issues.map((i) => i.message)).toEqual(['give an LSN']);
  });

  it('a future time is refused with the latest time there is data', () => {
    const r = pastTime(now).safeParse('2026-03-01T12:00:05.000Z');
    expect(r.error?.issues[0]?.message).toBe('2026-03-01T12:00:05.000Z is in the future: the latest data is at 2026-03-01T12:00:00.000Z');
    expect(pastTime(now).safeParse('2026-03-01T11:59:59.000Z').success).toBe(true);
    expect(pastTime(now).safeParse('').error?.issues.map((i) => i.message)).toEqual(['give a time']);
  });
});

describe('the branch form starts nothing until every field is valid', () => {
  it('reports every bad field at once', () => {
    expect(errorsOf(checkBranchForm({ ...blank, name: '', mode: 'lsn', lsn: 'abc' }, branches, now))).toEqual({ name: 'give a name', lsn: 'an LSN is a whole number of at most 64 bits, like 21474836' });
  });

  it('an existing name, an empty time, a future time, no snapshot picked', () => {
    expect(errorsOf(checkBranchForm({ ...blank, name: 'dev' }, branches, now))).toEqual({ name: 'a branch named dev already exists' });
    expect(errorsOf(checkBranchForm({ ...blank, mode: 'time', at: '' }, branches, now))).toEqual({ at: 'give a time' });
    expect(errorsOf(checkBranchForm({ ...blank, mode: 'time', at: '2026-03-02T00:00:00Z' }, branches, now)).at).toMatch(/is in the future: the latest data is at 2026-03-01T12:00:00.000Z$/);
    expect(errorsOf(checkBranchForm({ ...blank, mode: 'snapshot' }, branches, now))).toEqual({ snapshot: 'pick a snapshot' });
  });

  it('an LSN outside the branch: past its head, or before it branched', () => {
    expect(errorsOf(checkBranchForm({ ...blank, mode: 'lsn', lsn: '5001' }, branches, now))).toEqual({ lsn: 'past the head of main (LSN 5000): nothing was written there yet' });
    expect(errorsOf(checkBranchForm({ ...blank, from: 'dev', mode: 'lsn', lsn: '2999' }, branches, now))).toEqual({ lsn: 'dev starts at LSN 3000' });
  });

  it('valid forms become the router inputs', () => {
    expect(checkBranchForm({ ...blank, mode: 'lsn', lsn: ' 4500 ' }, branches, now)).toEqual({ ok: true, value: { kind: 'branch', input: { from: 'main', name: 'feature', lsn: '4500' } } });
    expect(checkBranchForm({ ...blank, mode: 'time', at: '2026-03-01T11:00:00Z' }, branches, now)).toEqual({ ok: true, value: { kind: 'branch', input: { from: 'main', name: 'feature', at: '2026-03-01T11:00:00.000Z' } } });
    expect(checkBranchForm({ ...blank, mode: 'snapshot', snapshot: 's1', lsn: 'ignored' }, branches, now)).toEqual({ ok: true, value: { kind: 'snapshot', input: { name: 's1', branch: 'feature' } } });
    expect(checkBranchForm(blank, branches, now)).toEqual({ ok: true, value: { kind: 'branch', input: { from: 'main', name: 'feature' } } });
  });
});

describe('the time-travel form', () => {
  const base = { branch: 'main', mode: 'time' as const, lsn: '', at: '', sql: 'SELECT 1' };
  it('an empty time is not "head": it asks for a time; head is its own choice', () => {
    expect(errorsOf(checkTimeTravelForm(base, branches, now))).toEqual({ at: 'give a time' });
    expect(checkTimeTravelForm({ ...base, mode: 'head', at: '2099-01-01T00:00' }, branches, now)).toEqual({ ok: true, value: { branch: 'main', sql: 'SELECT 1' } });
  });
  it('a future time, an LSN past head, an empty query', () => {
    expect(errorsOf(checkTimeTravelForm({ ...base, at: '2099-01-01T00:00:00Z', sql: ' ' }, branches, now))).toEqual({ at: expect.stringContaining('is in the future'), sql: 'write a query' });
    expect(errorsOf(checkTimeTravelForm({ ...base, mode: 'lsn', lsn: '9999999' }, branches, now))).toEqual({ lsn: 'past the head of main (LSN 5000): nothing was written there yet' });
  });
});

describe('time zone label', () => {
  it('names the zone and its offset', () => {
    expect(timeZoneLabel(new Date(NOW), 'UTC')).toBe('UTC');
    expect(timeZoneLabel(new Date(NOW), 'Europe/Berlin')).toBe('Europe/Berlin, UTC+01:00');
    expect(timeZoneLabel(new Date(NOW), 'America/New_York')).toBe('America/New_York, UTC-05:00');
    expect(timeZoneLabel(new Date(NOW), 'Europe/London')).toBe('Europe/London, UTC+00:00');
  });
});
