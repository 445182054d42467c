'use client';
import { AdminOnly } from '../../components/admin-only';
import { useOperationAction } from '../../components/operation';
import { bytes, ErrorBox, Lsn } from '../../components/ui';
import { usePageservers } from '../../data/pageservers/use-pageservers';
import { useTRPCClient } from '../../lib/trpc';

export function PageserversView() {
  const client = useTRPCClient();
  const q = usePageservers();
  const op = useOperationAction((a: { kind: 'gc' | 'compact'; timelineId: string }) =>
    a.kind === 'gc' ? client.pageservers.gc.mutate({ timelineId: a.timelineId }) : client.pageservers.compact.mutate({ timelineId: a.timelineId, force: true }),
  );
  const p = q.data;
  return (
    <>
      <h1>Page servers</h1>
      <ErrorBox error={q.error} />
      {p ? (
        <>
          <p className="mono">{p.url} · version {p.version} · remote storage {p.remoteStorage ?? 'none'} · upload queue {p.uploadQueue}</p>
          <h2>Storage tiers</h2>
          <table data-testid="tiers">
            <thead><tr><th>Tier</th><th>Size</th><th>Capacity</th><th>Share of GetPage</th><th>Pages served</th><th>Promotions</th><th>Evictions</th></tr></thead>
            <tbody>
              {p.tiers.map((t) => (
                <tr key={t.tier}>
                  <td>{t.tier}</td><td>{bytes(t.sizeBytes)}</td><td>{bytes(t.capacityBytes)}</td>
                  <td>{t.hitRatio === null ? '—' : `${(t.hitRatio * 100).toFixed(1)}%`}</td><td>{t.pagesServed}</td><td>{t.promotions ?? '—'}</td><td>{t.evictions ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>Tenants</h2>
          <table><thead><tr><th>Tenant</th><th>Timelines</th></tr></thead><tbody>{p.tenants.map((t) => <tr key={t.tenantId}><td className="mono">{t.tenantId}</td><td>{t.timelines}</td></tr>)}</tbody></table>
          <h2>Timelines and layers</h2>
          <AdminOnly>
          <table>
            <thead><tr><th>Branch</th><th>Ancestor</th><th>Ingested</th><th>On disk</th><th>GC horizon</th><th>Layers</th><th>Bytes</th><th>Failing</th><th /></tr></thead>
            <tbody>
              {p.timelines.map((t) => (
                <tr key={t.timelineId}>
                  <td>{t.branch ?? t.timelineId}</td>
                  <td>{t.ancestorTimelineId ? <>{t.ancestorTimelineId.slice(0, 8)} @ <Lsn value={t.ancestorLsn} /></> : '—'}</td>
                  <td><Lsn value={t.lastRecordLsn} /></td><td><Lsn value={t.diskConsistentLsn} /></td><td><Lsn value={t.gcHorizonLsn} /></td>
                  <td>{t.layers}</td><td>{bytes(t.layerBytes)}</td>
                  <td data-testid="failing">{t.failing.length ? t.failing.map((m) => <div key={m} className="bad">{m}</div>) : <span className="ok">—</span>}</td>
                  <td>
                    <button className="secondary" onClick={() => op.start({ kind: 'compact', timelineId: t.timelineId })}>compact</button>{' '}
                    <button className="secondary" onClick={() => op.start({ kind: 'gc', timelineId: t.timelineId })}>GC</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          </AdminOnly>
        </>
      ) : null}
      {op.view}
    </>
  );
}
