'use client';
import Link from 'next/link';
import { ErrorBox, Lsn } from '../components/ui';
import { useOverview } from '../data/overview/use-overview';
import { AcknowledgeExitButton } from '../components/computes/acknowledge-exit-button';

export function OverviewView() {
  const q = useOverview();
  const o = q.data;
  return (
    <>
      <h1>Overview</h1>
      <ErrorBox error={q.error} />
      {o ? (
        <>
          <h2>Alerts</h2>
          {o.alerts.length === 0 ? <p className="ok" data-testid="no-alerts">No alerts.</p> : null}
          {o.alerts.map((a, i) => (
            <div key={i} className={a.severity === 'critical' ? 'error' : 'card warn'} role="alert">
              {a.severity}: {a.message}
              {a.href ? <> <Link href={a.href}>show</Link></> : null}
              {a.acknowledgeCompute !== null ? <AcknowledgeExitButton name={a.acknowledgeCompute} /> : null}
            </div>
          ))}
          <h2>Nodes</h2>
          <table data-testid="nodes">
            <thead>
              <tr><th>Kind</th><th>Name</th><th>Health</th><th>Version</th><th>URL</th></tr>
            </thead>
            <tbody>
              {o.nodes.map((n) => (
                <tr key={`${n.kind}-${n.name}`}>
                  <td>{n.kind}</td>
                  <td>{n.name}</td>
                  <td className={n.healthy ? 'ok' : 'bad'}>{n.healthy ? 'up' : `down: ${n.error ?? ''}`}</td>
                  <td>{n.version ?? '—'}</td>
                  <td className="mono">{n.url}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>Timelines (tenant <span className="mono">{o.tenantId}</span>)</h2>
          <table>
            <thead>
              <tr><th>Branch</th><th>Commit LSN (safekeepers)</th><th>Ingested LSN</th><th>On-disk LSN</th><th>Ingest lag</th></tr>
            </thead>
            <tbody>
              {o.timelines.map((t) => (
                <tr key={t.timelineId}>
                  <td>{t.branch ?? t.timelineId}</td>
                  <td><Lsn value={t.commitLsn} /></td>
                  <td><Lsn value={t.lastRecordLsn} /></td>
                  <td><Lsn value={t.diskConsistentLsn} /></td>
                  <td>{t.ingestLagBytes ?? '—'} B</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>Computes</h2>
          <table>
            <thead><tr><th>Name</th><th>Mode</th><th>State</th><th>Shipper lag</th></tr></thead>
            <tbody>
              {o.computes.map((c) => (
                <tr key={c.name}><td>{c.name}</td><td>{c.mode}</td><td>{c.state}</td><td>{c.lagBytes ?? '—'} B / {c.lagMs ?? '—'} ms</td></tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
    </>
  );
}
