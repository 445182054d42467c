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
