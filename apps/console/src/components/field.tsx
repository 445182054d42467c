'use client';
import { timeZoneLabel } from '../lib/forms';
import { useHydrated } from './hydration';

/** A field's message from the form's own check, shown under the field. */
export function FieldError({ errors, name }: { errors: Record<string, string>; name: string }) {
  const message = errors[name];
  return message ? (
    <span className="field-error" data-field-error={name}>
      {message}
    </span>
  ) : null;
}

/** The zone a `datetime-local` input is read in (the browser's): known only once hydrated. */
export function TimeZoneHint() {
  const hydrated = useHydrated();
  return (
    <span className="hint" data-testid="time-zone">
      {hydrated ? timeZoneLabel() : '…'}
    </span>
  );
}

/**
 * The LSN or time field of a form that points into a branch's history: the
 * LSN with the range it may take, the time with the zone it is read in.
 */
export function PointField(props: {
  mode: string;
  errors: Record<string, string>;
  range: { start: string; head: string | null };
  lsn: string;
  setLsn: (v: string) => void;
  at: string;
  setAt: (v: string) => void;
}) {
  const { mode, errors, range } = props;
  if (mode === 'lsn') {
    return (
      <div className="field">
        <label>
          LSN
          <input name="lsn" inputMode="numeric" value={props.lsn} onChange={(e) => props.setLsn(e.target.value)} />
        </label>
        <span className="hint" data-testid="lsn-range">
          valid: {range.start} – {range.head ?? 'head unknown'}
        </span>
        <FieldError errors={errors} name="lsn" />
      </div>
    );
  }
  if (mode === 'time') {
    return (
      <div className="field">
        <label>
          Time
          <input name="at" type="datetime-local" step="1" value={props.at} onChange={(e) => props.setAt(e.target.value)} />
        </label>
        <TimeZoneHint />
        <FieldError errors={errors} name="at" />
      </div>
    );
  }
  return null;
}
