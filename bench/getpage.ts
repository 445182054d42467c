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
async function duringCompaction(ps: PageserverProcess, get: Fetch, ids: { tenantId: string; timelineId: string }, reqs: GetPageRequest[]): Promise<DuringCompaction> {
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

async function warmTier(get: Fetch, reqs: GetPageRequest[], depth: number): Promise<TierResult> {
  const singleRounds: Latency[] = [];
  const throughputRounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    singleRounds.push(await singleLatency(get, reqs));
    throughputRounds.push(await throughput(get, reqs, BATCH, depth));
  }
  return { single: medianRound(singleRounds), pagesPerSecond: median(throughputRounds), singleRounds, throughputRounds };
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

interface Measured {
  readonly duringCompaction: DuringCompaction;
  readonly machine: Machine;
  readonly redoMiB: number;
  readonly build: ReturnType<typeof buildDataDir> & { ms: number };
  readonly pages: number;
  readonly identical: number;
  readonly pread: TierResult;
  readonly local: TierResult;
  readonly cold: ColdResult;
  readonly cached: TierResult;
  readonly http: TierResult;
  readonly cacheStats: { hits: number; misses: number; bytes: number; entries: number; evictions: number };
  readonly stagesLocal: Record<string, { meanMs: number; count: number }>;
  readonly stagesCached: Record<string, { meanMs: number; count: number }>;
  readonly loadAfter: number;
}

const x = (oursMs: number, baseMs: number): string => `${(oursMs / baseMs).toFixed(1)}× pread`;
const xr = (ours: number, base: number): string => `${(ours / base).toFixed(2)}× pread`;

function reportLines(m: Measured): string[] {
  const p = NAME;
  const row = (what: string, r: { single: Latency; pagesPerSecond: number }): string =>
    `${p}: ${what}: single page p50 ${ms(r.single.p50Ms)} (${x(r.single.p50Ms, m.pread.single.p50Ms)}), p99 ${ms(r.single.p99Ms)} (${x(r.single.p99Ms, m.pread.single.p99Ms)}), ` +
    `mean ${ms(r.single.meanMs)}; batched ${count(r.pagesPerSecond)} pages/s (${xr(r.pagesPerSecond, m.pread.pagesPerSecond)})`;
  const stages = (s: Record<string, { meanMs: number; count: number }>): string =>
    Object.entries(s)
      .map(([k, v]) => `${k} ${ms(v.meanMs)} × ${count(v.count)}`)
      .join(', ');
  return [
    row('(a) memory-cache hits, stream', m.cached),
    row('(a) memory-cache hits, HTTP POST (keep-alive, 1 in flight)', m.http),
    row('(b) local-layer reconstruction (cache off), stream', m.local),
    `${p}: (c) cold from remote storage (file://, all ${m.cold.layers} layers = ${(m.cold.layerBytes / MIB).toFixed(1)} MiB evicted before each sample): ` +
      `single page p50 ${ms(m.cold.single.p50Ms)} (${x(m.cold.single.p50Ms, m.pread.single.p50Ms)}), max of ${m.cold.single.samples} ${ms(m.cold.single.p99Ms)}; ` +
      `batch of ${BATCH} ${count(m.cold.pagesPerSecond)} pages/s (${xr(m.cold.pagesPerSecond, m.pread.pagesPerSecond)})`,
    `${p}: baseline pread (fs.readSync of the same pages from the final datadir's .ibd, OS page cache warm): p50 ${ms(m.pread.single.p50Ms)}, ` +
      `p99 ${ms(m.pread.single.p99Ms)}, ${count(m.pread.pagesPerSecond)} pages/s`,
    `${p}: reconstruction while a forced compaction ran (${(m.duringCompaction.compactionMs / 1000).toFixed(1)} s, ${m.duringCompaction.imageLayers} image layers, ` +
      `${count(m.duringCompaction.imagePages)} pages): single page p50 ${ms(m.duringCompaction.single.p50Ms)}, p99 ${ms(m.duringCompaction.single.p99Ms)} over ${count(m.duringCompaction.single.samples)} samples ` +
      `= ${(m.duringCompaction.single.p99Ms / m.local.single.p99Ms).toFixed(2)}× the idle p99 (goal ≤ 2×: ${m.duringCompaction.single.p99Ms <= 2 * m.local.single.p99Ms ? 'met' : 'NOT met'})`,
    `${p}: goals: cache-hit p99 ≤ 0.5 ms → ${ms(m.cached.single.p99Ms)} ${m.cached.single.p99Ms <= 0.5 ? 'met' : 'NOT met'}; ` +
      `≥ 60,000 pages/s batched → ${count(m.cached.pagesPerSecond)} ${m.cached.pagesPerSecond >= 60_000 ? 'met' : 'NOT met'} (cache hits), ` +
      `${count(m.local.pagesPerSecond)} (reconstruction)`,
    `${p}: batches of ${BATCH} pages, ${DEPTH} in flight; single pages one in flight; median of ${ROUNDS} rounds over ${count(m.pages)} pages (throughput rounds repeat them to ≥ ${count(THROUGHPUT_PAGES_MIN)}) ` +
      `(p50 of the rounds: cache ${m.cached.singleRounds.map((r) => r.p50Ms.toFixed(3)).join('/')} ms, pages/s ${m.cached.throughputRounds.map((r) => count(r)).join('/')})`,
    `${p}: server stages (mean per observation), cache off: ${stages(m.stagesLocal)}`,
    `${p}: server stages (mean per observation), cache on: ${stages(m.stagesCached)}; cache ${count(m.cacheStats.hits)} hits, ${count(m.cacheStats.misses)} misses, ` +
      `${count(m.cacheStats.entries)} versions, ${(m.cacheStats.bytes / MIB).toFixed(1)} MiB, ${m.cacheStats.evictions} evictions`,
    `${p}: data: ${m.redoMiB.toFixed(1)} MiB of redo, ${count(m.build.mtrs)} mtrs ingested (LSN ${m.build.importLsn} → ${m.build.endLsn}) into ${m.build.layers} layers ` +
      `in ${(m.build.ms / 1000).toFixed(1)} s; ${count(m.pages)} pages of ${TABLE_FILES.join(', ')} at the end LSN, ${count(m.identical)} byte-identical to the final datadir's`,
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
  return {
    date: new Date().toISOString(),
    command: opts.command,
    machine: m.machine,
    loadAverageAtEnd: m.loadAfter,
    setup: { batch: BATCH, depth: DEPTH, rounds: ROUNDS, pages: m.pages, identical: m.identical, redoMiB: Number(m.redoMiB.toFixed(1)), layers: m.build.layers },
    pread: tier(m.pread),
    cacheHitsStream: tier(m.cached),
    cacheHitsHttp: tier(m.http),
    localReconstruction: tier(m.local),
    duringCompaction: {
      p50Ms: Number(m.duringCompaction.single.p50Ms.toFixed(4)),
      p99Ms: Number(m.duringCompaction.single.p99Ms.toFixed(4)),
      samples: m.duringCompaction.single.samples,
      p99VsIdle: Number((m.duringCompaction.single.p99Ms / m.local.single.p99Ms).toFixed(2)),
      compactionMs: Math.round(m.duringCompaction.compactionMs),
      imageLayers: m.duringCompaction.imageLayers,
      imagePages: m.duringCompaction.imagePages,
    },
    coldRemote: { ...tier(m.cold), samples: m.cold.single.samples, layerBytes: m.cold.layerBytes },
    stages: { cacheOff: m.stagesLocal, cacheOn: m.stagesCached },
  };
}

function docsSection(m: Measured, opts: BenchOptions, lines: readonly string[]): string {
  const mc = m.machine;
  const row = (what: string, r: { single: Latency; pagesPerSecond: number }) =>
    `| ${what} | ${ms(r.single.p50Ms)} | ${ms(r.single.p99Ms)} | ${count(r.pagesPerSecond)} | ${(r.single.p50Ms / m.pread.single.p50Ms).toFixed(1)}× | ${(r.single.p99Ms / m.pread.single.p99Ms).toFixed(1)}× | ${(r.pagesPerSecond / m.pread.pagesPerSecond).toFixed(2)}× |`;
  return [
    `Latest run: ${new Date().toISOString().slice(0, 10)}, \`${opts.command}\`, ${count(m.pages)} pages, on ${mc.cpus} × ${mc.cpuModel}, node ${mc.node} ` +
      `(load average ${mc.loadAverage.toFixed(2)} at start, ${m.loadAfter.toFixed(2)} at the end: the machine was shared).`,
    '',
    '| tier | p50 | p99 | pages/s batched | p50 vs pread | p99 vs pread | pages/s vs pread |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    row('pread of the .ibd (baseline)', m.pread),
    row('(a) memory-cache hits, stream', m.cached),
    row('(a) memory-cache hits, HTTP POST', m.http),
    row('(b) local-layer reconstruction', m.local),
    `| (c) cold from remote storage (${m.cold.single.samples} samples; p99 = max) | ${ms(m.cold.single.p50Ms)} | ${ms(m.cold.single.p99Ms)} | ${count(m.cold.pagesPerSecond)} | ` +
      `${(m.cold.single.p50Ms / m.pread.single.p50Ms).toFixed(0)}× | ${(m.cold.single.p99Ms / m.pread.single.p99Ms).toFixed(0)}× | ${(m.cold.pagesPerSecond / m.pread.pagesPerSecond).toFixed(4)}× |`,
    '',
    'Output of that run (`bench/results/getpage.json` has the same figures):',
    '',
    '```',
    ...lines,
    '```',
  ].join('\n');
}

async function measure(rec: RecordedWorkload, machine: Machine, redoMiB: number): Promise<Measured> {
  const psBase = join(rec.dir, 'psbench');
  const dataDir = join(psBase, 'ps');
  const remoteDir = join(rec.dir, 'remote');
  await fs.mkdir(remoteDir, { recursive: true });
  process.stderr.write(`${NAME}: importing the base and ingesting the log into ${dataDir}\n`);
  const t0 = performance.now();
  const built = buildDataDir(rec, dataDir);
  const build = { ...built, ms: performance.now() - t0 };
  const ids = { tenantId: built.tenantId, timelineId: built.timelineId };
  const p = pickPages(rec.final, built.endLsn);
  const order = shuffled(
    p.reqs.map((_, i) => i),
    42,
  );
  const pread = preadTier(p, order);

  // A WAL receiver needs somewhere to look: nothing listens on port 9, it backs off quietly.
  const common = ['--remote-storage', `file://${remoteDir}`];
  process.stderr.write(`${NAME}: page server without a cache: reconstruction and cold reads\n`);
  let ps = await pageserver(psBase, ['127.0.0.1:9'], [...common, '--page-cache-bytes', '0']);
  let client: PageserverClient | undefined;
  let local: TierResult;
  let during: DuringCompaction;
  let cold: ColdResult;
  let identical = 0;
  let reqs: GetPageRequest[];
  let stagesLocal: Measured['stagesLocal'];
  try {
    await ps.start();
    client = await PageserverClient.connect({ url: ps.url, ...ids });
    const c = client;
    // Every page must come back, and should be the page MariaDB wrote.
    const good: number[] = [];
    const statuses = new Map<number, number>();
    const buf = Buffer.alloc(PAGE_SIZE);
    for (let i = 0; i < p.reqs.length; i += BATCH) {
      const items = await c.getPages(p.reqs.slice(i, i + BATCH));
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
    const goodSet = new Set(good);
    reqs = order.filter((i) => goodSet.has(i)).map((i) => p.reqs[i]!);
    local = await warmTier((b) => c.getPages(b), reqs, DEPTH);
    stagesLocal = await stageMeans(ps);
    process.stderr.write(`${NAME}: reconstruction while a forced compaction images every partition\n`);
    during = await duringCompaction(ps, (b) => c.getPages(b), ids, reqs);
    process.stderr.write(`${NAME}: cold reads (evicting every layer before each sample)\n`);
    cold = await coldTier(ps, c, ids, reqs);
  } finally {
    client?.close();
    await ps.stop();
  }

  process.stderr.write(`${NAME}: page server with the default cache: hits\n`);
  ps = await pageserver(psBase, ['127.0.0.1:9'], common);
  client = undefined;
  let cached: TierResult;
  let http: TierResult;
  let cacheStats: Measured['cacheStats'];
  let stagesCached: Measured['stagesCached'];
  try {
    await ps.start();
    client = await PageserverClient.connect({ url: ps.url, ...ids });
    const c = client;
    await throughput((b) => c.getPages(b), reqs, BATCH, DEPTH, 0); // fill the cache (downloads what the cold test evicted)
    cached = await warmTier((b) => c.getPages(b), reqs, DEPTH);
    http = await warmTier((b) => c.getPagesHttp(b), reqs, 1);
    cacheStats = await json(`${ps.url}/v1/page_cache`);
    stagesCached = await stageMeans(ps);
  } finally {
    client?.close();
    await ps.stop();
  }
  for (const f of new Set(p.files.map((f) => f.fd))) closeSync(f);
  return { duringCompaction: during, machine, redoMiB, build, pages: reqs.length, identical, pread, local, cold, cached, http, cacheStats, stagesLocal, stagesCached, loadAfter: os.loadavg()[0] ?? 0 };
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
