'use client';
import { useOverview } from '../../data/overview/use-overview';
import { AcknowledgeExitButton } from '../computes/acknowledge-exit-button';

/**
 * The Overview's alerts about one branch (those linking to its page), so an alert's link lands on
 * the page that shows the same trouble. Nothing is drawn while none apply.
 */
export function BranchAlerts({ name }: { name: string }) {
  const overview = useOverview();
  const href = `/branches/${encodeURIComponent(name)}`;
  const mine = (overview.data?.alerts ?? []).filter((a) => a.href === href);
  if (mine.length === 0) return null;
  return (
    <div data-testid="branch-alerts">
      {mine.map((a, i) => (
        <div key={i} className={a.severity === 'critical' ? 'error' : 'card warn'} role="alert">
          {a.severity}: {a.message}
          {a.acknowledgeCompute !== null ? <AcknowledgeExitButton name={a.acknowledgeCompute} /> : null}
        </div>
      ))}
    </div>
  );
}
