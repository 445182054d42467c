/**
 * The soak benchmark's eyes: while the workload runs, a sample every 10 s of what the issue
 * asks to watch (TPS, ingest and remote-consistent lag, GetPage reconstruction p50/p99, layer
 * counts, page server RSS, safekeeper and page server disk), printed as one line each, and
 * the ingest lag every 2 s for the bulk-load goal. It also notices a page server that is gone.
 */
import { join } from 'node:path';
import { count, MIB } from './bench.js';
import {
  bucketDelta, type Buckets, bucketSum, daemonPid, duBytes, failedPages, getPages, type GetPageProbe, histogram, layerCounts, type LayerCounts, type LocalClusterInfo,
  observations, pageserverMetrics, pageserverTimeline, type PageKey, type PromSample, quantile, rssBytes, safekeeperTimelines, select, timelineLayers, timelineOf,
} from './cluster-probe.js';
import { query, type Target } from './strata-local.js';

const PREFIX = 'soak';

export const SAMPLE_INTERVAL_MS = 10_000;
/** The ingest-lag goal is judged on finer points than the printed samples: a quick bulk load lasts a few samples only. */
export const LAG_PROBE_INTERVAL_MS = 2_000;

/**
 * The GetPage probe: the system tablespace's first pages (TRX_SYS, the first rollback segment,
 * the dictionary header, undo pages) and, per table, its first pages (FSP header, inode page,
 * index roots) and pages spread through the file. Hot pages gather the longest histories.
 */
const PROBE = { systemPages: 48, hotPages: 5, spreadPages: 24 };

export const mibText = (bytes: number | null): string => (bytes === null ? '-' : `${(bytes / MIB).toFixed(1)} MiB`);
const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type Phase = 'bulk' | 'catch-up' | 'prepare' | 'oltp' | 'pause' | 'settle' | 'restart' | 'basebackup' | 'baseline' | 'verify';

export interface Sample {
  readonly tSec: number;
  readonly phase: Phase;
  readonly tps: number | null;
  readonly rowsPerSec: number | null;
  readonly commitLsn: string | null;
  readonly ingestedLsn: string | null;
  readonly ingestLagBytes: number | null;
  /** The page server's last ingested LSN − remote_consistent_lsn: how far uploads trail ingest (issue 10 bounds this). */
  readonly remoteLagBytes: number | null;
  /** Bytes the page server's upload queue still has to send. */
  readonly uploadQueueBytes: number | null;
  /** ioP99Ms: the p99 of the part blocked reading layer files (stage "layer_io"), NaN from a server without it. */
  readonly reconstruct: { n: number; p50Ms: number; p99Ms: number; ioP99Ms: number } | null;
  /** The benchmark's own GetPage batch at the last ingested LSN, sent just before the scrape. */
  readonly probe: GetPageProbe | null;
  readonly layers: LayerCounts | null;
  readonly pageserverRssBytes: number | null;
  readonly safekeeperDiskBytes: number[] | null;
  readonly pageserverDiskBytes: number | null;
  readonly errors: string[];
}

export interface LagPoint {
  readonly tSec: number;
  readonly phase: Phase;
  readonly lagBytes: number;
}

/**
 * Scrapes the cluster every 10 s (and the ingest lag every 2 s) while the workload runs, prints
 * one line per sample, and notices a page server that is gone. Each reader fails alone: a
 * failed scrape leaves a gap in its column and an error line, never a stopped benchmark.
 */
export class Sampler {
  phase: Phase = 'bulk';
  /** Rows the bulk load has committed so far (it updates this). */
  rowsInserted = 0;
  /** main's compute while it runs (TPS comes from its Com_commit); undefined while it restarts. */
  main: Target | undefined;
  readonly samples: Sample[] = [];
  readonly lagPoints: LagPoint[] = [];
  /** Reconstruction histogram summed over the run's intervals. */
  runReconstruct: Buckets | undefined;
  lastMetrics: PromSample[] = [];
  pageserverGone: string | undefined;
  private probeKeys: PageKey[] = systemPages();
  private prevReconstruct: Buckets | undefined;
  private prevLayerIo: Buckets | undefined;
  private prevCommits: { n: number; atMs: number } | undefined;
  private prevRows: { n: number; atMs: number } | undefined;
  private stopped = false;
  private loops: Promise<void>[] = [];
  private readonly t0 = performance.now();
  private readonly timelineId: string;

  constructor(
    private readonly info: LocalClusterInfo,
    private readonly onPageserverGone: (reason: string) => void,
  ) {
    this.timelineId = timelineOf(info, 'main');
  }

  nowSec(): number {
    return (performance.now() - this.t0) / 1000;
  }

  start(): void {
    printHeader();
    // The first sample's rates count from here.
    this.prevRows = { n: this.rowsInserted, atMs: performance.now() };
    this.loops = [this.every(SAMPLE_INTERVAL_MS, () => this.sample()), this.every(LAG_PROBE_INTERVAL_MS, () => this.probeLag())];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  /** Runs `fn` at fixed boundaries; a slow round skips the boundaries it overran instead of piling up. */
  private async every(intervalMs: number, fn: () => Promise<void>): Promise<void> {
    let next = performance.now() + intervalMs;
    while (!this.stopped) {
      while (!this.stopped && performance.now() < next) await sleep(Math.min(250, next - performance.now()));
      if (this.stopped) return;
      // sample() reports its own failures per reader; a lag probe that fails is only a missing point.
      await fn().catch(() => undefined);
      while (next <= performance.now()) next += intervalMs;
    }
  }

  private checkPageserver(): number | undefined {
    const pid = daemonPid(this.info.home, 'pageserver');
    if (pid === undefined && this.pageserverGone === undefined) {
      this.pageserverGone = `the page server process is gone (phase ${this.phase}, ${this.nowSec().toFixed(0)} s into the run)`;
      this.onPageserverGone(this.pageserverGone);
    }
    return pid;
  }

  private async probeLag(): Promise<void> {
    if (this.checkPageserver() === undefined) return;
    const [ps, sks] = await Promise.all([pageserverTimeline(this.info, this.timelineId), safekeeperTimelines(this.info, this.timelineId)]);
    const commit = sks.reduce((m, s) => (s.commitLsn > m ? s.commitLsn : m), 0n);
    this.lagPoints.push({ tSec: this.nowSec(), phase: this.phase, lagBytes: Number(commit > ps.lastRecordLsn ? commit - ps.lastRecordLsn : 0n) });
  }

  private async sample(): Promise<void> {
    const errors: string[] = [];
    const attempt = async <T>(what: string, fn: () => Promise<T> | T): Promise<T | null> => {
      try {
        return await fn();
      } catch (e) {
        errors.push(`${what}: ${errText(e).split('\n')[0]!.slice(0, 240)}`);
        return null;
      }
    };
    const phase = this.phase;
    const pid = this.checkPageserver();
    // The computes here start from basebackups and read no page through GetPage: the probe is
    // what exercises reconstruction, so it goes first and its pages land in this interval.
    const probe = pid === undefined ? null : await attempt('GetPage probe', () => this.probe());
    if (probe && failedPages(probe) > 0) errors.push(`GetPage probe: ${failedPages(probe)} of ${probe.pages} pages failed (${JSON.stringify(probe.statuses)})`);
    const [metrics, ps, sks, layers, tps, sk, psDisk] = await Promise.all([
      attempt('metrics', () => pageserverMetrics(this.info)),
      attempt('timeline', () => pageserverTimeline(this.info, this.timelineId)),
      attempt('safekeepers', () => safekeeperTimelines(this.info, this.timelineId)),
      attempt('layers', () => timelineLayers(this.info, this.timelineId)),
      // The bulk load commits without BEGIN/COMMIT, so Com_commit does not see it: it has its rows/s instead.
      this.main && phase !== 'bulk' ? attempt('tps', () => this.tps(this.main!)) : Promise.resolve(null),
      attempt('safekeeper du', () => Promise.all(this.info.safekeepers.map((s) => duBytes(join(this.info.home, 'safekeepers', String(s.id)))))),
      attempt('page server du', () => duBytes(join(this.info.home, 'pageserver'))),
    ]);
    const rss = pid === undefined ? null : await attempt('rss', () => rssBytes(pid));
    if (metrics) this.lastMetrics = metrics;
    const commit = sks ? sks.reduce((m, s) => (s.commitLsn > m ? s.commitLsn : m), 0n) : null;
    const remote = metrics ? this.remoteConsistentLsn(metrics) : null;
    const remoteLsn = remote ?? (sks ? sks.reduce((m, s) => (s.remoteConsistentLsn > m ? s.remoteConsistentLsn : m), 0n) : null);
    const s: Sample = {
      tSec: Math.round(this.nowSec()),
      phase,
      tps,
      rowsPerSec: this.rowsPerSec(phase),
      commitLsn: commit?.toString() ?? null,
      ingestedLsn: ps?.lastRecordLsn.toString() ?? null,
      ingestLagBytes: commit !== null && ps ? Number(commit > ps.lastRecordLsn ? commit - ps.lastRecordLsn : 0n) : null,
      remoteLagBytes: ps && remoteLsn !== null ? Number(ps.lastRecordLsn > remoteLsn ? ps.lastRecordLsn - remoteLsn : 0n) : null,
      uploadQueueBytes: metrics ? this.uploadQueueBytes(metrics) : null,
      reconstruct: metrics ? this.reconstruct(metrics) : null,
      probe,
      layers: layers ? layerCounts(layers) : null,
      pageserverRssBytes: rss,
      safekeeperDiskBytes: sk,
      pageserverDiskBytes: psDisk,
      errors,
    };
    this.samples.push(s);
    printSample(s);
  }

  private async probe(): Promise<GetPageProbe> {
    if (this.main) this.probeKeys = await tablePages(this.main).catch(() => this.probeKeys);
    const head = await pageserverTimeline(this.info, this.timelineId);
    return getPages(this.info, this.timelineId, this.probeKeys, head.lastRecordLsn);
  }

  private uploadQueueBytes(metrics: readonly PromSample[]): number | null {
    const row = select(metrics, 'pageserver_remote_upload_queue_bytes', { tenant_id: this.info.tenantId, timeline_id: this.timelineId })[0];
    return row ? Number(row.raw) : null;
  }

  private remoteConsistentLsn(metrics: readonly PromSample[]): bigint | null {
    const row = select(metrics, 'pageserver_remote_consistent_lsn', { tenant_id: this.info.tenantId, timeline_id: this.timelineId })[0];
    return row ? BigInt(row.raw) : null;
  }

  /** The interval's reconstruction quantiles, from the difference of two scrapes of the cumulative histogram. */
  private reconstruct(metrics: readonly PromSample[]): Sample['reconstruct'] {
    const cur = histogram(metrics, 'pageserver_getpage_seconds', { stage: 'reconstruct' });
    if (!cur) return { n: 0, p50Ms: Number.NaN, p99Ms: Number.NaN, ioP99Ms: Number.NaN };
    const d = bucketDelta(this.prevReconstruct, cur);
    this.prevReconstruct = cur;
    this.runReconstruct = bucketSum(this.runReconstruct, d);
    const io = histogram(metrics, 'pageserver_getpage_seconds', { stage: 'layer_io' });
    let ioP99Ms = Number.NaN;
    if (io) {
      const dio = bucketDelta(this.prevLayerIo, io);
      this.prevLayerIo = io;
      if (observations(dio) > 0) ioP99Ms = quantile(dio, 0.99) * 1000;
    }
    return { n: observations(d), p50Ms: quantile(d, 0.5) * 1000, p99Ms: quantile(d, 0.99) * 1000, ioP99Ms };
  }

  /** Commits per second on main (sysbench commits explicitly; the bulk load's autocommit INSERTs are counted as rows). */
  private async tps(main: Target): Promise<number | null> {
    const rows = await query(main, "SHOW GLOBAL STATUS LIKE 'Com_commit'", 5_000);
    const now = { n: Number(rows[0]?.['Value'] ?? Number.NaN), atMs: performance.now() };
    const prev = this.prevCommits;
    this.prevCommits = now;
    // A restarted server counts from zero again.
    if (!prev || now.n < prev.n) return null;
    return ((now.n - prev.n) * 1000) / (now.atMs - prev.atMs);
  }

  private rowsPerSec(phase: Phase): number | null {
    const now = { n: this.rowsInserted, atMs: performance.now() };
    const prev = this.prevRows;
    this.prevRows = now;
    if (!prev || (phase !== 'bulk' && now.n === prev.n)) return null;
    return ((now.n - prev.n) * 1000) / (now.atMs - prev.atMs);
  }
}

function systemPages(): PageKey[] {
  return Array.from({ length: PROBE.systemPages }, (_, pageNo) => ({ spaceId: 0, pageNo }));
}

/** The probe's pages, from the tablespaces as they are now (files grow during the run). */
async function tablePages(main: Target): Promise<PageKey[]> {
  const rows = await query(main, "SELECT SPACE, FILE_SIZE, PAGE_SIZE FROM information_schema.INNODB_SYS_TABLESPACES WHERE NAME LIKE 'soak/%' OR NAME LIKE 'sbtest/%'", 5_000);
  const keys = systemPages();
  for (const r of rows) {
    const spaceId = Number(r['SPACE']);
    const pages = Math.floor(Number(r['FILE_SIZE']) / Number(r['PAGE_SIZE']));
    for (let p = 0; p < Math.min(PROBE.hotPages, pages); p++) keys.push({ spaceId, pageNo: p });
    const rest = pages - PROBE.hotPages;
    for (let i = 0; rest > 0 && i < PROBE.spreadPages; i++) keys.push({ spaceId, pageNo: PROBE.hotPages + Math.floor((i * rest) / PROBE.spreadPages) });
  }
  // Small files repeat the same page in the spread: ask once.
  return [...new Map(keys.map((k) => [`${k.spaceId}:${k.pageNo}`, k])).values()];
}

const COLUMNS: [string, number][] = [
  ['t(s)', 5], ['phase', 10], ['tps', 7], ['rows/s', 8], ['ingest-lag', 11], ['remote-lag', 11], ['upload-queue', 13], ['reconstruct p50/p99 ms (n)', 28],
  ['L0/deltas/images', 17], ['ps RSS', 10], ['sk disk (max)', 14], ['ps disk', 11],
];

function row(cells: string[]): string {
  return cells.map((c, i) => (i <= 1 ? c.padEnd(COLUMNS[i]![1]) : c.padStart(COLUMNS[i]![1]))).join(' ');
}

function printHeader(): void {
  process.stdout.write(`${PREFIX}: ${row(COLUMNS.map(([h]) => h))}\n`);
}

export function reconstructText(r: Sample['reconstruct']): string {
  if (!r) return '-';
  if (r.n === 0) return '- (0)';
  return `${r.p50Ms.toFixed(3)}/${r.p99Ms.toFixed(3)} (${count(r.n)})`;
}

function printSample(s: Sample): void {
  const sk = s.safekeeperDiskBytes;
  process.stdout.write(
    `${PREFIX}: ${row([
      String(s.tSec), s.phase, s.tps === null ? '-' : s.tps.toFixed(0), s.rowsPerSec === null ? '-' : count(s.rowsPerSec), mibText(s.ingestLagBytes), mibText(s.remoteLagBytes), mibText(s.uploadQueueBytes),
      reconstructText(s.reconstruct), s.layers ? `${s.layers.l0}/${s.layers.deltas}/${s.layers.images}` : '-', mibText(s.pageserverRssBytes),
      sk ? mibText(Math.max(...sk)) : '-', mibText(s.pageserverDiskBytes),
    ])}\n`,
  );
  for (const e of s.errors) process.stdout.write(`${PREFIX}:   ! scrape failed: ${e}\n`);
}
