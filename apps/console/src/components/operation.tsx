'use client';
import Link from 'next/link';
import { useOperation } from '../data/operations/use-operation';
import { useStartOperation } from '../data/operations/use-start-operation';
import { CancelButton } from './operations/cancel-button';
import { CurrentStep } from './operations/current-step';
import { ErrorBox } from './ui';

/** Follows an operation until it ends, step by step. */
export function OperationProgress({ id }: { id: string }) {
  const q = useOperation(id);
  const op = q.data;
  if (!op) return <ErrorBox error={q.error} />;
  return (
    <div className="card" data-testid="operation" data-status={op.status}>
      <div>
        <b>{op.kind}</b> — <span className={op.status === 'failed' ? 'bad' : op.status === 'finished' ? 'ok' : 'warn'}>{op.status}</span>
        {op.attempt > 1 ? ` (attempt ${op.attempt})` : ''}{' '}
        <Link href={`/operations/${op.id}`} className="hint">details</Link>
      </div>
      <CurrentStep op={op} />
      <CancelButton op={op} />
      <ol className="steps">
        {op.steps.map((s) => (
          <li key={s.position} data-step-status={s.status}>
            {s.status === 'finished' ? '✔' : s.status === 'failed' ? '✘' : s.status === 'cancelled' ? '⊘' : s.status === 'running' ? '…' : '○'} {s.name}
            {s.detail ? <span className="detail">{s.detail}</span> : null}
          </li>
        ))}
      </ol>
      {op.status === 'cancelled' ? (
        // An operator's own request, not trouble: said plainly, not as an alert.
        <div className="card warn" data-testid="operation-cancelled">{op.errorMessage}</div>
      ) : op.errorMessage ? (
        <div className="error" role="alert">
          <code>{op.errorCode}</code>: {op.errorMessage}
        </div>
      ) : null}
    </div>
  );
}

/** An action that starts an operation: `start` it, render `view` (its error, then its progress) where it belongs. */
export function useOperationAction<I>(start: (input: I) => Promise<{ id: string }>) {
  const op = useStartOperation(start);
  return {
    start: op.start,
    pending: op.pending,
    view: (
      <>
        <ErrorBox error={op.error} />
        {op.current ? <OperationProgress key={op.current} id={op.current} /> : null}
      </>
    ),
  };
}
