'use client';
import { useState } from 'react';
import { AdminOnly } from '../../components/admin-only';
import { ConfirmButton } from '../../components/confirm';
import { LocalTime } from '../../components/local-time';
import { useOperationAction } from '../../components/operation';
import { ErrorBox, Lsn } from '../../components/ui';
import { useBranches } from '../../data/branches/use-branches';
import { useSnapshots } from '../../data/snapshots/use-snapshots';
import { useTRPCClient } from '../../lib/trpc';

export function SnapshotsView() {
  const client = useTRPCClient();
  const snapshots = useSnapshots();
  const branches = useBranches();
  const [branch, setBranch] = useState('main');
  const [name, setName] = useState('');
  const [lsn, setLsn] = useState('');
  const op = useOperationAction((a: { kind: 'create' } | { kind: 'restore'; name: string; branch: string } | { kind: 'delete'; name: string }) =>
    a.kind === 'create'
      ? client.snapshots.create.mutate({ branch, name, ...(lsn ? { lsn } : {}) })
      : a.kind === 'restore'
        ? client.snapshots.restore.mutate({ name: a.name, branch: a.branch })
        : client.snapshots.delete.mutate({ name: a.name }),
  );
  return (
    <>
      <h1>Snapshots</h1>
      <ErrorBox error={snapshots.error} />
      <AdminOnly>
      <table data-testid="snapshots">
        <thead><tr><th>Name</th><th>Branch</th><th>LSN</th><th>Created</th><th /></tr></thead>
        <tbody>
          {(snapshots.data ?? []).map((s) => (
            <tr key={s.name}>
              <td>{s.name}</td><td>{s.branch}</td><td><Lsn value={s.lsn} /></td><td><LocalTime iso={s.createdAt} /></td>
              <td>
                <button className="secondary" onClick={() => { const b = prompt('New branch name', `${s.name}-restored`); if (b) op.start({ kind: 'restore', name: s.name, branch: b }); }}>restore as branch…</button>{' '}
                <ConfirmButton label="delete" title={`Delete snapshot ${s.name}?`} confirmLabel={`Delete ${s.name}`} onConfirm={() => op.start({ kind: 'delete', name: s.name })}>
                  <p>Snapshot <b>{s.name}</b> of {s.branch} at LSN <Lsn value={s.lsn} /> is deleted: it can no longer be restored. Branches already restored from it stay. This cannot be undone.</p>
                </ConfirmButton>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      </AdminOnly>
      <h2>Take a snapshot</h2>
      <AdminOnly>
      <form className="inline" onSubmit={(e) => { e.preventDefault(); op.start({ kind: 'create' }); }}>
        <label>Branch<select name="branch" value={branch} onChange={(e) => setBranch(e.target.value)}>{(branches.data ?? []).map((b) => <option key={b.name}>{b.name}</option>)}</select></label>
        <label>Name<input name="name" value={name} onChange={(e) => setName(e.target.value)} /></label>
        <label>LSN (optional)<input name="lsn" value={lsn} onChange={(e) => setLsn(e.target.value)} /></label>
        <button type="submit" disabled={op.pending}>Take snapshot</button>
      </form>
      </AdminOnly>
      {op.view}
    </>
  );
}
