/** Alert rules that need no I/O, beside the cluster view that gathers their inputs. */

export interface Alert {
  readonly severity: 'critical' | 'warning';
  readonly message: string;
  /** The console page of the branch or node the alert is about. */
  readonly href?: string;
  /** The compute whose exit record this alert reports: an admin acknowledges it by that name. */
  readonly acknowledgeCompute?: string;
}

/**
 * Where an alert about a branch's timeline points: the branch's own page, which lists that branch's
 * alerts; a timeline no branch names (yet) has only the page servers' list.
 */
export function branchHref(branch: string | undefined): string {
  return branch === undefined ? '/pageservers' : `/branches/${encodeURIComponent(branch)}`;
}

/** Local layers above this share of the page server's disk budget: eviction cannot keep up (or remote storage is unreachable). */
export const DISK_BUDGET_ALERT_RATIO = 0.9;

/** The page server's local tier against its disk budget (no budget, no alert). */
export function diskBudgetAlert(status: { readonly diskBudgetBytes?: number | null | undefined; readonly localLayerBytes?: number | undefined }): Alert | undefined {
  const budget = status.diskBudgetBytes ?? 0;
  const used = status.localLayerBytes ?? 0;
  if (budget <= 0 || used <= budget * DISK_BUDGET_ALERT_RATIO) return undefined;
  const pct = Math.round((100 * used) / budget);
  return { severity: pct >= 100 ? 'critical' : 'warning', message: `page server disk is ${pct}% of its budget (${used} of ${budget} bytes of layers held locally)`, href: '/pageservers' };
}

/** Ingest or upload lag above this many bytes is an alert; it should drain within a scrape or two. */
export const LAG_BYTES_ALERT = 16n << 20n;

/**
 * A timeline's ingest lag (the safekeepers' commit LSN past what the page server ingested: the
 * Overview's and the ingest-lag chart's figure) and its upload backlog (ingested but not yet in a
 * layer file), each a warning past the threshold.
 */
export function lagAlerts(branch: string, t: { readonly commitLsn: bigint; readonly lastRecordLsn: bigint; readonly diskConsistentLsn: bigint }, href: string): Alert[] {
  const alerts: Alert[] = [];
  const ingest = t.commitLsn - t.lastRecordLsn;
  if (ingest > LAG_BYTES_ALERT) alerts.push({ severity: 'warning', message: `branch ${branch}: page server ingest is ${ingest} bytes behind the safekeepers`, href });
  const upload = t.lastRecordLsn - t.diskConsistentLsn;
  if (upload > LAG_BYTES_ALERT) alerts.push({ severity: 'warning', message: `branch ${branch}: ${upload} bytes not yet in a layer file (upload backlog)`, href });
  return alerts;
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
 * `branch` names the timeline in the message; `href` is the page of the branch concerned.
 */
export function timelineAlerts(branch: string, t: TimelineHealth, href: string): Alert[] {
  const alerts: Alert[] = [];
  for (const e of t.lastErrors ?? []) {
    if (e.resolvedAt !== null) continue;
    const times = e.count === 1 ? 'once' : `${e.count} times`;
    alerts.push({
      severity: CRITICAL_KINDS.has(e.kind) ? 'critical' : 'warning',
      message: `branch ${branch}: page server ${e.kind} failing (${e.code}, ${times}, last at ${e.at}): ${e.message}`,
      href,
    });
  }
  const lag = t.remote?.lagBytes ?? 0n;
  if (lag > REMOTE_LAG_BYTES_ALERT) alerts.push({ severity: 'warning', message: `branch ${branch}: remote storage is ${lag} bytes behind ingest`, href });
  return alerts;
}

/**
 * A compute that stopped because a newer compute took its timeline (its controller's last-exit.json):
 * it left every list when it stopped, so this is the only trace an operator sees, until acknowledged
 * or a compute of that name starts again. `branch` is the timeline's branch if one names it.
 */
export function fencedComputeAlert(rec: { readonly name: string; readonly timelineId: string; readonly message: string; readonly at: string }, branch: string | undefined): Alert {
  return {
    severity: 'warning',
    message: `compute ${rec.name} on branch ${branch ?? rec.timelineId} was fenced by a newer compute at ${rec.at}: ${rec.message}`,
    href: branchHref(branch),
    acknowledgeCompute: rec.name,
  };
}
