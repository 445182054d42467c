'use client';
import { useState } from 'react';
import { AdminOnly } from '../../components/admin-only';
import { ConfirmButton } from '../../components/confirm';
import { LocalTime } from '../../components/local-time';
import { ErrorBox } from '../../components/ui';
import { useOperatorMutations } from '../../data/operators/use-operator-mutations';
import { useOperators } from '../../data/operators/use-operators';

export function OperatorsView() {
  const q = useOperators();
  const { create, setRole: setRoleM, remove } = useOperatorMutations();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<'viewer' | 'admin'>('viewer');
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
              <td>{o.username}</td><td>{o.role}</td><td><LocalTime iso={o.createdAt} /></td>
              <td>
                <button className="secondary" onClick={() => setRoleM.mutate({ id: o.id, role: o.role === 'admin' ? 'viewer' : 'admin' })}>make {o.role === 'admin' ? 'viewer' : 'admin'}</button>{' '}
                <ConfirmButton label="remove" title={`Remove operator ${o.username}?`} confirmLabel={`Remove ${o.username}`} onConfirm={() => remove.mutate({ id: o.id })}>
                  <p>Operator <b>{o.username}</b> ({o.role}) is removed: their sessions end at once and they can no longer sign in. Adding them again gives a new password.</p>
                </ConfirmButton>
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
