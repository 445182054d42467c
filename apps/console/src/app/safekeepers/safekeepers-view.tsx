'use client';
import { useState } from 'react';
import { AdminOnly } from '../../components/admin-only';
import { useOperationAction } from '../../components/operation';
import { ErrorBox, Lsn } from '../../components/ui';
import { useSafekeepers } from '../../data/safekeepers/use-safekeepers';
import { useTRPCClient } from '../../lib/trpc';

export function SafekeepersView() {
  const client = useTRPCClient();
  const q = useSafekeepers();
  const [members, setMembers] = useState<Record<string, string>>({});
  // The card whose change ran last: its result is shown there, where the operator clicked.
  const [changed, setChanged] = useState<string | null>(null);
  const op = useOperationAction((i: { timelineId: string; members: number[] }) => client.safekeepers.changeMembership.mutate(i));
  const add = useOperationAction((_: null) => client.safekeepers.add.mutate({}));
  const remove = useOperationAction((nodeId: number) => client.safekeepers.remove.mutate({ nodeId }));
  return (
    <>
      <h1>Safekeepers</h1>
      <ErrorBox error={q.error} />
      <table data-testid="safekeeper-nodes">
        <thead><tr><th>Node</th><th>URL</th><th>Health</th><th></th></tr></thead>
        <tbody>
          {(q.data?.nodes ?? []).map((n) => (
            <tr key={n.id}>
              <td>{n.id}</td><td className="mono">{n.url}</td><td className={n.healthy ? 'ok' : 'bad'}>{n.healthy ? 'up' : n.error}</td>
              <td><AdminOnly><button className="secondary" disabled={remove.pending} onClick={() => remove.start(n.id)}>Remove</button></AdminOnly></td>
            </tr>
          ))}
        </tbody>
      </table>
      <AdminOnly>
        <p><button className="secondary" disabled={add.pending} onClick={() => add.start(null)}>Add a safekeeper node</button></p>
      </AdminOnly>
      {add.view}
      {remove.view}
      {(q.data?.timelines ?? []).map((t) => (
        <div className="card" key={t.timelineId} data-testid={`timeline-${t.branch ?? t.timelineId}`}>
          <h2>Branch {t.branch ?? '?'} <span className="mono">{t.timelineId}</span></h2>
          <table>
            <thead><tr><th>Member</th><th>Term</th><th>Generation</th><th>Configuration</th><th>Flush</th><th>Commit</th><th>Backup</th><th>Remote consistent</th></tr></thead>
            <tbody>
              {t.members.map((m) => (
                <tr key={m.nodeId}>
                  <td>{m.nodeId}</td><td>{m.term}</td><td>{m.generation}</td>
                  <td>[{m.members.join(',')}]{m.newMembers ? ` → [${m.newMembers.join(',')}] (joint)` : ''}</td>
                  <td><Lsn value={m.flushLsn} /></td><td><Lsn value={m.commitLsn} /></td><td><Lsn value={m.backupLsn} /></td><td><Lsn value={m.remoteConsistentLsn} /></td>
                </tr>
              ))}
            </tbody>
          </table>
          <AdminOnly>
          <form className="inline" onSubmit={(e) => { e.preventDefault(); setChanged(t.timelineId); op.start({ timelineId: t.timelineId, members: (members[t.timelineId] ?? '').split(',').map((s) => Number(s.trim())).filter((n) => n > 0) }); }}>
            <label>New members (node ids)<input name="members" placeholder="1,2,3" value={members[t.timelineId] ?? ''} onChange={(e) => setMembers({ ...members, [t.timelineId]: e.target.value })} /></label>
            <button type="submit" disabled={op.pending}>Change membership</button>
          </form>
          </AdminOnly>
          {changed === t.timelineId ? op.view : null}
        </div>
      ))}
    </>
  );
}
