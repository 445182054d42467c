'use client';
import Link from 'next/link';
import { useState } from 'react';
import { AdminOnly } from '../../components/admin-only';
import { BranchGraph } from '../../components/branches/branch-graph';
import { RestoreButton } from '../../components/branches/restore-button';
import { ConfirmButton } from '../../components/confirm';
import { FieldError, PointField } from '../../components/field';
import { LocalTime } from '../../components/local-time';
import { useOperationAction } from '../../components/operation';
import { bytes, ErrorBox, Lsn } from '../../components/ui';
import { useBranches } from '../../data/branches/use-branches';
import { useComputes } from '../../data/computes/use-computes';
import { useSnapshots } from '../../data/snapshots/use-snapshots';
import { checkBranchForm, lsnRange, type BranchFormResult, type BranchFormValues } from '../../lib/forms';
import { useTRPCClient } from '../../lib/trpc';

interface BranchNode {
  name: string;
  timelineId: string;
  parent: string | null;
  lsn: string | null;
  createdAt: string;
  lastRecordLsn: string | null;
  layerBytes: number | null;
}

export function BranchesView() {
  const client = useTRPCClient();
  const branches = useBranches();
  const snapshots = useSnapshots();
  const [from, setFrom] = useState('main');
  const [name, setName] = useState('');
  const [mode, setMode] = useState<BranchFormValues['mode']>('head');
  // One value per kind of point: switching "At" never carries a time into the LSN field.
  const [lsn, setLsn] = useState('');
  const [at, setAt] = useState('');
  const [snapshot, setSnapshot] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const create = useOperationAction((r: BranchFormResult) => (r.kind === 'snapshot' ? client.snapshots.restore.mutate(r.input) : client.branches.create.mutate(r.input)));
  const submit = () => {
    const r = checkBranchForm({ from, name, mode, lsn, at, snapshot }, branches.data ?? []);
    setErrors(r.ok ? {} : r.errors);
    if (r.ok) create.start(r.value);
  };
  const range = lsnRange((branches.data ?? []).find((b) => b.name === from));
  const action = useOperationAction((a: { kind: 'delete' | 'reset' | 'compute'; name: string; at?: undefined } | { kind: 'restore'; name: string; at: string }) =>
    a.kind === 'restore'
      ? client.branches.restore.mutate({ name: a.name, backupName: `${a.name}-backup-${Date.now().toString(36)}`, at: new Date(a.at).toISOString() })
      : a.kind === 'delete'
        ? client.branches.delete.mutate({ name: a.name })
        : a.kind === 'reset'
          ? client.branches.reset.mutate({ name: a.name })
          : client.computes.start.mutate({ branch: a.name, readOnly: false }),
  );
  const list = branches.data ?? [];
  const computes = useComputes();
  /** The computes a delete or reset stops, named in its confirmation. */
  const runningOn = (branch: string) => {
    const names = (computes.data ?? []).filter((c) => c.branch === branch).map((c) => c.name);
    return names.length ? ` Its computes (${names.join(', ')}) are stopped and their connections closed.` : '';
  };
  const children = (parent: string | null) => list.filter((b) => b.parent === parent);
  const render = (b: BranchNode) => (
    <li key={b.name} data-testid={`branch-${b.name}`}>
      <Link href={`/branches/${encodeURIComponent(b.name)}`}><b>{b.name}</b></Link> <span className="mono">{b.timelineId.slice(0, 8)}</span>
      {b.lsn ? <> · branched at LSN <Lsn value={b.lsn} /></> : ' · root'} · <LocalTime iso={b.createdAt} /> · head <Lsn value={b.lastRecordLsn} /> · {bytes(b.layerBytes)}{' '}
      <button className="secondary" onClick={() => setFrom(b.name)}>branch from here</button>{' '}
      <button className="secondary" onClick={() => action.start({ kind: 'compute', name: b.name })}>start compute</button>{' '}
      {b.parent ? (
        <>
          <ConfirmButton label="reset to parent" title={`Reset branch ${b.name} to ${b.parent}?`} confirmLabel={`Reset ${b.name}`} onConfirm={() => action.start({ kind: 'reset', name: b.name })}>
            <p>Everything written to <b>{b.name}</b> since it branched from {b.parent} is dropped, and it starts again from {b.parent}&apos;s head.{runningOn(b.name)} This cannot be undone.</p>
          </ConfirmButton>{' '}
          <RestoreButton branch={b.name} onRestore={(at) => action.start({ kind: 'restore', name: b.name, at })} />{' '}
          <ConfirmButton label="delete" title={`Delete branch ${b.name}?`} confirmLabel={`Delete ${b.name}`} onConfirm={() => action.start({ kind: 'delete', name: b.name })}>
            <p>
              Branch <b>{b.name}</b> (timeline <span className="mono">{b.timelineId.slice(0, 8)}</span>, {bytes(b.layerBytes)}) and everything written to it since it branched from {b.parent} at LSN <Lsn value={b.lsn} /> are deleted.{runningOn(b.name)} This cannot be undone.
            </p>
          </ConfirmButton>
        </>
      ) : null}
      {children(b.name).length ? <ul>{children(b.name).map(render)}</ul> : null}
    </li>
  );
  return (
    <>
      <h1>Branches</h1>
      <ErrorBox error={branches.error} />
      {list.length ? <BranchGraph branches={list} /> : null}
      <AdminOnly><div className="tree card"><ul>{children(null).map(render)}</ul></div></AdminOnly>
      {action.view}
      <h2>Create a branch</h2>
      <AdminOnly>
      <form className="inline" noValidate onSubmit={(e) => { e.preventDefault(); submit(); }}>
        {mode !== 'snapshot' ? (
          <div className="field"><label>From<select name="from" value={from} onChange={(e) => setFrom(e.target.value)}>{list.map((b) => <option key={b.name}>{b.name}</option>)}</select></label><FieldError errors={errors} name="from" /></div>
        ) : null}
        <div className="field"><label>Name<input name="name" value={name} onChange={(e) => setName(e.target.value)} /></label><FieldError errors={errors} name="name" /></div>
        <label>At
          <select name="mode" value={mode} onChange={(e) => { setMode(e.target.value as typeof mode); setLsn(''); setAt(''); setSnapshot(''); setErrors({}); }}>
            <option value="head">head</option><option value="lsn">an LSN</option><option value="time">a time</option><option value="snapshot">a snapshot</option>
          </select>
        </label>
        <PointField mode={mode} errors={errors} range={range} lsn={lsn} setLsn={setLsn} at={at} setAt={setAt} />
        {mode === 'snapshot' ? (
          <div className="field"><label>Snapshot<select name="snapshot" value={snapshot} onChange={(e) => setSnapshot(e.target.value)}><option value="" />{(snapshots.data ?? []).map((s) => <option key={s.name}>{s.name}</option>)}</select></label><FieldError errors={errors} name="snapshot" /></div>
        ) : null}
        <button type="submit" disabled={create.pending}>Create branch</button>
      </form>
      </AdminOnly>
      {create.view}
    </>
  );
}
