/**
 * Reads the state of a running local cluster from the outside, the way an operator's
 * monitoring would: the page server's and safekeepers' admin APIs and Prometheus text, the
 * processes' RSS from /proc, the data directories' disk use from `du`. Every reader fails
 * on its own (a timeout, a refused connection), so a caller can keep sampling the others.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const HTTP_TIMEOUT_MS = 5_000;
const DU_TIMEOUT_MS = 30_000;

export interface LocalClusterInfo {
  readonly home: string;
  readonly tenantId: string;
  readonly pageserverUrl: string;
  readonly safekeepers: readonly { readonly id: number; readonly url: string }[];
  readonly branches: readonly { readonly name: string; readonly timelineId: string }[];
  readonly adminToken: string;
}

function field(o: unknown, key: string): unknown {
  return typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined;
}

function str(o: unknown, key: string, what: string): string {
  const v = field(o, key);
  if (typeof v !== 'string') throw new Error(`${what}: "${key}" is not a string`);
  return v;
}

/**
 * The registry `./strata up` writes (STRATA_HOME/cluster.json) and the admin token it points
 * at. Read here rather than through the CLI's module so a benchmark does not compile the app.
 */
export function readLocalCluster(home: string): LocalClusterInfo {
  const file = join(home, 'cluster.json');
  const raw: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const sks = field(raw, 'safekeepers');
  const branches = field(raw, 'branches');
  if (!Array.isArray(sks) || !Array.isArray(branches)) throw new Error(`${file}: no safekeepers or branches`);
  const tokenFile = str(field(raw, 'auth'), 'adminTokenFile', file);
  return {
    home,
    tenantId: str(raw, 'tenantId', file),
    pageserverUrl: str(field(raw, 'pageserver'), 'url', file),
    safekeepers: sks.map((s: unknown) => ({ id: Number(field(s, 'id')), url: str(s, 'url', file) })),
    branches: branches.map((b: unknown) => ({ name: str(b, 'name', file), timelineId: str(b, 'timelineId', file) })),
    adminToken: readFileSync(tokenFile, 'utf8').trim(),
  };
}

export function timelineOf(c: LocalClusterInfo, branch: string): string {
  const b = c.branches.find((x) => x.name === branch);
  if (!b) throw new Error(`no branch ${branch} in ${c.home}/cluster.json`);
  return b.timelineId;
}

async function get(c: LocalClusterInfo, url: string): Promise<string> {
  const r = await fetch(url, { headers: { authorization: `Bearer ${c.adminToken}` }, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  const text = await r.text();
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status} ${text.slice(0, 300)}`);
  return text;
}

async function getJson(c: LocalClusterInfo, url: string): Promise<unknown> {
  return JSON.parse(await get(c, url)) as unknown;
}

// ---------------------------------------------------------------------------------------------
// Prometheus text

export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** As written: LSN gauges exceed what a double holds exactly once they pass 2^53. */
  readonly raw: string;
  readonly value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheus(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE_LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, raw: m[3]!, value: Number(m[3]) });
  }
  return out;
}

export function pageserverMetrics(c: LocalClusterInfo): Promise<PromSample[]> {
  return get(c, `${c.pageserverUrl}/metrics`).then(parsePrometheus);
}

/** The samples of `name` whose labels include every label of `match`. */
export function select(samples: readonly PromSample[], name: string, match: Readonly<Record<string, string>> = {}): PromSample[] {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

export function sumOf(samples: readonly PromSample[], name: string, match: Readonly<Record<string, string>> = {}): number {
  return select(samples, name, match).reduce((n, s) => n + s.value, 0);
}

/** A histogram's cumulative bucket counts, ascending by upper bound (the last is +Inf). */
export interface Buckets {
  readonly le: readonly number[];
  readonly counts: readonly number[];
}

export function histogram(samples: readonly PromSample[], name: string, match: Readonly<Record<string, string>>): Buckets | undefined {
  const rows = select(samples, `${name}_bucket`, match)
    .map((s) => ({ le: s.labels['le'] === '+Inf' ? Infinity : Number(s.labels['le']), count: s.value }))
    .sort((a, b) => a.le - b.le);
  if (rows.length === 0) return undefined;
  return { le: rows.map((r) => r.le), counts: rows.map((r) => r.count) };
}

/**
 * `cur − prev` per bucket: the observations of one interval. A counter that went down means
 * the page server restarted, and then everything since its start is the interval.
 */
export function bucketDelta(prev: Buckets | undefined, cur: Buckets): Buckets {
  if (!prev || prev.le.length !== cur.le.length || cur.counts.some((n, i) => n < (prev.counts[i] ?? 0))) return cur;
  return { le: cur.le, counts: cur.counts.map((n, i) => n - (prev.counts[i] ?? 0)) };
}

export function bucketSum(a: Buckets | undefined, b: Buckets): Buckets {
  if (!a) return b;
  if (a.le.length !== b.le.length) throw new Error('histograms with different buckets');
  return { le: b.le, counts: b.counts.map((n, i) => n + (a.counts[i] ?? 0)) };
}

export function observations(b: Buckets): number {
  return b.counts[b.counts.length - 1] ?? 0;
}

/**
 * The q-quantile as Prometheus' histogram_quantile computes it: linear within the bucket the
 * rank falls in (from 0 for the first). Falling in +Inf answers the highest finite bound.
 */
export function quantile(b: Buckets, q: number): number {
  const total = observations(b);
  if (total === 0) return Number.NaN;
  const rank = q * total;
  for (let i = 0; i < b.le.length; i++) {
    const count = b.counts[i]!;
    if (count < rank) continue;
    const upper = b.le[i]!;
    const lower = i === 0 ? 0 : b.le[i - 1]!;
    if (upper === Infinity) return lower;
    const below = i === 0 ? 0 : b.counts[i - 1]!;
    const inBucket = count - below;
    return inBucket === 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
  }
  return b.le[b.le.length - 2] ?? Number.NaN;
}

/** The bucket the q-quantile falls in: interpolation inside it is a guess, these bounds are not. */
export function quantileBucket(b: Buckets, q: number): [number, number] | undefined {
  const rank = q * observations(b);
  const i = b.counts.findIndex((n) => n >= rank && n > 0);
  return i < 0 ? undefined : [i === 0 ? 0 : b.le[i - 1]!, b.le[i]!];
}

// ---------------------------------------------------------------------------------------------
// Admin APIs

export interface PageserverTimeline {
  readonly lastRecordLsn: bigint;
  readonly diskConsistentLsn: bigint;
}

export async function pageserverTimeline(c: LocalClusterInfo, timelineId: string): Promise<PageserverTimeline> {
  const j = await getJson(c, `${c.pageserverUrl}/v1/tenants/${c.tenantId}/timelines/${timelineId}`);
  return { lastRecordLsn: BigInt(str(j, 'lastRecordLsn', 'timeline')), diskConsistentLsn: BigInt(str(j, 'diskConsistentLsn', 'timeline')) };
}

export interface SafekeeperTimeline {
  readonly id: number;
  readonly commitLsn: bigint;
  readonly flushLsn: bigint;
  readonly remoteConsistentLsn: bigint;
}

/** Every safekeeper's view of the timeline; a safekeeper that does not answer is left out. */
export async function safekeeperTimelines(c: LocalClusterInfo, timelineId: string): Promise<SafekeeperTimeline[]> {
  const replies = await Promise.allSettled(
    c.safekeepers.map(async (sk) => {
      const j = await getJson(c, `${sk.url}/v1/tenants/${c.tenantId}/timelines/${timelineId}`);
      return { id: sk.id, commitLsn: BigInt(str(j, 'commitLsn', 'safekeeper')), flushLsn: BigInt(str(j, 'flushLsn', 'safekeeper')), remoteConsistentLsn: BigInt(str(j, 'remoteConsistentLsn', 'safekeeper')) };
    }),
  );
  const ok = replies.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (ok.length === 0) {
    const why = replies.map((r) => (r.status === 'rejected' ? (r.reason instanceof Error ? r.reason.message : String(r.reason)) : '')).filter(Boolean);
    throw new Error(`no safekeeper answered: ${why.join('; ')}`);
  }
  return ok;
}

export interface LayerDescription {
  readonly kind: 'image' | 'delta';
  readonly lsnStart: bigint;
  readonly lsnEnd: bigint;
  readonly sizeBytes: number | undefined;
}

export async function timelineLayers(c: LocalClusterInfo, timelineId: string): Promise<LayerDescription[]> {
  const j = await getJson(c, `${c.pageserverUrl}/v1/tenants/${c.tenantId}/timelines/${timelineId}/layers`);
  const layers = field(j, 'layers');
  if (!Array.isArray(layers)) throw new Error('the layers reply has no "layers" array');
  return layers.map((l: unknown) => {
    const kind = field(l, 'kind');
    if (kind !== 'image' && kind !== 'delta') throw new Error(`a layer of kind ${String(kind)}`);
    const size = field(l, 'sizeBytes');
    return { kind, lsnStart: BigInt(str(l, 'lsnStart', 'layer')), lsnEnd: BigInt(str(l, 'lsnEnd', 'layer')), sizeBytes: typeof size === 'number' ? size : undefined };
  });
}

export interface LayerCounts {
  /** Delta layers that start at or above the newest image layer's LSN: what a read at the head may have to go through. */
  readonly l0: number;
  readonly deltas: number;
  readonly images: number;
}

export function layerCounts(layers: readonly LayerDescription[]): LayerCounts {
  let newestImage = -1n;
  for (const l of layers) if (l.kind === 'image' && l.lsnStart > newestImage) newestImage = l.lsnStart;
  const deltas = layers.filter((l) => l.kind === 'delta');
  return { l0: deltas.filter((l) => l.lsnStart >= newestImage).length, deltas: deltas.length, images: layers.length - deltas.length };
}

// ---------------------------------------------------------------------------------------------
// GetPage

/** The wire format of `POST …/getpage` (packages/core/src/getpage): 16 bytes per page asked, a 9-byte head per page answered. */
const REQUEST_BYTES = 16;
const ITEM_HEAD_BYTES = 9;
const STATUS_OK = 0;
const STATUS_NOT_FOUND = 1;
const STATUS_NAMES = ['OK', 'NOT_FOUND', 'NOT_YET_AVAILABLE', 'LSN_OUT_OF_RANGE', 'ERROR', 'BEFORE_GC_HORIZON'];

export interface PageKey {
  readonly spaceId: number;
  readonly pageNo: number;
}

export interface GetPageProbe {
  readonly pages: number;
  readonly ms: number;
  /** Pages by status name; NOT_FOUND is a page beyond its file's end at that LSN, not a failure. */
  readonly statuses: Readonly<Record<string, number>>;
}

/**
 * One GetPage batch at `lsn`, as a compute would send it. The encoding is written out here
 * (it is eight lines) so the benchmark does not depend on the codec module's exports.
 */
export async function getPages(c: LocalClusterInfo, timelineId: string, keys: readonly PageKey[], lsn: bigint): Promise<GetPageProbe> {
  const body = new Uint8Array(keys.length * REQUEST_BYTES);
  const v = new DataView(body.buffer);
  keys.forEach((k, i) => {
    v.setUint32(i * REQUEST_BYTES, k.spaceId);
    v.setUint32(i * REQUEST_BYTES + 4, k.pageNo);
    v.setBigUint64(i * REQUEST_BYTES + 8, lsn);
  });
  const t0 = performance.now();
  const r = await fetch(`${c.pageserverUrl}/v1/tenants/${c.tenantId}/timelines/${timelineId}/getpage`, {
    method: 'POST',
    headers: { authorization: `Bearer ${c.adminToken}`, 'content-type': 'application/octet-stream' },
    body,
    signal: AbortSignal.timeout(30_000),
  });
  const reply = new Uint8Array(await r.arrayBuffer());
  const ms = performance.now() - t0;
  if (!r.ok) throw new Error(`GetPage: HTTP ${r.status} ${new TextDecoder().decode(reply.subarray(0, 300))}`);
  const pageSize = Number(r.headers.get('x-strata-page-size') ?? 16384);
  const statuses: Record<string, number> = {};
  let o = 0;
  for (let i = 0; i < keys.length; i++) {
    if (o + ITEM_HEAD_BYTES > reply.length) throw new Error(`GetPage reply ends in item ${i} of ${keys.length}`);
    const status = reply[o]!;
    const name = STATUS_NAMES[status] ?? `status ${status}`;
    statuses[name] = (statuses[name] ?? 0) + 1;
    o += ITEM_HEAD_BYTES + (status === STATUS_OK ? pageSize : 0);
  }
  return { pages: keys.length, ms, statuses };
}

export function failedPages(p: GetPageProbe): number {
  return Object.entries(p.statuses).reduce((n, [name, k]) => n + (name === STATUS_NAMES[STATUS_OK] || name === STATUS_NAMES[STATUS_NOT_FOUND] ? 0 : k), 0);
}

// ---------------------------------------------------------------------------------------------
// Processes and disks

/** The pid of a cluster daemon (run/<name>.pid) if that process still runs. */
export function daemonPid(home: string, name: string): number | undefined {
  const file = join(home, 'run', `${name}.pid`);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && existsSync(`/proc/${pid}`) ? pid : undefined;
}

export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`/proc/${pid}/status has no VmRSS`);
  return Number(m[1]) * 1024;
}

/** Bytes of disk a directory tree uses (allocated blocks, as `du` counts them). */
export function duBytes(dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile('du', ['-s', '-B1', dir], { timeout: DU_TIMEOUT_MS }, (err, stdout, stderr) => {
      // du exits 1 when a file vanished while it walked (compaction, uploads): its total still counts.
      const m = /^(\d+)\s/.exec(stdout);
      if (m) resolve(Number(m[1]));
      else reject(new Error(`du ${dir}: ${err?.message ?? 'no total'} ${stderr}`));
    });
  });
}
