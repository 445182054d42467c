'use client';
import { timeZoneLabel } from '../lib/forms';
import { useHydrated } from './hydration';
import { Lsn } from './ui';

export interface AsOfData {
  mode: 'time' | 'lsn' | 'head';
  lsn: string | null;
  at: string | null;
}

/** The point a time-travel query read: the LSN it resolved to and the time it stands for, in the browser's zone (named). */
export function AsOf({ asOf }: { asOf: AsOfData }) {
  const hydrated = useHydrated();
  const time = asOf.at === null ? null : hydrated ? `${new Date(asOf.at).toLocaleString()} (${timeZoneLabel(new Date(asOf.at))})` : asOf.at;
  return (
    <p data-testid="as-of">
      As of LSN <span data-testid="as-of-lsn"><Lsn value={asOf.lsn} /></span>
      {asOf.mode === 'time' ? <> · the last commit at or before <time dateTime={asOf.at ?? undefined} data-testid="as-of-time">{time}</time></> : null}
      {asOf.mode === 'head' ? <> · head when the query started, <time dateTime={asOf.at ?? undefined} data-testid="as-of-time">{time}</time></> : null}
      {asOf.mode === 'lsn' ? <span className="hint"> · the LSN given (no time is recorded for an LSN)</span> : null}
    </p>
  );
}
