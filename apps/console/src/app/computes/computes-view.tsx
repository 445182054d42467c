'use client';
import { useState } from 'react';
import { AdminOnly } from '../../components/admin-only';
import { ConnectionPanel } from '../../components/computes/connection-panel';
import { ConfirmButton } from '../../components/confirm';
import { useOperationAction } from '../../components/operation';
import { ErrorBox, Lsn } from '../../components/ui';
import { useBranches } from '../../data/branches/use-branches';
import { useComputes } from '../../data/computes/use-computes';
import { parseConnection, urlWithoutPassword } from '../../lib/connection';
import { useTRPCClient } from '../../lib/trpc';

/** The table shows where a compute is; its password only ever appears in a panel, once revealed. */
function shownUrl(url: string | null): string {
  const c = url ? parseConnection(url) : null;
  return c ? urlWithoutPassword(c) : (url ?? '—');
}

export function ComputesView() {
  const client = useTRPCClient();
  const computes = useComputes();
  const branches = useBranches();
  const [branch, setBranch] = useState('main');
  const [readOnly, setReadOnly] = useState(false);
  const [lsn, setLsn] = useState('');
  const op = useOperationAction((a: { kind: 'start' } | { kind: 'stop'; name: string }) =>
    a.kind === 'start' ? client.computes.start.mutate({ branch, readOnly, ...(readOnly && lsn ? { lsn } : {}) }) : client.computes.stop.mutate({ name: a.name }),
  );
  return (
    <>
      <h1>Computes</h1>
      <ErrorBox error={computes.error} />
      <AdminOnly>
      <table data-testid="computes">
        <thead><tr><th>Name</th><th>Branch</th><th>Mode</th><th>State</th><th>Connection</th><th>Shipped / committed</th><th>Lag</th><th /></tr></thead>
        <tbody>
          {(computes.data ?? []).map((c) => (
            <tr key={c.name}>
              <td>{c.name}</td><td>{c.branch ?? '—'}</td><td>{c.mode}</td><td>{c.state}</td>
              <td className="mono">{shownUrl(c.connectionUrl)}</td>
              <td><Lsn value={c.shippedLsn} /> / <Lsn value={c.commitLsn} /></td>
              <td>{c.lagBytes ?? '—'} B / {c.lagMs ?? '—'} ms</td>
              <td>
                <ConfirmButton label="stop" title={`Stop compute ${c.name}?`} confirmLabel={`Stop ${c.name}`} onConfirm={() => op.start({ kind: 'stop', name: c.name })}>
                  <p>
                    Compute <b>{c.name}</b> ({c.mode}{c.branch ? ` on branch ${c.branch}` : ''}) stops and its open connections are closed.{' '}
                    {c.mode === 'read-write' ? `Nothing can write to ${c.branch ?? 'its branch'} until a compute is started again. ` : ''}
                    What it committed stays on the branch.
                  </p>
                </ConfirmButton>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      </AdminOnly>
      <h2>Connect</h2>
      <div className="charts" data-testid="connections">
        {(computes.data ?? []).map((c) => <ConnectionPanel key={c.name} compute={c} />)}
      </div>
      <h2>Start a compute</h2>
      <AdminOnly>
      <form className="inline" onSubmit={(e) => { e.preventDefault(); op.start({ kind: 'start' }); }}>
        <label>Branch<select name="branch" value={branch} onChange={(e) => setBranch(e.target.value)}>{(branches.data ?? []).map((b) => <option key={b.name}>{b.name}</option>)}</select></label>
        <label>Read-only<input type="checkbox" checked={readOnly} onChange={(e) => setReadOnly(e.target.checked)} /></label>
        {readOnly ? <label>LSN (optional)<input name="lsn" value={lsn} onChange={(e) => setLsn(e.target.value)} /></label> : null}
        <button type="submit" disabled={op.pending}>Start compute</button>
      </form>
      </AdminOnly>
      {op.view}
    </>
  );
}
