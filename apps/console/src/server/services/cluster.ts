/**
 * The live view of the local cluster: every node's status fetched in
 * parallel (a node that does not answer is "down", never an error for the
 * page), recorded as node health, plus the alerts derived from it.
 */
import { type PageCacheStats, pageCacheStats, pageserverStatus, type TimelineDetails, timelineList } from '@strata/client/pageserver-api';
import { recordNodeHealth, type NodeRow } from '@strata/db';
import type { ConsoleDeps } from '../deps';
import { callClient, callService, type ServiceTarget } from './http';
import { errorMessage } from './errors';
import { computeExitRecords } from '@strata/client/local';
import { branchHref, diskBudgetAlert, fencedComputeAlert, lagAlerts, timelineAlerts, type Alert } from './alerts';
import { safekeeperAlerts } from './safekeeper-alerts';
import { readComputeFiles, refreshLocalCluster, type LocalCluster } from './registry';
import { computeStatus, safekeeperStatus, safekeeperTimelines } from './schemas';
import type { z } from 'zod';

export function targetOf(cluster: LocalCluster, node: Pick<NodeRow, 'kind' | 'name' | 'url'>): ServiceTarget {
  const label = node.kind === 'pageserver' ? 'pageserver' : `${node.kind} ${node.name}`;
  return { label, url: node.url, token: cluster.token };
}

export function pageserverTarget(cluster: LocalCluster): ServiceTarget {
  return { label: 'pageserver', url: cluster.registry.pageserver.url, token: cluster.token };
}

export function safekeeperTargets(cluster: LocalCluster): (ServiceTarget & { id: number })[] {
  return cluster.registry.safekeepers.map((s) => ({ id: s.id, label: `safekeeper ${s.id}`, url: s.url, token: cluster.token }));
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: string };

/** Whether a process with this pid exists (signal 0 checks without signalling). */
export function processAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await p };
  } catch (e) {
    return { ok: false, error: errorMessage(e) };
  }
}

export interface NodeView {
  kind: 'safekeeper' | 'pageserver' | 'compute';
  name: string;
  url: string;
  healthy: boolean;
  version: string | null;
  error: string | null;
}

export interface ClusterView {
  nodes: NodeView[];
  safekeeperTimelines: { nodeId: number; timelines: z.infer<typeof safekeeperTimelines>['timelines'] }[];
  pageserverTimelines: TimelineDetails[];
  pageCache: PageCacheStats | null;
  computes: (z.infer<typeof computeStatus> & { connectionUrl: string | null; healthy: boolean; error: string | null })[];
  alerts: Alert[];
}

export async function clusterView(deps: ConsoleDeps, cluster?: LocalCluster): Promise<ClusterView> {
  const c = cluster ?? (await refreshLocalCluster(deps));
  const tenant = c.registry.tenantId;
  const sks = safekeeperTargets(c);
  const ps = pageserverTarget(c);
  const computeFiles = readComputeFiles(deps.home);
  const [skStatus, skTimelines, psStatus, psTimelines, cache, computes] = await Promise.all([
    Promise.all(sks.map((t) => settle(callService(t, '/v1/status', safekeeperStatus, { timeoutMs: 2_000 })))),
    Promise.all(sks.map((t) => settle(callService(t, `/v1/tenants/${tenant}/timelines`, safekeeperTimelines, { timeoutMs: 2_000 })))),
    settle(callClient(ps, 'status', (t) => pageserverStatus(t, { timeoutMs: 2_000 }))),
    settle(callClient(ps, 'timeline list', (t) => timelineList(t, tenant, { timeoutMs: 2_000 }))),
    settle(callClient(ps, 'page cache', (t) => pageCacheStats(t, { timeoutMs: 2_000 }))),
    Promise.all(computeFiles.map((f) => settle(callService({ label: `compute ${f.name}`, url: f.controlUrl, token: c.token }, '/v1/status', computeStatus, { timeoutMs: 2_000 })))),
  ]);

  const nodes: NodeView[] = [];
  sks.forEach((t, i) => {
    const s = skStatus[i]!;
    nodes.push({ kind: 'safekeeper', name: String(t.id), url: t.url, healthy: s.ok, version: s.ok ? s.value.version : null, error: s.ok ? null : s.error });
  });
  nodes.push({ kind: 'pageserver', name: 'pageserver', url: ps.url, healthy: psStatus.ok, version: psStatus.ok ? psStatus.value.version : null, error: psStatus.ok ? null : psStatus.error });
  const computeViews: ClusterView['computes'] = [];
  computeFiles.forEach((f, i) => {
    const s = computes[i]!;
    if (!s.ok) {
      // A compute whose controller is gone stays on disk: only live ones are shown. One that is alive
      // but did not answer in time (a busy machine) is shown as unhealthy rather than vanishing.
      if (!processAlive(f.controllerPid)) return;
      const view = { name: f.name, mode: f.mode, state: 'unreachable', timelineId: f.timelineId, port: f.port ?? 0, shipper: null, error: s.error };
      computeViews.push({ ...view, connectionUrl: f.connectionUrl ?? null, healthy: false });
      nodes.push({ kind: 'compute', name: f.name, url: f.controlUrl, healthy: false, version: null, error: s.error });
      return;
    }
    computeViews.push({ ...s.value, connectionUrl: f.connectionUrl ?? null, healthy: s.value.state === 'running', error: s.value.error ?? null });
    nodes.push({ kind: 'compute', name: f.name, url: f.controlUrl, healthy: s.value.state === 'running', version: null, error: s.value.error ?? null });
  });

  // Health is recorded so the overview can say since when a node is down.
  const at = deps.now();
  for (const row of c.nodes) {
    const v = nodes.find((n) => n.kind === row.kind && n.name === row.name);
    if (v) await recordNodeHealth(deps.db, row.id, { healthy: v.healthy, version: v.version, lastError: v.error, at });
  }

  const alerts: ClusterView['alerts'] = [];
  for (const n of nodes) if (!n.healthy) alerts.push({ severity: 'critical', message: `${n.kind} ${n.name} is down: ${n.error ?? 'no answer'}`, href: n.kind === 'compute' ? '/computes' : n.kind === 'pageserver' ? '/pageservers' : '/safekeepers' });
  const timelines = psTimelines.ok ? psTimelines.value : [];
  const skTl = sks.map((t, i) => ({ nodeId: t.id, timelines: skTimelines[i]!.ok ? (skTimelines[i] as { ok: true; value: z.infer<typeof safekeeperTimelines> }).value.timelines : [] }));
  for (const tl of timelines) {
    const named = c.registry.branches.find((b) => b.timelineId === tl.timelineId)?.name;
    const branch = named ?? tl.timelineId;
    // Alerts about one branch's timeline lead to that branch's page; node alerts to the node's.
    const href = branchHref(named);
    const commit = skTl.flatMap((s) => s.timelines.filter((x) => x.timelineId === tl.timelineId).map((x) => BigInt(x.commitLsn))).reduce((a, b) => (b > a ? b : a), 0n);
    alerts.push(...lagAlerts(branch, { commitLsn: commit, lastRecordLsn: tl.lastRecordLsn, diskConsistentLsn: tl.diskConsistentLsn }, href));
    alerts.push(...timelineAlerts(branch, tl, href));
    alerts.push(
      ...safekeeperAlerts(
        branch,
        sks.map((t, i) => {
          const held = skTl[i]!.timelines.find((x) => x.timelineId === tl.timelineId);
          return { nodeId: t.id, answered: skTimelines[i]!.ok, timeline: held ? { flushLsn: BigInt(held.flushLsn), conf: held.conf } : undefined };
        }),
      ),
    );
  }
  const disk = psStatus.ok ? diskBudgetAlert(psStatus.value) : undefined;
  if (disk) alerts.push(disk);
  if (cache.ok && cache.value.capacityBytes > 0 && cache.value.bytes / cache.value.capacityBytes > 0.95) {
    alerts.push({ severity: 'warning', message: `page cache is ${Math.round((100 * cache.value.bytes) / cache.value.capacityBytes)}% of its budget`, href: '/pageservers' });
  }
  for (const cv of computeViews) {
    if (cv.shipper && cv.shipper.lagMs > 5_000) alerts.push({ severity: 'warning', message: `compute ${cv.name}: shipper lag ${cv.shipper.lagMs} ms (RPO window)`, href: '/computes' });
  }
  for (const rec of computeExitRecords(deps.home)) {
    if (rec.code !== 'ProposerFencedByTerm') continue;
    alerts.push(fencedComputeAlert(rec, c.registry.branches.find((b) => b.timelineId === rec.timelineId)?.name));
  }
  return { nodes, safekeeperTimelines: skTl, pageserverTimelines: timelines, pageCache: cache.ok ? cache.value : null, computes: computeViews, alerts };
}
