/**
 * What an operator types, checked by one set of zod schemas: the forms check them before anything
 * starts (each field gets its message in plain words), and the routers check them again. Node-free,
 * so the browser bundles it.
 */
import { hexId as coreHexId, lsnDecimal } from '@strata/core/json';
import { z } from 'zod';

export const NAME_CHARS_MAX = 63;

/** A branch, snapshot or tenant name: also a CLI argument and part of compute names. */
export const resourceName = z
  .string()
  .min(1, 'give a name')
  .max(NAME_CHARS_MAX, `at most ${NAME_CHARS_MAX} characters`)
  // Only checked on names of a valid length: a 3,000-character name needs one message, not two.
  .refine((s) => s.length === 0 || s.length > NAME_CHARS_MAX || /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(s), 'use letters, digits, _ . and -, starting with a letter or digit');
export const branchName = resourceName;
export const snapshotName = resourceName;

/** A decimal LSN as typed: the message says what an LSN looks like instead of quoting a regex. */
export const lsnInput = z
  .string()
  .min(1, 'give an LSN')
  .refine((s) => s.length === 0 || lsnDecimal.safeParse(s).success, 'an LSN is a whole number of at most 64 bits, like 21474836');

/** An ISO 8601 time (the browser's local input converted with toISOString). */
export const isoTime = z
  .string()
  .min(1, 'give a time')
  .refine((s) => s.length === 0 || !Number.isNaN(Date.parse(s)), 'not a time');

/**
 * A point in the past: a future time has no data yet (it used to run silently at head).
 * `nowMs` is read at each check, so the schema is built once.
 */
export function pastTime(nowMs: () => number = Date.now) {
  return isoTime.superRefine((s, ctx) => {
    const t = Date.parse(s);
    if (Number.isNaN(t)) return;
    const now = nowMs();
    if (t > now) ctx.addIssue({ code: 'custom', message: `${new Date(t).toISOString()} is in the future: the latest data is at ${new Date(now).toISOString()}` });
  });
}
export const pastIsoTime = pastTime();

export const hexId = coreHexId;

/** `datetime-local` text (the browser's zone) as an ISO time, or null when it is empty or not a time. */
export function localInputToIso(value: string): string | null {
  if (!value) return null;
  const t = new Date(value).getTime();
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

/** The first message for each field of a failed parse, keyed by the field's path ('' for the whole input). */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of error.issues) {
    const key = issue.path.map(String).join('.');
    if (!(key in out)) out[key] = issue.message;
  }
  return out;
}

/** Field messages as one line for an error box: `name: give a name; lsn: …`. */
export function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues.map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message)).join('; ');
}
