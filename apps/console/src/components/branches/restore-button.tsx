'use client';
import { useId, useState } from 'react';
import { localInputToIso, pastTime } from '../../lib/inputs';
import { FieldError, TimeZoneHint } from '../field';

/**
 * Restore a branch to a past time: a dialog with a time input that names its zone (a bare ISO prompt
 * left the zone to guess) and says what happens; nothing starts until the time is valid and confirmed.
 */
export function RestoreButton({ branch, onRestore }: { branch: string; onRestore: (atIso: string) => void }) {
  const [open, setOpen] = useState(false);
  const [at, setAt] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const id = useId();
  const submit = () => {
    const iso = localInputToIso(at);
    const r = pastTime().safeParse(iso ?? '');
    if (iso === null || !r.success) {
      setErrors({ at: iso === null ? 'give a time' : (r.error?.issues[0]?.message ?? 'not a time') });
      return;
    }
    setOpen(false);
    onRestore(iso);
  };
  return (
    <>
      <button type="button" className="secondary" onClick={() => { setAt(''); setErrors({}); setOpen(true); }}>restore…</button>
      {open ? (
        <div className="modal-backdrop" onKeyDown={(e) => e.key === 'Escape' && setOpen(false)}>
          <form className="card modal" role="dialog" aria-modal="true" aria-labelledby={`${id}-title`} noValidate onSubmit={(e) => { e.preventDefault(); submit(); }}>
            <h2 id={`${id}-title`}>Restore branch {branch} to a past time?</h2>
            <p>Its current state is kept as a backup branch, its computes are stopped, and {branch} starts again from the time below.</p>
            <div className="field">
              <label>Time<input name="restore-at" type="datetime-local" step="1" value={at} onChange={(e) => setAt(e.target.value)} autoFocus /></label>
              <TimeZoneHint />
              <FieldError errors={errors} name="at" />
            </div>
            <p className="modal-actions">
              <button type="button" className="secondary" onClick={() => setOpen(false)}>Cancel</button>{' '}
              <button type="submit" className="danger">Restore {branch}</button>
            </p>
          </form>
        </div>
      ) : null}
    </>
  );
}
