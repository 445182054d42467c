/**
 * Alerts about a timeline's safekeepers, from what each safekeeper says it holds. Pure: the cluster
 * view gathers the replies. A safekeeper that did not answer is not judged here (its "down" alert
 * says so already).
 */
import type { Alert } from './alerts';

/** A member this many bytes of WAL behind the timeline's most advanced safekeeper is lagging. */
export const SAFEKEEPER_BEHIND_BYTES_ALERT = 16n << 20n;

export interface SafekeeperTimelineReply {
  readonly nodeId: number;
  /** Whether the node answered; false: nothing is known of what it holds. */
  readonly answered: boolean;
  /** Its copy of the timeline, or undefined when it does not hold it. */
  readonly timeline?: { readonly flushLsn: bigint; readonly conf: { readonly generation: number; readonly members: readonly number[] } } | undefined;
}

/**
 * A member of the timeline's newest configuration that answered without the timeline is out of it
 * (critical: the quorum is one short); one whose flushed WAL trails the most advanced copy by more
 * than the threshold is behind (a warning).
 */
export function safekeeperAlerts(branch: string, replies: readonly SafekeeperTimelineReply[]): Alert[] {
  const held = replies.flatMap((r) => (r.timeline ? [{ nodeId: r.nodeId, ...r.timeline }] : []));
  if (held.length === 0) return [];
  const newest = held.reduce((a, b) => (b.conf.generation > a.conf.generation ? b : a));
  const headLsn = held.reduce((a, b) => (b.flushLsn > a ? b.flushLsn : a), 0n);
  const alerts: Alert[] = [];
  for (const id of newest.conf.members) {
    const r = replies.find((x) => x.nodeId === id);
    if (!r?.answered) continue;
    if (!r.timeline) {
      alerts.push({ severity: 'critical', message: `branch ${branch}: safekeeper ${id} is a member of the timeline (generation ${newest.conf.generation}) but does not hold it`, href: '/safekeepers' });
      continue;
    }
    const behind = headLsn - r.timeline.flushLsn;
    if (behind > SAFEKEEPER_BEHIND_BYTES_ALERT) alerts.push({ severity: 'warning', message: `branch ${branch}: safekeeper ${id} is ${behind} bytes behind the timeline's head`, href: '/safekeepers' });
  }
  return alerts;
}
