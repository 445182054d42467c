/** Alert rules that need no I/O, beside the cluster view that gathers their inputs. */

export interface Alert {
  readonly severity: 'critical' | 'warning';
  readonly message: string;
  /** The console page of the branch or node the alert is about. */
  readonly href?: string;
}

/** Local layers above this share of the page server's disk budget: eviction cannot keep up (or remote storage is unreachable). */
export const DISK_BUDGET_ALERT_RATIO = 0.9;

/** The page server's local tier against its disk budget (no budget, no alert). */
export function diskBudgetAlert(status: { readonly diskBudgetBytes?: number | null | undefined; readonly localLayerBytes?: number | undefined }): Alert | undefined {
  const budget = status.diskBudgetBytes ?? 0;
  const used = status.localLayerBytes ?? 0;
  if (budget <= 0 || used <= budget * DISK_BUDGET_ALERT_RATIO) return undefined;
  const pct = Math.round((100 * used) / budget);
  return { severity: pct >= 100 ? 'critical' : 'warning', message: `page server disk is ${pct}% of its budget (${used} of ${budget} bytes of layers held locally)` };
}

/** Remote storage trailing ingest by more than this: uploads are not keeping up (or failing). */
export const REMOTE_LAG_BYTES_ALERT = 64n << 20n;

/** Work whose failure stops something an operator relies on: computes cannot start, data is not durable remotely. */
const CRITICAL_KINDS = new Set(['basebackup', 'upload']);

export interface TimelineHealth {
  readonly remote?: { readonly consecutiveFailures: number; readonly lagBytes: bigint; readonly lastError: string | null } | null | undefined;
  readonly lastErrors?: readonly { readonly kind: string; readonly count: number; readonly code: string; readonly message: string; readonly at: string; readonly resolvedAt: string | null }[] | undefined;
}

/**
 * A timeline's failing background work on the page server, with its real message: a basebackup or
 * upload still failing is critical, a compaction or GC a warning; resolved errors are history.
 */
export function timelineAlerts(branch: string, t: TimelineHealth): Alert[] {
  const alerts: Alert[] = [];
  for (const e of t.lastErrors ?? []) {
    if (e.resolvedAt !== null) continue;
    const times = e.count === 1 ? 'once' : `${e.count} times`;
    alerts.push({
      severity: CRITICAL_KINDS.has(e.kind) ? 'critical' : 'warning',
      message: `branch ${branch}: page server ${e.kind} failing (${e.code}, ${times}, last at ${e.at}): ${e.message}`,
      href: '/pageservers',
    });
  }
  const lag = t.remote?.lagBytes ?? 0n;
  if (lag > REMOTE_LAG_BYTES_ALERT) alerts.push({ severity: 'warning', message: `branch ${branch}: remote storage is ${lag} bytes behind ingest`, href: '/pageservers' });
  return alerts;
}
