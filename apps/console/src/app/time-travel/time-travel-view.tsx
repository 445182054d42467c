'use client';
import { useState } from 'react';
import { Interactive } from '../../components/hydration';
import { FieldError, PointField } from '../../components/field';
import { AsOf } from '../../components/as-of';
import { ErrorBox } from '../../components/ui';
import { useBranches } from '../../data/branches/use-branches';
import { useTimeTravelQuery } from '../../data/timetravel/use-time-travel';
import { checkTimeTravelForm, lsnRange, type PointMode } from '../../lib/forms';

export function TimeTravelView() {
  const branches = useBranches();
  const [branch, setBranch] = useState('main');
  const [mode, setMode] = useState<PointMode>('time');
  // One value per kind of point: switching "As of" never carries a time into the LSN field.
  const [lsn, setLsn] = useState('');
  const [at, setAt] = useState('');
  const [sql, setSql] = useState('SELECT 1');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const q = useTimeTravelQuery();
  const range = lsnRange((branches.data ?? []).find((b) => b.name === branch));
  return (
    <>
      <h1>Time travel</h1>
      <p>Runs a read-only query on an ephemeral read-only compute of the branch as of the point in time, stopped afterwards.</p>
      <form
        className="card"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          // Nothing starts (no compute) until every field is valid.
          const r = checkTimeTravelForm({ branch, mode, lsn, at, sql }, branches.data ?? []);
          setErrors(r.ok ? {} : r.errors);
          if (r.ok) q.mutate(r.value);
        }}
      >
        {/* Its inputs only reach the query once React owns them. */}
        <Interactive>
          <div className="inline" style={{ display: 'flex', gap: 8 }}>
            <label>Branch<select name="branch" value={branch} onChange={(e) => setBranch(e.target.value)}>{(branches.data ?? []).map((b) => <option key={b.name}>{b.name}</option>)}</select></label>
            <label>As of
              <select name="mode" value={mode} onChange={(e) => { setMode(e.target.value as PointMode); setLsn(''); setAt(''); setErrors({}); }}>
                <option value="time">a time</option><option value="lsn">an LSN</option><option value="head">head (latest)</option>
              </select>
            </label>
            <PointField mode={mode} errors={errors} range={range} lsn={lsn} setLsn={setLsn} at={at} setAt={setAt} />
          </div>
          <div className="field"><label>SQL<textarea name="sql" rows={4} value={sql} onChange={(e) => setSql(e.target.value)} className="mono" /></label><FieldError errors={errors} name="sql" /></div>
          <p><button type="submit" disabled={q.isPending}>{q.isPending ? 'Starting a read-only compute…' : 'Run query'}</button></p>
        </Interactive>
      </form>
      <ErrorBox error={q.error} />
      {q.data ? (
        <>
          <p>{q.data.rows.length} rows{q.data.truncated ? ' (truncated)' : ''} from {q.data.compute} in {q.data.elapsedMs} ms</p>
          <AsOf asOf={q.data.asOf} />
          <table data-testid="results">
            <thead><tr>{q.data.columns.map((c, i) => <th key={i}>{c}</th>)}</tr></thead>
            <tbody>{q.data.rows.map((r, i) => <tr key={i}>{r.map((v, j) => <td key={j}>{v ?? 'NULL'}</td>)}</tr>)}</tbody>
          </table>
        </>
      ) : null}
    </>
  );
}
