'use client';
import Link from 'next/link';
import { AdminOnly } from '../../../components/admin-only';
import { LocalTime } from '../../../components/local-time';
import { useOperationAction } from '../../../components/operation';
import { CancelButton } from '../../../components/operations/cancel-button';
import { CurrentStep } from '../../../components/operations/current-step';
import { duration } from '../../../components/operations/duration';
import { StepTimeline } from '../../../components/operations/step-timeline';
import { ValueList } from '../../../components/operations/value-list';
import { ErrorBox } from '../../../components/ui';
import { useOperation } from '../../../data/operations/use-operation';
import { useTRPCClient } from '../../../lib/trpc';

/** One operation: what it acted on, who started it, each step with its progress line and timing, how it ended. */
export function OperationView({ id }: { id: string }) {
  const client = useTRPCClient();
  const q = useOperation(id);
  const retry = useOperationAction((opId: string) => client.operations.retry.mutate({ id: opId }));
  const o = q.data;
  return (
    <>
      <p className="hint"><Link href="/operations">← Operations</Link></p>
      <h1>Operation {o ? o.kind : ''}</h1>
      <ErrorBox error={q.error} />
      {o ? (
        <>
          <div className="card" data-testid="operation-detail" data-status={o.status}>
            <dl className="kv">
              <dt>Target</dt><dd data-testid="operation-target">{o.target ?? '—'}</dd>
              <dt>Status</dt><dd className={o.status === 'failed' ? 'bad' : o.status === 'finished' ? 'ok' : 'warn'} data-testid="operation-status">{o.status}</dd>
              <dt>Started by</dt><dd>{o.actor ?? '—'}</dd>
              <dt>Attempt</dt><dd>{o.attempt}{o.retryOfId ? <> (retry of <Link href={`/operations/${o.retryOfId}`}>an earlier attempt</Link>)</> : null}</dd>
              <dt>Created</dt><dd><LocalTime iso={o.createdAt} /></dd>
              <dt>Started</dt><dd>{o.startedAt ? <LocalTime iso={o.startedAt} /> : '—'}</dd>
              <dt>Finished</dt><dd>{o.finishedAt ? <LocalTime iso={o.finishedAt} /> : '—'}</dd>
              <dt>Took</dt><dd data-testid="operation-duration">{duration(o.startedAt, o.finishedAt)}</dd>
              <dt>Id</dt><dd className="mono">{o.id}</dd>
            </dl>
            <CurrentStep op={o} />
            <CancelButton op={o} />
            {o.status === 'cancelled' ? (
              <div className="card warn" data-testid="operation-cancelled">{o.errorMessage}</div>
            ) : o.errorMessage ? (
              <div className="error" role="alert" data-testid="operation-error">
                <code>{o.errorCode}</code>: {o.errorMessage}
              </div>
            ) : null}
            {o.retryable ? (
              <AdminOnly><button className="secondary" onClick={() => retry.start(o.id)}>retry</button></AdminOnly>
            ) : o.status === 'failed' ? (
              <span className="hint">a retry would fail the same way</span>
            ) : null}
          </div>
          {retry.view}
          <h2>Steps</h2>
          <StepTimeline steps={o.steps} />
          <h2>Input</h2>
          <ValueList value={o.input} testId="operation-input" />
          <h2>Result</h2>
          <ValueList value={o.result} testId="operation-result" />
        </>
      ) : null}
    </>
  );
}
