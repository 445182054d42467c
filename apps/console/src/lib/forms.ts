/**
 * The branch and time-travel forms as schemas: what the operator typed (strings, as the inputs hold
 * them) in, the router's input out, or a message per field. The forms start nothing until these
 * pass; the routers check the same field schemas again (src/lib/inputs.ts).
 */
import { z } from 'zod';
import { branchName, fieldErrors, localInputToIso, lsnInput, pastTime, resourceName } from './inputs';

/** What a form knows of a branch (branches.list). */
export interface BranchRange {
  name: string;
  /** Where it branched from its parent; null for a root branch (it starts at 0). */
  lsn: string | null;
  /** The last LSN the page server ingested; null when the page server did not answer. */
  lastRecordLsn: string | null;
}

/** The LSNs a branch can be read or branched at: from its branch point to its head. */
export function lsnRange(b: BranchRange | undefined): { start: string; head: string | null } {
  return { start: b?.lsn ?? '0', head: b?.lastRecordLsn ?? null };
}

/** Why `lsn` is outside `branch`'s range, or null (unknown head: the server decides). */
export function lsnOutOfRange(lsn: string, branch: string, b: BranchRange | undefined): string | null {
  const { start, head } = lsnRange(b);
  if (BigInt(lsn) < BigInt(start)) return `${branch} starts at LSN ${start}`;
  if (head !== null && BigInt(lsn) > BigInt(head)) return `past the head of ${branch} (LSN ${head}): nothing was written there yet`;
  return null;
}

export type PointMode = 'head' | 'lsn' | 'time';

/** The point-in-time fields both forms share: checked into `lsn` or an ISO `at`. */
function checkPoint(v: { mode: string; lsn: string; at: string }, branch: string, b: BranchRange | undefined, nowMs: () => number, ctx: z.RefinementCtx): { lsn?: string; at?: string } {
  if (v.mode === 'lsn') {
    const r = lsnInput.safeParse(v.lsn.trim());
    if (!r.success) {
      ctx.addIssue({ code: 'custom', path: ['lsn'], message: r.error.issues[0]!.message });
      return {};
    }
    const out = lsnOutOfRange(r.data, branch, b);
    if (out) ctx.addIssue({ code: 'custom', path: ['lsn'], message: out });
    return { lsn: r.data };
  }
  if (v.mode === 'time') {
    if (!v.at) {
      ctx.addIssue({ code: 'custom', path: ['at'], message: 'give a time' });
      return {};
    }
    const iso = localInputToIso(v.at);
    const r = pastTime(nowMs).safeParse(iso ?? '');
    if (iso === null || !r.success) {
      ctx.addIssue({ code: 'custom', path: ['at'], message: iso === null ? 'not a time' : r.error!.issues[0]!.message });
      return {};
    }
    return { at: iso };
  }
  return {};
}

export interface BranchFormValues {
  from: string;
  name: string;
  mode: PointMode | 'snapshot';
  lsn: string;
  /** `datetime-local` text, in the browser's zone. */
  at: string;
  snapshot: string;
}

export type BranchFormResult =
  | { kind: 'branch'; input: { from: string; name: string; lsn?: string; at?: string } }
  | { kind: 'snapshot'; input: { name: string; branch: string } };

export function checkBranchForm(values: BranchFormValues, branches: readonly BranchRange[], nowMs: () => number = Date.now): { ok: true; value: BranchFormResult } | { ok: false; errors: Record<string, string> } {
  let result: BranchFormResult | undefined;
  const schema = z
    .object({ from: z.string(), name: z.string(), mode: z.enum(['head', 'lsn', 'time', 'snapshot']), lsn: z.string(), at: z.string(), snapshot: z.string() })
    // One refinement checks every field, so each gets its message at once (zod skips refinements after a field failed).
    .superRefine((v, ctx) => {
      const name = resourceName.safeParse(v.name);
      if (!name.success) ctx.addIssue({ code: 'custom', path: ['name'], message: name.error.issues[0]!.message });
      if (branches.some((b) => b.name === v.name)) ctx.addIssue({ code: 'custom', path: ['name'], message: `a branch named ${v.name} already exists` });
      if (v.mode === 'snapshot') {
        if (!v.snapshot) ctx.addIssue({ code: 'custom', path: ['snapshot'], message: 'pick a snapshot' });
        result = { kind: 'snapshot', input: { name: v.snapshot, branch: v.name } };
        return;
      }
      const from = branches.find((b) => b.name === v.from);
      if (!branchName.safeParse(v.from).success || !from) ctx.addIssue({ code: 'custom', path: ['from'], message: 'pick the branch to branch from' });
      result = { kind: 'branch', input: { from: v.from, name: v.name, ...checkPoint(v, v.from, from, nowMs, ctx) } };
    });
  const r = schema.safeParse(values);
  return r.success && result ? { ok: true, value: result } : { ok: false, errors: r.success ? { '': 'not checked' } : fieldErrors(r.error) };
}

export interface TimeTravelFormValues {
  branch: string;
  mode: PointMode;
  lsn: string;
  at: string;
  sql: string;
}

export type TimeTravelInput = { branch: string; sql: string; lsn?: string; at?: string };

export function checkTimeTravelForm(values: TimeTravelFormValues, branches: readonly BranchRange[], nowMs: () => number = Date.now): { ok: true; value: TimeTravelInput } | { ok: false; errors: Record<string, string> } {
  let result: TimeTravelInput | undefined;
  const schema = z
    .object({ branch: z.string(), mode: z.enum(['head', 'lsn', 'time']), lsn: z.string(), at: z.string(), sql: z.string() })
    .superRefine((v, ctx) => {
      if (!v.sql.trim()) ctx.addIssue({ code: 'custom', path: ['sql'], message: 'write a query' });
      else if (v.sql.length > 10_000) ctx.addIssue({ code: 'custom', path: ['sql'], message: 'at most 10,000 characters' });
      const b = branches.find((x) => x.name === v.branch);
      if (!b) ctx.addIssue({ code: 'custom', path: ['branch'], message: 'pick a branch' });
      result = { branch: v.branch, sql: v.sql, ...checkPoint(v, v.branch, b, nowMs, ctx) };
    });
  const r = schema.safeParse(values);
  return r.success && result ? { ok: true, value: result } : { ok: false, errors: r.success ? { '': 'not checked' } : fieldErrors(r.error) };
}

/** A time zone and its offset at `date`, e.g. `UTC` or `Europe/Berlin, UTC+01:00` (default: the browser's): shown beside time inputs. */
export function timeZoneLabel(date: Date = new Date(), zone: string = Intl.DateTimeFormat().resolvedOptions().timeZone): string {
  if (zone === 'UTC' || zone === 'Etc/UTC') return 'UTC';
  const name = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' }).formatToParts(date).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  // `GMT+01:00`, or plain `GMT` at offset zero.
  return `${zone}, ${name === 'GMT' ? 'UTC+00:00' : name.replace('GMT', 'UTC')}`;
}
