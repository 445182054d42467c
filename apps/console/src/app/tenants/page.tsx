'use client';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC, useTRPCClient } from '../../lib/trpc';
import { AdminOnly, ErrorBox, useOperation } from '../../components/ui';

export default function TenantsPage() {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const q = useQuery(trpc.tenants.list.queryOptions());
  const [name, setName] = useState('');
  const [datadir, setDatadir] = useState('');
  const op = useOperation({
    mutationFn: (a: { kind: 'create' } | { kind: 'delete'; id: string }) =>
      a.kind === 'create' ? client.tenants.create.mutate({ name, ...(datadir ? { datadir } : {}) }) : client.tenants.delete.mutate({ id: a.id }),
  });
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
              <td>{t.name}{t.local ? ' (local cluster)' : ''}</td><td className="mono">{t.tenantId}</td><td>{t.timelines ?? '—'}</td><td>{new Date(t.createdAt).toLocaleString()}</td>
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
