/**
 * getpage: how fast a page server process serves GetPage@LSN over loopback, per tier, against
 * `pread` of the same pages from MariaDB's own `.ibd` files in the same run.
 *
 * 1. A private mariadbd runs the redo-apply workload (bench/support/redo-workload.ts) for
 *    ≥ --size-mb MiB of redo (default 40) between a base and a final datadir.
 * 2. A page server data directory is built in this process: the base imported as the root
 *    timeline, every mtr of final/ib_logfile0 ingested, open layers frozen at 8 MiB (so the
 *    timeline has an image layer and a stack of delta layers, as after real ingest).
 * 3. The pages: every page of the workload's tables (test.orders, test.events, test.docs) up to
 *    PAGES_MAX, at the end LSN; each must come back OK and is compared with the final datadir.
 * 4. Baseline: `fs.readSync` of the same page numbers from the final datadir's .ibd files (in
 *    the OS page cache after a warm-up pass): per-page latency and pages/s.
 * 5. A real `./strata pageserver` process (remote storage in a local directory), measured from
 *    this process with @strata/client's PageserverClient:
 *    (b) local-layer reconstruction: `--page-cache-bytes 0`;
 *    (c) cold from remote storage: same server, every layer evicted before each sample;
 *    (a) memory-cache hits: restarted with the default cache, after a warm-up pass.
 *    Single-page latency is one request in flight on the stream; throughput is batches of
 *    BATCH pages with DEPTH batches in flight. The plain HTTP route is measured beside (a) to
 *    show what the stream buys.
 * 6. Built vs source: every step of 5 runs against two page servers, up at the same time on two
 *    copies of the data directory (each with its own remote storage): the built one (`./strata`,
 *    the CLI's esbuild bundle, what users run; the headline) and the same CLI from its TypeScript
 *    source under tsx (how the page server ran before the build). Warm rounds alternate between
 *    them, the order flipped every round; the compaction and cold steps run on one, then the
 *    other. Ratios tsx / built (time) and built / tsx (pages/s): above 1, the bundle is faster.
 * Every warm measurement is repeated ROUNDS times; the median round is reported (the machine is
 * shared: the load average is printed).
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PageserverClient } from '@strata/client';
import { openLogFile } from '@strata/datadir';
import { TenantManager } from '../apps/pageserver/src/tenant-manager.js';
import { GetPageStatus, type GetPageRequest } from '@strata/core/getpage';
import { memoryLogger } from '@strata/service-kit';
import { removeTempDir, type StartOptions } from '../test/support/mariadb.js';
import { pageserver, type PageserverProcess } from '../test/support/pageserver.js';
import { type RunFrom } from '../test/support/service-process.js';
import { type Bench, type BenchOptions, count, describeMachine, formatMachine, type Machine, MIB } from './support/bench.js';
import { replaceMarkedSection } from './support/docs-section.js';
import { type RecordedWorkload, recordRedoWorkload } from './support/redo-workload.js';

const NAME = 'getpage';
const DEFAULT_SIZE_MB = 40;
/** Runs at least this big update docs/benchmarks.md and bench/results/getpage.json. */
const RECORDED_SIZE_MB_MIN = 40;
const PAGE_SIZE = 16384;
const PAGES_MAX = 4000;
const BATCH = 64;
const DEPTH = 4;
const ROUNDS = 5;
const COLD_SAMPLES = 8;
const COLD_BATCH_SAMPLES = 3;
const CHECKPOINT_BYTES = 8 << 20;
const TABLE_FILES = ['test/orders.ibd', 'test/events.ibd', 'test/docs.ibd'] as const;
const SERVER: StartOptions = { logFileSize: '1G', bufferPoolSize: '512M', startTimeoutMs: 600_000 };
const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const RESULTS_JSON = join(REPO_ROOT, 'bench/results/getpage.json');
const DOCS_MD = join(REPO_ROOT, 'docs/benchmarks.md');

// ---------------------------------------------------------------------------------------------
// Numbers

interface Latency {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly samples: number;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function latencyOf(ms: number[]): Latency {
  const s = [...ms].sort((a, b) => a - b);
  return { p50Ms: quantile(s, 0.5), p99Ms: quantile(s, 0.99), meanMs: s.reduce((a, b) => a + b, 0) / s.length, samples: s.length };
}

/** The round with the median p50 (its p99 and mean come with it: one coherent run). */
function medianRound(rounds: Latency[]): Latency {
  return [...rounds].sort((a, b) => a.p50Ms - b.p50Ms)[Math.floor(rounds.length / 2)]!;
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

const ms = (x: number): string => (x >= 10 ? `${x.toFixed(1)} ms` : `${x.toFixed(3)} ms`);

// ---------------------------------------------------------------------------------------------
// The data

interface TablePages {
  readonly path: string;
  readonly spaceId: number;
  readonly pages: number;
}

interface Pages {
  readonly tables: TablePages[];
  /** The requests, one per page, at the end LSN. */
  readonly reqs: GetPageRequest[];
  /** Which table file and offset each request reads in the baseline. */
  readonly files: { fd: number; offset: number }[];
}

function pickPages(finalDir: string, lsn: bigint): Pages {
  const tables = TABLE_FILES.map((rel): TablePages => {
    const path = join(finalDir, rel);
    const head = Buffer.alloc(PAGE_SIZE);
    const fd = openSync(path, 'r');
    readSync(fd, head, 0, PAGE_SIZE, 0);
    closeSync(fd);
    return { path, spaceId: head.readUInt32BE(34), pages: Math.floor(statSync(path).size / PAGE_SIZE) };
  });
  // Only pages MariaDB wrote: a file's unused extents are zeros, which the page server rightly does not have.
  const written: { fd: number; spaceId: number; pageNo: number }[] = [];
  const head = Buffer.alloc(38);
  for (const t of tables) {
    const fd = openSync(t.path, 'r');
    for (let pageNo = 0; pageNo < t.pages; pageNo++) {
      readSync(fd, head, 0, head.length, pageNo * PAGE_SIZE);
      if (head.readBigUInt64BE(16) !== 0n) written.push({ fd, spaceId: t.spaceId, pageNo });
    }
  }
  const step = Math.max(1, written.length / PAGES_MAX);
  const reqs: GetPageRequest[] = [];
  const files: { fd: number; offset: number }[] = [];
  for (let x = 0; x < written.length; x += step) {
    const w = written[Math.floor(x)]!;
    reqs.push({ spaceId: w.spaceId, pageNo: w.pageNo, lsn });
    files.push({ fd: w.fd, offset: w.pageNo * PAGE_SIZE });
  }
  return { tables, reqs, files };
}

/** A fixed shuffle (the same order for every tier and the baseline), so no tier gets sequential reads the others do not. */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Import the base and ingest all of the final log into a page server data directory, in this process. */
function buildDataDir(rec: RecordedWorkload, dataDir: string): { tenantId: string; timelineId: string; importLsn: bigint; endLsn: bigint; mtrs: number; layers: number } {
  const tenants = TenantManager.open({ dataDir, log: memoryLogger(), checkpointBytes: CHECKPOINT_BYTES });
  try {
    const imp = tenants.importDatadir(rec.base, {});
    const t = imp.timeline;
    const reader = openLogFile(join(rec.final, 'ib_logfile0'));
    let mtrs = 0;
    try {
      for (const m of reader.mtrs(imp.lsn, PAGE_SIZE)) {
        t.ingest(m);
        mtrs++;
      }
    } finally {
      reader.close();
    }
    t.flush();
    return { tenantId: t.tenantId, timelineId: t.timelineId, importLsn: imp.lsn, endLsn: t.lastRecordLsn, mtrs, layers: t.layers.length };
  } finally {
    tenants.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Measuring

interface TierResult {
  readonly single: Latency;
  readonly pagesPerSecond: number;
  readonly singleRounds: Latency[];
  readonly throughputRounds: number[];
}

function preadTier(p: Pages, order: number[]): TierResult {
  const buf = Buffer.alloc(PAGE_SIZE);
  const read = (i: number): void => {
    const f = p.files[i]!;
    readSync(f.fd, buf, 0, PAGE_SIZE, f.offset);
  };
  for (const i of order) read(i); // warm the OS page cache
  const singleRounds: Latency[] = [];
  const throughputRounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const lat: number[] = [];
    for (const i of order) {
      const t0 = performance.now();
      read(i);
      lat.push(performance.now() - t0);
    }
    singleRounds.push(latencyOf(lat));
    const t0 = performance.now();
    for (const i of order) read(i);
    throughputRounds.push((order.length * 1000) / (performance.now() - t0));
  }
  return { single: medianRound(singleRounds), pagesPerSecond: median(throughputRounds), singleRounds, throughputRounds };
}

type Fetch = (batch: GetPageRequest[]) => Promise<unknown>;

async function singleLatency(get: Fetch, reqs: GetPageRequest[]): Promise<Latency> {
  const lat: number[] = [];
  for (const r of reqs) {
    const t0 = performance.now();
    await get([r]);
    lat.push(performance.now() - t0);
  }
  return latencyOf(lat);
}

/** Batches of `batch` pages with `depth` in flight; pages per second. */
/**
 * Pages per throughput round at least: the page list is repeated up to this, so a round lasts
 * long enough (≥ 0.1 s at 100k pages/s) that one GC pause or scheduling hiccup does not decide it.
 */
const THROUGHPUT_PAGES_MIN = 16_384;

/** Pages per second over batches of `pages`, `depth` in flight; the list is repeated up to `pagesMin` pages (0: once, for cold reads). */
async function throughput(get: Fetch, pages: GetPageRequest[], batch: number, depth: number, pagesMin = THROUGHPUT_PAGES_MIN): Promise<number> {
  // Whole batches of the list, repeated: the same pages and batch boundaries every pass.
  const passes = Math.max(1, Math.ceil(pagesMin / pages.length));
  const batches: GetPageRequest[][] = [];
  for (let p = 0; p < passes; p++) for (let i = 0; i < pages.length; i += batch) batches.push(pages.slice(i, i + batch));
  let next = 0;
  let total = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < batches.length) {
      const b = batches[next++]!;
      total += b.length;
      await get(b);
    }
  };
  await Promise.all(Array.from({ length: depth }, worker));
  return (total * 1000) / (performance.now() - t0);
}

/**
 * Issue 10's rule that background work stays off the request path: GetPage
 * (one page in flight, no cache) while an admin compaction with `force`
 * images every partition with changes, against the same pages idle.
 */
async function duringCompactionTier(ps: PageserverProcess, get: Fetch, ids: { tenantId: string; timelineId: string }, reqs: GetPageRequest[]): Promise<DuringCompaction> {
  const t0 = performance.now();
  let done = false;
  const compaction = json<{ imageLayers: number; imagePages: number }>(`${ps.url}/v1/tenants/${ids.tenantId}/timelines/${ids.timelineId}/compact?force=true`, { method: 'POST' }).finally(() => {
    done = true;
  });
  const lat: number[] = [];
  // Bounded: the compaction of this data takes seconds; the list is walked again until it ends.
  for (let pass = 0; !done && pass < 1000; pass++) {
    for (const r of reqs) {
      if (done) break;
      const s0 = performance.now();
      await get([r]);
      lat.push(performance.now() - s0);
    }
  }
  const r = await compaction;
  return { single: latencyOf(lat.length ? lat : [0]), compactionMs: performance.now() - t0, imageLayers: r.imageLayers, imagePages: r.imagePages };
}

/**
 * The same measurement of each server (built, from source), a round of each in turn, the order
 * flipped every round: a burst of other work on the shared machine lands on both, and neither is
 * always first.
 */
async function warmTiers(gets: readonly Fetch[], reqs: GetPageRequest[], depth: number): Promise<TierResult[]> {
  const singleRounds: Latency[][] = gets.map(() => []);
  const throughputRounds: number[][] = gets.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    const turn = gets.map((_, i) => i);
    if (r % 2 === 1) turn.reverse();
    for (const i of turn) {
      singleRounds[i]!.push(await singleLatency(gets[i]!, reqs));
      throughputRounds[i]!.push(await throughput(gets[i]!, reqs, BATCH, depth));
    }
  }
  return gets.map((_, i) => ({ single: medianRound(singleRounds[i]!), pagesPerSecond: median(throughputRounds[i]!), singleRounds: singleRounds[i]!, throughputRounds: throughputRounds[i]! }));
}

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

interface EvictReply {
  evicted: string[];
  localLayerBytes: number;
  layers: number;
}

async function evictAll(ps: PageserverProcess, tenantId: string, timelineId: string, timeoutMs = 120_000): Promise<EvictReply> {
  const url = `${ps.url}/v1/tenants/${tenantId}/timelines/${timelineId}/evict`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Only layers already uploaded can go: right after start the upload queue may still be busy.
    const r = await json<EvictReply>(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ budgetBytes: 0 }) });
    if (r.localLayerBytes === 0) return r;
    if (Date.now() > deadline) throw new Error(`layers still local after ${timeoutMs} ms: ${r.localLayerBytes} bytes`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

interface ColdResult {
  readonly single: Latency;
  readonly pagesPerSecond: number;
  readonly layerBytes: number;
  readonly layers: number;
}

async function coldTier(ps: PageserverProcess, client: PageserverClient, ids: { tenantId: string; timelineId: string }, reqs: GetPageRequest[]): Promise<ColdResult> {
  const info = await json<{ layerBytes: number; layers: number }>(`${ps.url}/v1/tenants/${ids.tenantId}/timelines/${ids.timelineId}`);
  const lat: number[] = [];
  for (let i = 0; i < COLD_SAMPLES; i++) {
    await evictAll(ps, ids.tenantId, ids.timelineId);
    const r = reqs[(i * 7919) % reqs.length]!;
    const t0 = performance.now();
    const [item] = await client.getPages([r]);
    lat.push(performance.now() - t0);
    if (item?.status !== GetPageStatus.OK) throw new Error(`cold page ${r.spaceId}:${r.pageNo}: status ${item?.status}`);
  }
  const rates: number[] = [];
  for (let i = 0; i < COLD_BATCH_SAMPLES; i++) {
    await evictAll(ps, ids.tenantId, ids.timelineId);
    const from = (i * BATCH * 5) % Math.max(1, reqs.length - BATCH);
    rates.push(await throughput((b) => client.getPages(b), reqs.slice(from, from + BATCH), BATCH, 1, 0));
  }
  return { single: latencyOf(lat), pagesPerSecond: median(rates), layerBytes: info.layerBytes, layers: info.layers };
}

/** Mean seconds per observation of each GetPage stage, from the server's /metrics. */
async function stageMeans(ps: PageserverProcess): Promise<Record<string, { meanMs: number; count: number }>> {
  const text = await (await fetch(`${ps.url}/metrics`)).text();
  const out: Record<string, { meanMs: number; count: number }> = {};
  for (const stage of ['wait', 'download', 'lookup', 'reconstruct', 'encode']) {
    const sum = new RegExp(`^pageserver_getpage_seconds_sum\\{stage="${stage}"\\} (\\S+)$`, 'm').exec(text);
    const cnt = new RegExp(`^pageserver_getpage_seconds_count\\{stage="${stage}"\\} (\\S+)$`, 'm').exec(text);
    if (sum && cnt && Number(cnt[1]) > 0) out[stage] = { meanMs: (Number(sum[1]) * 1000) / Number(cnt[1]), count: Number(cnt[1]) };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

/** Single-page reconstruction latency sampled while a forced compaction rewrites every key partition. */
interface DuringCompaction {
  readonly single: Latency;
  readonly compactionMs: number;
  readonly imageLayers: number;
  readonly imagePages: number;
}

type Stages = Record<string, { meanMs: number; count: number }>;

/** What one page server process (built or from source) did with cache off, then on. */
interface ServerMeasured {
  readonly runFrom: RunFrom;
  readonly identical: number;
  readonly local: TierResult;
  readonly duringCompaction: DuringCompaction;
  readonly cold: ColdResult;
  readonly cached: TierResult;
  readonly http: TierResult;
  readonly cacheStats: { hits: number; misses: number; bytes: number; entries: number; evictions: number };
  readonly stagesLocal: Stages;
  readonly stagesCached: Stages;
}

interface Measured {
  readonly machine: Machine;
  readonly redoMiB: number;
  readonly build: ReturnType<typeof buildDataDir> & { ms: number };
  readonly pages: number;
  readonly pread: TierResult;
  /** The built server (`./strata pageserver`): the headline. */
  readonly built: ServerMeasured;
  /** The same CLI from its TypeScript source under tsx. */
  readonly source: ServerMeasured;
  readonly loadAfter: number;
}

const x = (oursMs: number, baseMs: number): string => `${(oursMs / baseMs).toFixed(1)}× pread`;
const xr = (ours: number, base: number): string => `${(ours / base).toFixed(2)}× pread`;

const RUN_FROM_LABEL: Record<RunFrom, string> = { built: 'built', source: 'tsx from source' };

/** The tiers compared between the built server and the one from source, in report order. */
function comparedTiers(s: ServerMeasured): { key: string; what: string; single: Latency; pagesPerSecond: number | undefined }[] {
  return [
    { key: 'cacheHitsStream', what: '(a) memory-cache hits, stream', single: s.cached.single, pagesPerSecond: s.cached.pagesPerSecond },
    { key: 'cacheHitsHttp', what: '(a) memory-cache hits, HTTP POST', single: s.http.single, pagesPerSecond: s.http.pagesPerSecond },
    { key: 'localReconstruction', what: '(b) local-layer reconstruction', single: s.local.single, pagesPerSecond: s.local.pagesPerSecond },
    { key: 'duringCompaction', what: '(b) reconstruction during a forced compaction', single: s.duringCompaction.single, pagesPerSecond: undefined },
    { key: 'coldRemote', what: `(c) cold from remote storage (${s.cold.single.samples} samples; p99 = max)`, single: s.cold.single, pagesPerSecond: s.cold.pagesPerSecond },
  ];
}

/** tsx / built for times, built / tsx for rates: above 1, the bundle is faster. */
const slower = (sourceMs: number, builtMs: number): number => sourceMs / builtMs;
const fewer = (builtPerSecond: number, sourcePerSecond: number): number => builtPerSecond / sourcePerSecond;

function stagesText(s: Stages): string {
  return Object.entries(s)
    .map(([k, v]) => `${k} ${ms(v.meanMs)} × ${count(v.count)}`)
    .join(', ');
}

function comparisonLines(m: Measured): string[] {
  const p = NAME;
  const b = comparedTiers(m.built);
  const t = comparedTiers(m.source);
  const lines = b.map((bt, i) => {
    const st = t[i]!;
    const rate =
      bt.pagesPerSecond !== undefined && st.pagesPerSecond !== undefined
        ? `; batched ${count(bt.pagesPerSecond)} vs ${count(st.pagesPerSecond)} pages/s → ${fewer(bt.pagesPerSecond, st.pagesPerSecond).toFixed(2)}×`
        : '';
    return (
      `${p}: built vs tsx from source, ${bt.what}: p50 ${ms(bt.single.p50Ms)} vs ${ms(st.single.p50Ms)} → ${slower(st.single.p50Ms, bt.single.p50Ms).toFixed(2)}×, ` +
      `p99 ${ms(bt.single.p99Ms)} vs ${ms(st.single.p99Ms)} → ${slower(st.single.p99Ms, bt.single.p99Ms).toFixed(2)}×${rate}`
    );
  });
  const cb = m.built.duringCompaction.compactionMs;
  const cs = m.source.duringCompaction.compactionMs;
  lines.push(`${p}: built vs tsx from source, the forced compaction itself (in the server): ${(cb / 1000).toFixed(2)} s vs ${(cs / 1000).toFixed(2)} s → ${slower(cs, cb).toFixed(2)}×`);
  lines.push(`${p}: (ratios: tsx / built for times, built / tsx for pages/s; above 1, the bundle is faster)`);
  return lines;
}

function reportLines(m: Measured): string[] {
  const p = NAME;
  const s = m.built;
  const row = (what: string, r: { single: Latency; pagesPerSecond: number }): string =>
    `${p}: ${what}: single page p50 ${ms(r.single.p50Ms)} (${x(r.single.p50Ms, m.pread.single.p50Ms)}), p99 ${ms(r.single.p99Ms)} (${x(r.single.p99Ms, m.pread.single.p99Ms)}), ` +
    `mean ${ms(r.single.meanMs)}; batched ${count(r.pagesPerSecond)} pages/s (${xr(r.pagesPerSecond, m.pread.pagesPerSecond)})`;
  return [
    `${p}: built page server (./strata pageserver: apps/cli/dist/strata.mjs), what users run:`,
    row('(a) memory-cache hits, stream', s.cached),
    row('(a) memory-cache hits, HTTP POST (keep-alive, 1 in flight)', s.http),
    row('(b) local-layer reconstruction (cache off), stream', s.local),
    `${p}: (c) cold from remote storage (file://, all ${s.cold.layers} layers = ${(s.cold.layerBytes / MIB).toFixed(1)} MiB evicted before each sample): ` +
      `single page p50 ${ms(s.cold.single.p50Ms)} (${x(s.cold.single.p50Ms, m.pread.single.p50Ms)}), max of ${s.cold.single.samples} ${ms(s.cold.single.p99Ms)}; ` +
      `batch of ${BATCH} ${count(s.cold.pagesPerSecond)} pages/s (${xr(s.cold.pagesPerSecond, m.pread.pagesPerSecond)})`,
    `${p}: baseline pread (fs.readSync of the same pages from the final datadir's .ibd, OS page cache warm): p50 ${ms(m.pread.single.p50Ms)}, ` +
      `p99 ${ms(m.pread.single.p99Ms)}, ${count(m.pread.pagesPerSecond)} pages/s`,
    `${p}: reconstruction while a forced compaction ran (${(s.duringCompaction.compactionMs / 1000).toFixed(1)} s, ${s.duringCompaction.imageLayers} image layers, ` +
      `${count(s.duringCompaction.imagePages)} pages): single page p50 ${ms(s.duringCompaction.single.p50Ms)}, p99 ${ms(s.duringCompaction.single.p99Ms)} over ${count(s.duringCompaction.single.samples)} samples ` +
      `= ${(s.duringCompaction.single.p99Ms / s.local.single.p99Ms).toFixed(2)}× the idle p99 (goal ≤ 2×: ${s.duringCompaction.single.p99Ms <= 2 * s.local.single.p99Ms ? 'met' : 'NOT met'})`,
    `${p}: goals: cache-hit p99 ≤ 0.5 ms → ${ms(s.cached.single.p99Ms)} ${s.cached.single.p99Ms <= 0.5 ? 'met' : 'NOT met'}; ` +
      `≥ 60,000 pages/s batched → ${count(s.cached.pagesPerSecond)} ${s.cached.pagesPerSecond >= 60_000 ? 'met' : 'NOT met'} (cache hits), ` +
      `${count(s.local.pagesPerSecond)} (reconstruction)`,
    ...comparisonLines(m),
    `${p}: batches of ${BATCH} pages, ${DEPTH} in flight; single pages one in flight; median of ${ROUNDS} rounds over ${count(m.pages)} pages (throughput rounds repeat them to ≥ ${count(THROUGHPUT_PAGES_MIN)}) ` +
      `(p50 of the rounds, built: cache ${s.cached.singleRounds.map((r) => r.p50Ms.toFixed(3)).join('/')} ms, pages/s ${s.cached.throughputRounds.map((r) => count(r)).join('/')})`,
    ...[m.built, m.source].flatMap((v) => [
      `${p}: server stages (mean per observation), ${RUN_FROM_LABEL[v.runFrom]}, cache off: ${stagesText(v.stagesLocal)}`,
      `${p}: server stages (mean per observation), ${RUN_FROM_LABEL[v.runFrom]}, cache on: ${stagesText(v.stagesCached)}; cache ${count(v.cacheStats.hits)} hits, ${count(v.cacheStats.misses)} misses, ` +
        `${count(v.cacheStats.entries)} versions, ${(v.cacheStats.bytes / MIB).toFixed(1)} MiB, ${v.cacheStats.evictions} evictions`,
    ]),
    `${p}: data: ${m.redoMiB.toFixed(1)} MiB of redo, ${count(m.build.mtrs)} mtrs ingested (LSN ${m.build.importLsn} → ${m.build.endLsn}) into ${m.build.layers} layers ` +
      `in ${(m.build.ms / 1000).toFixed(1)} s; ${count(m.pages)} pages of ${TABLE_FILES.join(', ')} at the end LSN, ${count(s.identical)} byte-identical to the final datadir's ` +
      `(${count(m.source.identical)} from source)`,
    `${p}: machine: ${formatMachine(m.machine)}, ${m.loadAfter.toFixed(2)} at the end`,
  ];
}

function toResults(m: Measured, opts: BenchOptions): Record<string, unknown> {
  const tier = (r: { single: Latency; pagesPerSecond: number }) => ({
    p50Ms: Number(r.single.p50Ms.toFixed(4)),
    p99Ms: Number(r.single.p99Ms.toFixed(4)),
    meanMs: Number(r.single.meanMs.toFixed(4)),
    pagesPerSecond: Math.round(r.pagesPerSecond),
    p50VsPread: Number((r.single.p50Ms / m.pread.single.p50Ms).toFixed(2)),
    p99VsPread: Number((r.single.p99Ms / m.pread.single.p99Ms).toFixed(2)),
    pagesPerSecondVsPread: Number((r.pagesPerSecond / m.pread.pagesPerSecond).toFixed(3)),
  });
  const server = (s: ServerMeasured) => ({
    cacheHitsStream: tier(s.cached),
    cacheHitsHttp: tier(s.http),
    localReconstruction: tier(s.local),
    duringCompaction: {
      p50Ms: Number(s.duringCompaction.single.p50Ms.toFixed(4)),
      p99Ms: Number(s.duringCompaction.single.p99Ms.toFixed(4)),
      samples: s.duringCompaction.single.samples,
      p99VsIdle: Number((s.duringCompaction.single.p99Ms / s.local.single.p99Ms).toFixed(2)),
      compactionMs: Math.round(s.duringCompaction.compactionMs),
      imageLayers: s.duringCompaction.imageLayers,
      imagePages: s.duringCompaction.imagePages,
    },
    coldRemote: { ...tier(s.cold), samples: s.cold.single.samples, layerBytes: s.cold.layerBytes },
    stages: { cacheOff: s.stagesLocal, cacheOn: s.stagesCached },
    identical: s.identical,
  });
  const t = comparedTiers(m.source);
  const sourceVsBuilt = Object.fromEntries(
    comparedTiers(m.built).map((b, i) => {
      const s = t[i]!;
      return [
        b.key,
        {
          p50TsxOverBuilt: Number(slower(s.single.p50Ms, b.single.p50Ms).toFixed(2)),
          p99TsxOverBuilt: Number(slower(s.single.p99Ms, b.single.p99Ms).toFixed(2)),
          ...(b.pagesPerSecond !== undefined && s.pagesPerSecond !== undefined ? { pagesPerSecondBuiltOverTsx: Number(fewer(b.pagesPerSecond, s.pagesPerSecond).toFixed(2)) } : {}),
        },
      ];
    }),
  );
  const { identical, ...built } = server(m.built);
  return {
    date: new Date().toISOString(),
    command: opts.command,
    machine: m.machine,
    loadAverageAtEnd: m.loadAfter,
    setup: { batch: BATCH, depth: DEPTH, rounds: ROUNDS, pages: m.pages, identical, redoMiB: Number(m.redoMiB.toFixed(1)), layers: m.build.layers },
    pread: tier(m.pread),
    // The built server (`./strata pageserver`) at the top level, as before the comparison was added.
    server: 'built: ./strata pageserver (apps/cli/dist/strata.mjs)',
    ...built,
    fromSource: { server: 'node --import tsx apps/cli/src/bin.ts pageserver', ...server(m.source) },
    // tsx / built for times, built / tsx for rates: above 1, the bundle is faster.
    sourceVsBuilt,
  };
}

function docsSection(m: Measured, opts: BenchOptions, lines: readonly string[]): string {
  const mc = m.machine;
  const s = m.built;
  const row = (what: string, r: { single: Latency; pagesPerSecond: number }) =>
    `| ${what} | ${ms(r.single.p50Ms)} | ${ms(r.single.p99Ms)} | ${count(r.pagesPerSecond)} | ${(r.single.p50Ms / m.pread.single.p50Ms).toFixed(1)}× | ${(r.single.p99Ms / m.pread.single.p99Ms).toFixed(1)}× | ${(r.pagesPerSecond / m.pread.pagesPerSecond).toFixed(2)}× |`;
  const t = comparedTiers(m.source);
  const compareRows = comparedTiers(s).map((b, i) => {
    const st = t[i]!;
    const rate =
      b.pagesPerSecond !== undefined && st.pagesPerSecond !== undefined
        ? `${count(b.pagesPerSecond)} | ${count(st.pagesPerSecond)} | **${fewer(b.pagesPerSecond, st.pagesPerSecond).toFixed(2)}×**`
        : '– | – | –';
    return (
      `| ${b.what} | ${ms(b.single.p50Ms)} | ${ms(st.single.p50Ms)} | **${slower(st.single.p50Ms, b.single.p50Ms).toFixed(2)}×** | ` +
      `${ms(b.single.p99Ms)} | ${ms(st.single.p99Ms)} | **${slower(st.single.p99Ms, b.single.p99Ms).toFixed(2)}×** | ${rate} |`
    );
  });
  return [
    `Latest run: ${new Date().toISOString().slice(0, 10)}, \`${opts.command}\`, ${count(m.pages)} pages, on ${mc.cpus} × ${mc.cpuModel}, node ${mc.node} ` +
      `(load average ${mc.loadAverage.toFixed(2)} at start, ${m.loadAfter.toFixed(2)} at the end: the machine was shared).`,
    '',
    'The built page server (`./strata pageserver`, what users run) against pread:',
    '',
    '| tier | p50 | p99 | pages/s batched | p50 vs pread | p99 vs pread | pages/s vs pread |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    row('pread of the .ibd (baseline)', m.pread),
    row('(a) memory-cache hits, stream', s.cached),
    row('(a) memory-cache hits, HTTP POST', s.http),
    row('(b) local-layer reconstruction', s.local),
    `| (c) cold from remote storage (${s.cold.single.samples} samples; p99 = max) | ${ms(s.cold.single.p50Ms)} | ${ms(s.cold.single.p99Ms)} | ${count(s.cold.pagesPerSecond)} | ` +
      `${(s.cold.single.p50Ms / m.pread.single.p50Ms).toFixed(0)}× | ${(s.cold.single.p99Ms / m.pread.single.p99Ms).toFixed(0)}× | ${(s.cold.pagesPerSecond / m.pread.pagesPerSecond).toFixed(4)}× |`,
    '',
    'The same server built and from TypeScript source under tsx, in the same run (ratios: tsx / built for times, built / tsx for pages/s; above 1, the bundle is faster):',
    '',
    '| tier | p50 built | p50 tsx | tsx / built | p99 built | p99 tsx | tsx / built | pages/s built | pages/s tsx | built / tsx |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...compareRows,
    '',
    'Output of that run (`bench/results/getpage.json` has the same figures):',
    '',
    '```',
    ...lines,
    '```',
  ].join('\n');
}

/** One page server's own copy of the data directory and its own remote storage, so that neither sees what the other did (uploads, evictions, compaction). */
interface ServerSetup {
  readonly runFrom: RunFrom;
  readonly baseDir: string;
  readonly args: readonly string[];
}

async function serverSetup(runFrom: RunFrom, workDir: string, pristineDataDir: string): Promise<ServerSetup> {
  const baseDir = join(workDir, `psbench-${runFrom}`);
  const remoteDir = join(workDir, `remote-${runFrom}`);
  await fs.cp(pristineDataDir, join(baseDir, 'ps'), { recursive: true });
  await fs.mkdir(remoteDir, { recursive: true });
  return { runFrom, baseDir, args: ['--remote-storage', `file://${remoteDir}`] };
}

type Ids = { tenantId: string; timelineId: string };

interface Live {
  readonly setup: ServerSetup;
  readonly ps: PageserverProcess;
  readonly client: PageserverClient;
}

/**
 * Starts a page server on each setup's data directory, runs `body` with all of them up, stops
 * them. A WAL receiver needs somewhere to look: nothing listens on port 9, it backs off quietly.
 */
async function withServers<T>(setups: readonly ServerSetup[], extraArgs: readonly string[], ids: Ids, body: (live: Live[]) => Promise<T>): Promise<T> {
  const procs: PageserverProcess[] = [];
  const clients: PageserverClient[] = [];
  try {
    const live: Live[] = [];
    for (const setup of setups) {
      const ps = await pageserver(setup.baseDir, ['127.0.0.1:9'], [...setup.args, ...extraArgs], setup.runFrom);
      procs.push(ps);
      await ps.start();
      const client = await PageserverClient.connect({ url: ps.url, ...ids });
      clients.push(client);
      live.push({ setup, ps, client });
    }
    return await body(live);
  } finally {
    for (const c of clients) c.close();
    for (const ps of procs) await ps.stop();
  }
}

/** Every page must come back, and should be the page MariaDB wrote: the indexes of those OK, and how many are byte-identical. */
async function checkPages(client: PageserverClient, p: Pages): Promise<{ good: number[]; identical: number }> {
  const good: number[] = [];
  const statuses = new Map<number, number>();
  const buf = Buffer.alloc(PAGE_SIZE);
  let identical = 0;
  for (let i = 0; i < p.reqs.length; i += BATCH) {
    const items = await client.getPages(p.reqs.slice(i, i + BATCH));
    items.forEach((item, j) => {
      statuses.set(item.status, (statuses.get(item.status) ?? 0) + 1);
      if (item.status !== GetPageStatus.OK) return;
      good.push(i + j);
      const f = p.files[i + j]!;
      readSync(f.fd, buf, 0, PAGE_SIZE, f.offset);
      if (buf.equals(item.page)) identical++;
    });
  }
  if (good.length < p.reqs.length * 0.9) throw new Error(`only ${good.length} of ${p.reqs.length} pages came back OK (statuses: ${[...statuses].map(([k, v]) => `${k}: ${v}`).join(', ')})`);
  return { good, identical };
}

interface Uncached {
  readonly identical: number;
  readonly local: TierResult;
  readonly duringCompaction: DuringCompaction;
  readonly cold: ColdResult;
  readonly stagesLocal: Stages;
}

/**
 * Cache off, every server up at once: each checked page by page against the final datadir, then
 * (b) reconstruction (rounds interleaved), reconstruction under compaction, (c) cold reads (one
 * server after the other: each disturbs its own server only). Returns the pages that came back
 * OK, in the shuffled order: every later measurement uses these.
 */
async function measureUncached(setups: readonly ServerSetup[], p: Pages, ids: Ids, order: readonly number[]): Promise<{ reqs: GetPageRequest[]; results: Uncached[] }> {
  process.stderr.write(`${NAME}: page servers (${setups.map((s) => RUN_FROM_LABEL[s.runFrom]).join(', ')}) without a cache: reconstruction and cold reads\n`);
  return withServers(setups, ['--page-cache-bytes', '0'], ids, async (live) => {
    const checked: { good: number[]; identical: number }[] = [];
    for (const l of live) checked.push(await checkPages(l.client, p));
    const good = checked[0]!.good;
    for (const [i, c] of checked.entries()) {
      if (c.good.length !== good.length || c.good.some((g, j) => g !== good[j])) {
        throw new Error(`${RUN_FROM_LABEL[live[i]!.setup.runFrom]}: ${c.good.length} pages came back OK, ${good.length} from ${RUN_FROM_LABEL[live[0]!.setup.runFrom]}, or not the same ones`);
      }
    }
    const goodSet = new Set(good);
    const reqs = order.filter((i) => goodSet.has(i)).map((i) => p.reqs[i]!);
    const local = await warmTiers(
      live.map((l) => (b) => l.client.getPages(b)),
      reqs,
      DEPTH,
    );
    const stagesLocal: Stages[] = [];
    for (const l of live) stagesLocal.push(await stageMeans(l.ps));
    const during: DuringCompaction[] = [];
    for (const l of live) {
      process.stderr.write(`${NAME}: reconstruction while a forced compaction images every partition (${RUN_FROM_LABEL[l.setup.runFrom]})\n`);
      during.push(await duringCompactionTier(l.ps, (b) => l.client.getPages(b), ids, reqs));
    }
    const cold: ColdResult[] = [];
    for (const l of live) {
      process.stderr.write(`${NAME}: cold reads, evicting every layer before each sample (${RUN_FROM_LABEL[l.setup.runFrom]})\n`);
      cold.push(await coldTier(l.ps, l.client, ids, reqs));
    }
    const results = live.map((_, i) => ({ identical: checked[i]!.identical, local: local[i]!, duringCompaction: during[i]!, cold: cold[i]!, stagesLocal: stagesLocal[i]! }));
    return { reqs, results };
  });
}

type Cached = Pick<ServerMeasured, 'cached' | 'http' | 'cacheStats' | 'stagesCached'>;

/** Restarted with the default cache, every server up at once: (a) hits on the stream and on the HTTP route, rounds interleaved. */
async function measureCached(setups: readonly ServerSetup[], ids: Ids, reqs: GetPageRequest[]): Promise<Cached[]> {
  process.stderr.write(`${NAME}: page servers (${setups.map((s) => RUN_FROM_LABEL[s.runFrom]).join(', ')}) with the default cache: hits\n`);
  return withServers(setups, [], ids, async (live) => {
    // Fill the caches (downloads what the cold test evicted).
    for (const l of live) await throughput((b) => l.client.getPages(b), reqs, BATCH, DEPTH, 0);
    const cached = await warmTiers(
      live.map((l) => (b) => l.client.getPages(b)),
      reqs,
      DEPTH,
    );
    const http = await warmTiers(
      live.map((l) => (b) => l.client.getPagesHttp(b)),
      reqs,
      1,
    );
    const out: Cached[] = [];
    for (const [i, l] of live.entries()) {
      out.push({ cached: cached[i]!, http: http[i]!, cacheStats: await json<ServerMeasured['cacheStats']>(`${l.ps.url}/v1/page_cache`), stagesCached: await stageMeans(l.ps) });
    }
    return out;
  });
}

async function measure(rec: RecordedWorkload, machine: Machine, redoMiB: number): Promise<Measured> {
  const pristine = join(rec.dir, 'psbench', 'ps');
  process.stderr.write(`${NAME}: importing the base and ingesting the log into ${pristine}\n`);
  const t0 = performance.now();
  const built = buildDataDir(rec, pristine);
  const build = { ...built, ms: performance.now() - t0 };
  const ids = { tenantId: built.tenantId, timelineId: built.timelineId };
  const p = pickPages(rec.final, built.endLsn);
  const order = shuffled(
    p.reqs.map((_, i) => i),
    42,
  );
  const pread = preadTier(p, order);

  const setups = [await serverSetup('built', rec.dir, pristine), await serverSetup('source', rec.dir, pristine)];
  const { reqs, results: uncached } = await measureUncached(setups, p, ids, order);
  const cached = await measureCached(setups, ids, reqs);
  for (const f of new Set(p.files.map((f) => f.fd))) closeSync(f);
  const server = (i: number): ServerMeasured => ({ runFrom: setups[i]!.runFrom, ...uncached[i]!, ...cached[i]! });
  return { machine, redoMiB, build, pages: reqs.length, pread, built: server(0), source: server(1), loadAfter: os.loadavg()[0] ?? 0 };
}

async function run(opts: BenchOptions): Promise<void> {
  const targetMiB = opts.sizeMb ?? DEFAULT_SIZE_MB;
  const machine = describeMachine();
  process.stderr.write(`${NAME}: generating ≥ ${targetMiB} MiB of redo on a private mariadbd\n`);
  const rec = await recordRedoWorkload(targetMiB * MIB, SERVER);
  try {
    const m = await measure(rec, machine, targetMiB);
    const lines = reportLines(m);
    for (const line of lines) process.stdout.write(line + '\n');
    if (targetMiB >= RECORDED_SIZE_MB_MIN) {
      await fs.mkdir(join(REPO_ROOT, 'bench/results'), { recursive: true });
      await fs.writeFile(RESULTS_JSON, JSON.stringify(toResults(m, opts), (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n');
      replaceMarkedSection(DOCS_MD, 'getpage-results', docsSection(m, opts, lines));
      process.stdout.write(`${NAME}: results written to bench/results/getpage.json and docs/benchmarks.md\n`);
    } else process.stdout.write(`${NAME}: quick run (below ${RECORDED_SIZE_MB_MIN} MiB): results not recorded\n`);
  } finally {
    if (process.env['STRATA_KEEP_TEST_DIRS'] === undefined) await removeTempDir(rec.dir);
    else process.stderr.write(`${NAME}: STRATA_KEEP_TEST_DIRS is set: keeping ${rec.dir}\n`);
  }
}

export const bench: Bench = {
  name: NAME,
  description: 'GetPage@LSN from a page server process over loopback (memory cache, local layers, remote storage) vs pread of the same pages',
  run,
};
