'use client';
import Link from 'next/link';
import { BranchAlerts } from '../../../components/branches/branch-alerts';
import { BranchFacts } from '../../../components/branches/branch-facts';
import { BranchGraph } from '../../../components/branches/branch-graph';
import { ConnectionPanel } from '../../../components/computes/connection-panel';
import { ErrorBox, Lsn } from '../../../components/ui';
import { useBranch } from '../../../data/branches/use-branch';
import { useBranches } from '../../../data/branches/use-branches';
import { useComputes } from '../../../data/computes/use-computes';

/** One branch: its facts, its place in the tree, and the computes serving it with how to connect. */
export function BranchView({ name }: { name: string }) {
  const branch = useBranch(name);
  const branches = useBranches();
  const computes = useComputes();
  const b = branch.data;
  const parentHead = b?.parent ? ((branches.data ?? []).find((x) => x.name === b.parent)?.lastRecordLsn ?? null) : null;
  const mine = (computes.data ?? []).filter((c) => c.branch === name);
  return (
    <>
      <p className="hint"><Link href="/branches">← Branches</Link></p>
      <h1>Branch {name}</h1>
      <ErrorBox error={branch.error} />
      <BranchAlerts name={name} />
      {b ? (
        <>
          {b.timelineError ? <div className="card warn">page server: {b.timelineError}</div> : null}
          <div className="card"><BranchFacts b={b} parentHead={parentHead} /></div>
          {branches.data ? <BranchGraph branches={branches.data} current={name} /> : null}
          <h2>Computes</h2>
          <ErrorBox error={computes.error} />
          {mine.length === 0 ? <p className="hint" data-testid="no-computes">No compute runs on {name}.</p> : null}
          {mine.length ? (
            <table data-testid="branch-computes">
              <thead><tr><th>Name</th><th>Mode</th><th>State</th><th>Shipped / committed</th></tr></thead>
              <tbody>
                {mine.map((c) => (
                  <tr key={c.name}><td>{c.name}</td><td>{c.mode}</td><td>{c.state}</td><td><Lsn value={c.shippedLsn} /> / <Lsn value={c.commitLsn} /></td></tr>
                ))}
              </tbody>
            </table>
          ) : null}
          <div className="charts">{mine.map((c) => <ConnectionPanel key={c.name} compute={c} />)}</div>
        </>
      ) : null}
    </>
  );
}
