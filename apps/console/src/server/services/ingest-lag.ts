/**
 * Ingest lag, defined once: how far the page server's last ingested record trails the highest commit
 * LSN any safekeeper reports for the timeline. The Overview and the scraper behind the "Ingest lag"
 * chart both use this, so the chart never reads 0 while the Overview shows 25 MB (issue 14: the chart
 * used to read the page server's own gauge, which measures against what it had received, not what
 * was committed).
 */
import { timelineList } from '@strata/client/pageserver-api';
import { callClient, callService } from './http';
import { pageserverTarget, safekeeperTargets } from './cluster';
import type { LocalCluster } from './registry';
import { safekeeperTimelines } from './schemas';

/** The highest of the safekeepers' commit LSNs, or null when none reports the timeline. */
export function highestCommit(commits: readonly bigint[]): bigint | null {
  return commits.length ? commits.reduce((a, b) => (b > a ? b : a)) : null;
}

/** Bytes of committed WAL the page server has not ingested yet (never negative); null without a commit LSN. */
export function ingestLagBytes(commit: bigint | null, lastRecordLsn: bigint): bigint | null {
  if (commit === null) return null;
  return commit > lastRecordLsn ? commit - lastRecordLsn : 0n;
}

export interface IngestLag {
  timelineId: string;
  /** The branch's name, or the timeline id for a timeline no branch names. */
  branch: string;
  lagBytes: bigint | null;
}

/** Every timeline's ingest lag now, from the same reads the Overview makes (a safekeeper that does not answer counts as reporting nothing). */
export async function readIngestLags(c: LocalCluster, timeoutMs: number): Promise<IngestLag[]> {
  const tenant = c.registry.tenantId;
  const [sk, ps] = await Promise.all([
    Promise.all(safekeeperTargets(c).map((t) => callService(t, `/v1/tenants/${tenant}/timelines`, safekeeperTimelines, { timeoutMs }).then((r) => r.timelines, () => []))),
    callClient(pageserverTarget(c), 'timeline list', (t) => timelineList(t, tenant, { timeoutMs })),
  ]);
  return ps.map((t) => {
    const commits = sk.flatMap((list) => list.filter((x) => x.timelineId === t.timelineId).map((x) => BigInt(x.commitLsn)));
    return {
      timelineId: t.timelineId,
      branch: c.registry.branches.find((b) => b.timelineId === t.timelineId)?.name ?? t.timelineId,
      lagBytes: ingestLagBytes(highestCommit(commits), t.lastRecordLsn),
    };
  });
}
