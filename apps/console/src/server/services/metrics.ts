/**
 * The metrics scraper: every node's /metrics, reduced to the series the
 * console charts, stored in Postgres and pruned to stay bounded.
 */
import { pageserverMetrics } from '@strata/client/pageserver-api';
import { insertSamples, pruneSamples, querySeries, type MetricSampleInput } from '@strata/db';
import type { ConsoleDeps } from '../deps';
import { callClient, callServiceText } from './http';
import { errorMessage } from './errors';
import { readComputeFiles, refreshLocalCluster, type LocalCluster } from './registry';
import { histogramQuantile, parsePrometheus, sumWhere, type Sample } from './prometheus';
import { pageserverTarget, safekeeperTargets } from './cluster';
import { readIngestLags } from './ingest-lag';

/** The charts: one stored series per (metric, source). Rates are computed at read time from counters. */
export const CHARTS = [
  { metric: 'wal_ingest_bytes_total', title: 'WAL ingest rate', unit: 'bytes/s', rate: true },
  { metric: 'commit_lag_p50_ms', title: 'Commit lag p50', unit: 'ms', rate: false },
  { metric: 'commit_lag_p99_ms', title: 'Commit lag p99', unit: 'ms', rate: false },
  { metric: 'getpage_p50_ms', title: 'GetPage p50', unit: 'ms', rate: false },
  { metric: 'getpage_p99_ms', title: 'GetPage p99', unit: 'ms', rate: false },
  { metric: 'tier_ratio_memory', title: 'GetPage served by the memory tier', unit: 'ratio', rate: false },
  { metric: 'tier_ratio_local', title: 'GetPage served by the local disk tier', unit: 'ratio', rate: false },
  { metric: 'tier_ratio_remote', title: 'GetPage served after a remote download', unit: 'ratio', rate: false },
  { metric: 'remote_downloads_total', title: 'Promotions from remote storage', unit: 'layers/s', rate: true },
  { metric: 'upload_backlog', title: 'Upload backlog', unit: 'files', rate: false },
  { metric: 'ingest_lag_bytes', title: 'Ingest lag', unit: 'bytes', rate: false },
] as const;
export type ChartMetric = (typeof CHARTS)[number]['metric'];

/** Share of GetPage pages each tier answered (cumulative since the page server started). */
export function tierRatios(samples: Sample[]): [ChartMetric, number][] {
  const tiers = ['memory', 'local', 'remote'] as const;
  const pages = tiers.map((tier) => sumWhere(samples, 'pageserver_getpage_tier_pages_total', { tier }));
  const total = pages.reduce((a, b) => a + b, 0);
  return tiers.map((tier, i) => [`tier_ratio_${tier}` as ChartMetric, total > 0 ? pages[i]! / total : 0]);
}

function reducePageserver(samples: Sample[]): [ChartMetric, number][] {
  const out: [ChartMetric, number][] = [
    ['wal_ingest_bytes_total', sumWhere(samples, 'pageserver_wal_ingest_bytes_total')],
    ['upload_backlog', sumWhere(samples, 'pageserver_remote_upload_queue')],
    ['remote_downloads_total', sumWhere(samples, 'pageserver_remote_downloads')],
  ];
  out.push(...tierRatios(samples));
  // GetPage latency: whichever histogram the page server exposes for it.
  const getpage = [...new Set(samples.map((s) => s.name).filter((n) => /getpage.*seconds_bucket$/.test(n)))].map((n) => n.replace(/_bucket$/, ''))[0];
  if (getpage) {
    const p50 = histogramQuantile(samples, getpage, 0.5);
    const p99 = histogramQuantile(samples, getpage, 0.99);
    out.push(['getpage_p50_ms', p50 === null ? 0 : p50 * 1000], ['getpage_p99_ms', p99 === null ? 0 : p99 * 1000]);
  }
  return out;
}

function reduceCompute(samples: Sample[]): [ChartMetric, number][] {
  const p50 = histogramQuantile(samples, 'strata_compute_commit_lag_seconds', 0.5);
  const p99 = histogramQuantile(samples, 'strata_compute_commit_lag_seconds', 0.99);
  return [
    ['commit_lag_p50_ms', p50 === null ? 0 : p50 * 1000],
    ['commit_lag_p99_ms', p99 === null ? 0 : p99 * 1000],
  ];
}

export interface ScrapeResult {
  stored: number;
  pruned: number;
  errors: string[];
}

/** One scrape round of every node; a node that fails is skipped (the overview reports it down). */
export async function scrapeOnce(deps: ConsoleDeps, cluster?: LocalCluster): Promise<ScrapeResult> {
  const c = cluster ?? (await refreshLocalCluster(deps));
  const at = deps.now();
  const rows: MetricSampleInput[] = [];
  const errors: string[] = [];
  const timeoutMs = 3_000;
  // The page server through its client; the safekeepers and computes have no typed metrics call.
  const plain = (label: string, url: string) => () => callServiceText({ label, url, token: c.token }, '/metrics', { timeoutMs });
  const scrape = async (source: string, read: () => Promise<string>, reduce: (s: Sample[]) => [ChartMetric, number][]) => {
    try {
      const text = await read();
      for (const [metric, value] of reduce(parsePrometheus(text))) {
        if (Number.isFinite(value)) rows.push({ clusterId: c.cluster.id, source, metric, labels: '', value, at });
      }
    } catch (e) {
      errors.push(errorMessage(e));
    }
  };
  await Promise.all([
    scrape('pageserver', () => callClient(pageserverTarget(c), 'metrics', (t) => pageserverMetrics(t, { timeoutMs })), reducePageserver),
    ...safekeeperTargets(c).map((t) => scrape(`safekeeper ${t.id}`, plain(t.label, t.url), () => [])),
    ...readComputeFiles(deps.home).map((f) => scrape(`compute ${f.name}`, plain(`compute ${f.name}`, f.controlUrl), reduceCompute)),
    // One series per branch, from the Overview's own reads (not the page server's gauge): the chart and the Overview agree.
    readIngestLags(c, timeoutMs).then(
      (lags) => {
        for (const l of lags) if (l.lagBytes !== null) rows.push({ clusterId: c.cluster.id, source: l.branch, metric: 'ingest_lag_bytes', labels: '', value: Number(l.lagBytes), at });
      },
      (e: unknown) => {
        errors.push(errorMessage(e));
      },
    ),
  ]);
  const stored = await insertSamples(deps.db, rows);
  const pruned = await pruneSamples(deps.db, { olderThan: new Date(at.getTime() - deps.metrics.retentionMs), rowsMax: deps.metrics.rowsMax });
  return { stored, pruned, errors };
}

export interface ChartSeries {
  metric: ChartMetric;
  title: string;
  unit: string;
  series: { source: string; points: { t: number; v: number }[] }[];
}

export async function charts(deps: ConsoleDeps, sinceMs: number): Promise<ChartSeries[]> {
  const c = await refreshLocalCluster(deps);
  const since = new Date(deps.now().getTime() - sinceMs);
  return Promise.all(
    CHARTS.map(async (chart) => {
      const points = await querySeries(deps.db, { clusterId: c.cluster.id, metric: chart.metric, since });
      const bySource = new Map<string, { t: number; v: number }[]>();
      for (const p of points) {
        const list = bySource.get(p.source) ?? [];
        list.push({ t: p.at.getTime(), v: p.value });
        bySource.set(p.source, list);
      }
      const series = [...bySource.entries()].map(([source, pts]) => ({
        source,
        points: chart.rate
          ? pts.slice(1).map((p, i) => {
              const prev = pts[i]!;
              const dt = (p.t - prev.t) / 1000;
              // A counter that went down is a restart: that interval has no rate.
              return { t: p.t, v: dt > 0 && p.v >= prev.v ? (p.v - prev.v) / dt : 0 };
            })
          : pts,
      }));
      return { metric: chart.metric, title: chart.title, unit: chart.unit, series };
    }),
  );
}

/** The background scraper of the Next server: one round per interval, never two at once. */
export function startScraper(deps: ConsoleDeps): () => void {
  if (deps.metrics.scrapeIntervalMs <= 0) return () => undefined;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    scrapeOnce(deps)
      .catch(() => undefined)
      .finally(() => {
        busy = false;
      });
  }, deps.metrics.scrapeIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
