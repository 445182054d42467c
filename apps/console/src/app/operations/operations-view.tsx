'use client';
import Link from 'next/link';
import { AdminOnly } from '../../components/admin-only';
import { LocalTime } from '../../components/local-time';
import { useOperationAction } from '../../components/operation';
import { ErrorBox } from '../../components/ui';
import { useOperations } from '../../data/operations/use-operations';
import { useTRPCClient } from '../../lib/trpc';

export function OperationsView() {
  const client = useTRPCClient();
  const q = useOperations();
  const retry = useOperationAction((id: string) => client.operations.retry.mutate({ id }));
  return (
    <>
      <h1>Operations</h1>
      <ErrorBox error={q.error} />
      {retry.view}
      <AdminOnly>
      <table data-testid="operations">
        <thead><tr><th>When</th><th>Kind</th><th>Target</th><th>Status</th><th>Actor</th><th>Steps</th><th>Duration</th><th>Error</th><th /></tr></thead>
        <tbody>
          {(q.data ?? []).map((o) => (
            <tr key={o.id} data-status={o.status}>
              <td><LocalTime iso={o.createdAt} /></td>
              <td><Link href={`/operations/${o.id}`}>{o.kind}</Link>{o.attempt > 1 ? ` (attempt ${o.attempt})` : ''}</td>
              <td data-testid="target">{o.target ?? '—'}</td>
              <td className={o.status === 'failed' ? 'bad' : o.status === 'finished' ? 'ok' : 'warn'}>{o.status}</td>
              <td>{o.actor ?? '—'}</td>
              <td>{o.steps.filter((s) => s.status === 'finished').length}/{o.steps.length}</td>
              <td>{o.startedAt && o.finishedAt ? `${Date.parse(o.finishedAt) - Date.parse(o.startedAt)} ms` : '—'}</td>
              <td>{o.errorCode ? <><code>{o.errorCode}</code> {o.errorMessage}</> : null}</td>
              <td>
                {o.retryable ? <button className="secondary" onClick={() => retry.start(o.id)}>retry</button> : null}
                {o.status === 'failed' && !o.retryable ? <span className="hint">a retry would fail the same way</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      </AdminOnly>
    </>
  );
}
