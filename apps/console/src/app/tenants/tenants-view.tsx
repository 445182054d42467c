'use client';
import { useState } from 'react';
import { AdminOnly } from '../../components/admin-only';
import { LocalTime } from '../../components/local-time';
import { useOperationAction } from '../../components/operation';
import { ErrorBox } from '../../components/ui';
import { useTenants } from '../../data/tenants/use-tenants';
import { useTRPCClient } from '../../lib/trpc';

export function TenantsView() {
  const client = useTRPCClient();
  const q = useTenants();
  const [name, setName] = useState('');
  const [datadir, setDatadir] = useState('');
  const op = useOperationAction((a: { kind: 'create' } | { kind: 'delete'; id: string }) =>
    a.kind === 'create' ? client.tenants.create.mutate({ name, ...(datadir ? { datadir } : {}) }) : client.tenants.delete.mutate({ id: a.id }),
  );
  return (
    <>
      <h1>Tenants</h1>
      <ErrorBox error={q.error} />
      <AdminOnly>
      <table data-testid="tenants">
        <thead><tr><th>Name</th><th>Tenant id</th><th>Timelines</th><th>Created</th><th /></tr></thead>
        <tbody>
          {(q.data ?? []).map((t) => (
            <tr key={t.id}>
              <td>{t.name}{t.local ? ' (local cluster)' : ''}</td><td className="mono">{t.tenantId}</td><td>{t.timelines ?? '—'}</td><td><LocalTime iso={t.createdAt} /></td>
              <td>{t.local ? null : <button className="secondary" onClick={() => op.start({ kind: 'delete', id: t.id })}>delete</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      </AdminOnly>
      <h2>Create or import a tenant</h2>
      <AdminOnly>
      <form className="inline" onSubmit={(e) => { e.preventDefault(); op.start({ kind: 'create' }); }}>
        <label>Name<input name="name" value={name} onChange={(e) => setName(e.target.value)} /></label>
        <label>Import from datadir (optional, absolute path of a prepared datadir)<input name="datadir" value={datadir} onChange={(e) => setDatadir(e.target.value)} /></label>
        <button type="submit" disabled={op.pending}>{datadir ? 'Import tenant' : 'Create tenant'}</button>
      </form>
      </AdminOnly>
      {op.view}
    </>
  );
}
