'use client';
import { useId, useState, type ReactNode } from 'react';

/**
 * A destructive action behind a dialog that names what will be lost: the button only opens it, and
 * nothing is sent until the operator confirms. Cancel is focused, so Enter does not destroy.
 */
export function ConfirmButton({ label, title, children, confirmLabel, onConfirm, disabled }: { label: string; title: string; children: ReactNode; confirmLabel: string; onConfirm: () => void; disabled?: boolean }) {
  const [open, setOpen] = useState(false);
  const id = useId();
  return (
    <>
      <button type="button" className="secondary" disabled={disabled} onClick={() => setOpen(true)}>
        {label}
      </button>
      {open ? (
        <div className="modal-backdrop" onKeyDown={(e) => e.key === 'Escape' && setOpen(false)}>
          <div className="card modal" role="dialog" aria-modal="true" aria-labelledby={`${id}-title`} aria-describedby={`${id}-body`}>
            <h2 id={`${id}-title`}>{title}</h2>
            <div id={`${id}-body`}>{children}</div>
            <p className="modal-actions">
              <button type="button" className="secondary" autoFocus onClick={() => setOpen(false)}>
                Cancel
              </button>{' '}
              <button
                type="button"
                className="danger"
                onClick={() => {
                  setOpen(false);
                  onConfirm();
                }}
              >
                {confirmLabel}
              </button>
            </p>
          </div>
        </div>
      ) : null}
    </>
  );
}
