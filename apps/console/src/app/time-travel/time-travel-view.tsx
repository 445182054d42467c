'use client';
import { useState } from 'react';
import { Interactive } from '../../components/hydration';
import { ErrorBox } from '../../components/ui';
import { useBranches } from '../../data/branches/use-branches';
import { useTimeTravelQuery } from '../../data/timetravel/use-time-travel';

export function TimeTravelView() {
  const branches = useBranches();
  const [branch, setBranch] = useState('main');
  const [mode, setMode] = useState<'lsn' | 'time'>('time');
  const [point, setPoint] = useState('');
  const [sql, setSql] = useState('SELECT 1');
  const q = useTimeTravelQuery();
  return (
    <>
      <h1>Time travel</h1>
      <p>Runs a read-only query on an ephemeral read-only compute of the branch as of the point in time, stopped afterwards.</p>
      <form
        className="card"
        onSubmit={(e) => {
          e.preventDefault();
          q.mutate({ branch, sql, ...(point ? (mode === 'lsn' ? { lsn: point } : { at: new Date(point).toISOString() }) : {}) });
        }}
      >
        {/* Its inputs only reach the query once React owns them. */}
        <Interactive>
          <div className="inline" style={{ display: 'flex', gap: 8 }}>
            <label>Branch<select name="branch" value={branch} onChange={(e) => setBranch(e.target.value)}>{(branches.data ?? []).map((b) => <option key={b.name}>{b.name}</option>)}</select></label>
            <label>As of<select name="mode" value={mode} onChange={(e) => setMode(e.target.value as 'lsn' | 'time')}><option value="time">a time</option><option value="lsn">an LSN</option></select></label>
            {mode === 'lsn' ? <label>LSN<input name="lsn" value={point} onChange={(e) => setPoint(e.target.value)} /></label> : <label>Time<input name="at" type="datetime-local" step="1" value={point} onChange={(e) => setPoint(e.target.value)} /></label>}
          </div>
          <label>SQL<textarea name="sql" rows={4} value={sql} onChange={(e) => setSql(e.target.value)} className="mono" /></label>
          <p><button type="submit" disabled={q.isPending}>{q.isPending ? 'Starting a read-only compute…' : 'Run query'}</button></p>
        </Interactive>
      </form>
      <ErrorBox error={q.error} />
      {q.data ? (
        <>
          <p>{q.data.rows.length} rows{q.data.truncated ? ' (truncated)' : ''} from {q.data.compute} in {q.data.elapsedMs} ms</p>
          <table data-testid="results">
            <thead><tr>{q.data.columns.map((c, i) => <th key={i}>{c}</th>)}</tr></thead>
            <tbody>{q.data.rows.map((r, i) => <tr key={i}>{r.map((v, j) => <td key={j}>{v ?? 'NULL'}</td>)}</tr>)}</tbody>
          </table>
        </>
      ) : null}
    </>
  );
}
