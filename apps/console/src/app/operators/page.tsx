'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC } from '../../lib/trpc';
import { AdminOnly, ErrorBox } from '../../components/ui';

export default function OperatorsPage() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const q = useQuery(trpc.operators.list.queryOptions());
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<'viewer' | 'admin'>('viewer');
  const done = { onSuccess: () => qc.invalidateQueries({ queryKey: trpc.operators.list.queryKey() }) };
  const create = useMutation(trpc.operators.create.mutationOptions(done));
  const setRoleM = useMutation(trpc.operators.setRole.mutationOptions(done));
  const remove = useMutation(trpc.operators.remove.mutationOptions(done));
  return (
    <>
      <h1>Operators</h1>
      <ErrorBox error={q.error ?? create.error ?? setRoleM.error ?? remove.error} />
      <AdminOnly>
      <table>
        <thead><tr><th>Username</th><th>Role</th><th>Created</th><th /></tr></thead>
        <tbody>
          {(q.data ?? []).map((o) => (
            <tr key={o.id}>
              <td>{o.username}</td><td>{o.role}</td><td>{new Date(o.createdAt).toLocaleString()}</td>
              <td>
                <button className="secondary" onClick={() => setRoleM.mutate({ id: o.id, role: o.role === 'admin' ? 'viewer' : 'admin' })}>make {o.role === 'admin' ? 'viewer' : 'admin'}</button>{' '}
                <button className="secondary" onClick={() => remove.mutate({ id: o.id })}>remove</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      </AdminOnly>
      <h2>Add an operator</h2>
      <AdminOnly>
      <form className="inline" onSubmit={(e) => { e.preventDefault(); create.mutate({ username, password, role }); }}>
        <label>Username<input name="username" value={username} onChange={(e) => setUsername(e.target.value)} /></label>
        <label>Password<input name="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} /></label>
        <label>Role<select name="role" value={role} onChange={(e) => setRole(e.target.value as 'viewer' | 'admin')}><option>viewer</option><option>admin</option></select></label>
        <button type="submit" disabled={create.isPending}>Add operator</button>
      </form>
      </AdminOnly>
    </>
  );
}
