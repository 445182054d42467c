/**
 * The fuzz harness (issue 16, "no remote input reaches an assertion"): real
 * processes with auth on, a hostile client holding a valid tenant token (and
 * the admin token), and batches of random and mutated requests to every
 * route and stream of each service.
 *
 * Every answer must be a valid 2xx or a typed 4xx (JSON with a `code`),
 * never a 5xx, a reset or silence on an HTTP route (a stream may close on a
 * bad frame). Tokens must be obeyed: no 2xx without a token, for a tenant
 * token on an operator route, or for another tenant's token. After each
 * batch, every process is alive (it has not exited, and answers its status)
 * and the stored state the fuzzer could reach is what it was before the
 * first batch (see `snapshot`): routes.ts makes every write that could
 * succeed invalid before sending it, so any change is a finding.
 *
 * Everything a batch sends comes from one seed (the run's seed, the service
 * and the batch number), printed with every finding:
 * `npm run fuzz -- --seed S --service X --batch B` sends that batch again.
 */
import type { Agent } from 'node:http';
import { type ConsensusState } from './frames.js';
import { type FuzzCluster, LSN, OTHER, ROOT, SPACE, startCluster, TENANT, type WatchedProcess } from './cluster.js';
import { discoverRoutes } from './discover.js';
import { Prng } from './mutate.js';
import { BRANCH_TIMELINE, build, buildStray, type Built, type FuzzContext, genericSpec, ROUTES, type RouteSpec, SCRATCH_TENANT, SCRATCH_TENANT_TIMELINES, SCRATCH_TIMELINE, type Service, tenantOf, WATCHED_TIMELINE } from './routes.js';
import { agentFor, type Outcome, send, stream, type StreamOutcome } from './send.js';

export const SERVICES: readonly Service[] = ['safekeeper', 'pageserver', 'compute'];

export interface FuzzOptions {
  readonly seed: number;
  /** Requests (a stream session counts as one) per service. */
  readonly iterations: number;
  readonly services?: readonly Service[];
  readonly batchSize?: number;
  readonly concurrency?: number;
  /** Only this batch of each service (a replay). */
  readonly onlyBatch?: number;
  /** Run against the page server with a planted assertion (planted-pageserver.ts). */
  readonly plantedBug?: boolean;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** Every request and its answer (debugging a finding). */
  readonly trace?: (request: string, outcome: Outcome | StreamOutcome) => void;
}

export interface Finding {
  readonly service: Service;
  readonly batch: number;
  readonly kind: 'server-error' | 'no-answer' | 'timeout' | 'untyped-error' | 'bad-2xx' | 'auth' | 'validation-gap' | 'process-died' | 'unhealthy' | 'state-changed' | 'hostile-wal-stored';
  readonly detail: string;
  readonly request?: string;
}

export interface ServiceStats {
  iterations: number;
  batches: number;
  durationMs: number;
  /** Answers by status ("stream" for an upgraded stream, "refused-by-client" for what node would not send). */
  statuses: Record<string, number>;
}

export interface FuzzReport {
  readonly seed: number;
  readonly stats: Record<Service, ServiceStats>;
  readonly findings: Finding[];
  /** Routes the apps have that routes.ts has no template for (fuzzed generically). */
  readonly uncoveredRoutes: string[];
  /** Output tails of processes that died. */
  readonly crashOutput: string[];
  /** How deep fuzzed sessions got (WAL committed and ingested on the shared branch). */
  readonly reach: string[];
  /** The report as text: counts, durations, findings with their replay commands. */
  text(): string;
}

const BATCH_SIZE_DEFAULT = 250;
const CONCURRENCY_DEFAULT = 8;
const REQUEST_TIMEOUT_MS = 15_000;
const STREAM_TIMEOUT_MS = 1_500;
/** Requests answered just before a process stopped answering, named with its death (a crash's cause is among them or in flight). */
const SUSPECTS_RECENT = 8;
/** Findings kept per service before its run stops. */
const FINDINGS_PER_SERVICE_MAX = 30;
/** Findings kept per batch: the first ones explain the rest. */
const FINDINGS_PER_BATCH_MAX = 10;

function batchSeed(seed: number, service: Service, batch: number): number {
  // Distinct, stable per (seed, service, batch): a batch replays alone.
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(SERVICES.indexOf(service) + 1, 0xc2b2ae35) ^ Math.imul(batch + 1, 0x27d4eb2f)) >>> 0;
}

function describe(b: Built): string {
  const body = b.body ?? (b.chunks.length > 0 ? Buffer.concat(b.chunks) : undefined);
  const hex = body ? ` body[${body.length}]=${Buffer.from(body.subarray(0, 96)).toString('hex')}${body.length > 96 ? '…' : ''}` : '';
  return `${b.method} ${b.path.slice(0, 300)}${b.path.length > 300 ? '…' : ''} token=${b.token} (${b.what})${hex}`;
}

function tokenHeader(cluster: FuzzCluster, b: Built): Record<string, string> {
  switch (b.token) {
    case 'admin':
      return { authorization: `Bearer ${cluster.tokens.admin}` };
    case 'tenant':
      return { authorization: `Bearer ${cluster.tokens.tenant}` };
    case 'other-tenant':
      return { authorization: `Bearer ${cluster.tokens.otherTenant}` };
    case 'scratch-tenant':
      return { authorization: `Bearer ${cluster.tokens.scratchTenant}` };
    case 'garbage':
      return { authorization: `Bearer ${cluster.tokens.tenant.slice(0, -4)}AAAA` };
    case 'none':
      return {};
  }
}

function isTypedError(contentType: string, body: Uint8Array): boolean {
  if (!contentType.includes('application/json')) return false;
  try {
    const j: unknown = JSON.parse(Buffer.from(body).toString('utf8'));
    return typeof j === 'object' && j !== null && typeof (j as { code?: unknown }).code === 'string';
  } catch {
    return false;
  }
}

/** What is wrong with one answer, or undefined. */
export function judge(b: Built, o: Outcome | Extract<StreamOutcome, { kind: 'streamed' | 'no-answer' }>, ctx: FuzzContext): { kind: Finding['kind']; detail: string } | undefined {
  if (o.kind === 'no-answer') return { kind: 'no-answer', detail: o.error };
  if (o.kind === 'timeout') return { kind: 'timeout', detail: `no answer within ${REQUEST_TIMEOUT_MS} ms` };
  const tokenTenant = tenantOf(ctx, b.token);
  const foreign = tokenTenant !== undefined && b.target.tenant !== undefined && b.target.tenant !== tokenTenant;
  if (o.kind === 'streamed') {
    // The upgrade was granted: the token must have allowed it.
    if (b.token === 'none' || b.token === 'garbage') return { kind: 'auth', detail: `stream upgraded for token ${b.token}` };
    if (foreign) return { kind: 'auth', detail: `a stream of tenant ${b.target.tenant} upgraded for another tenant's token` };
    return undefined;
  }
  const status = o.status;
  if (status === 0) return undefined;
  const text = () => Buffer.from(o.body.subarray(0, 300)).toString('utf8');
  // Refused by node's HTTP parser before any route (a request line or header beyond 16 KiB): a 4xx without a body is right there.
  if ((status === 431 || status === 400 || status === 414) && o.body.length === 0 && o.contentType === '') return undefined;
  if (status >= 500) {
    // The documented "not yet" of a wait that ran out (wait_lsn, basebackup/datadir/aux with waitMs): typed and retryable.
    if (status === 503 && isTypedError(o.contentType, o.body) && text().includes('"LSN_NOT_YET_AVAILABLE"')) return undefined;
    return { kind: 'server-error', detail: `HTTP ${status} ${text()}` };
  }
  if (status >= 400) {
    if (b.method !== 'HEAD' && !isTypedError(o.contentType, o.body)) return { kind: 'untyped-error', detail: `HTTP ${status} (${o.contentType}) ${text()}` };
    return undefined;
  }
  if (status >= 300 || status < 200) return { kind: 'bad-2xx', detail: `HTTP ${status}` };
  // 2xx: the token had to allow it.
  const health = b.spec.service === 'compute' && b.path.startsWith('/v1/health');
  if ((b.token === 'none' || b.token === 'garbage') && !health) return { kind: 'auth', detail: `HTTP ${status} for token ${b.token}` };
  // A twisted path (`/..`, `//`) may resolve to another route: only the token checks above hold for it.
  if (b.what.includes('path twisted')) return undefined;
  if (tokenTenant !== undefined && !b.spec.tenantMay && !health) return { kind: 'auth', detail: `HTTP ${status}: a tenant token passed an operator route` };
  if (foreign) return { kind: 'auth', detail: `HTTP ${status}: a tenant token reached tenant ${b.target.tenant}` };
  if (b.what.includes('made invalid')) return { kind: 'validation-gap', detail: `HTTP ${status} for a request made invalid on purpose: ${text()}` };
  if (o.contentType.includes('application/json') && !o.truncated && b.method !== 'HEAD') {
    try {
      JSON.parse(Buffer.from(o.body).toString('utf8'));
    } catch {
      return { kind: 'bad-2xx', detail: `HTTP ${status} with a JSON content type and a body that is not JSON` };
    }
  }
  return undefined;
}

async function getJson(url: URL, path: string, token: string): Promise<unknown> {
  const res = await fetch(new URL(path, url), { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  return res.json();
}

/**
 * The stored state of a service that no fuzzed request may change (routes.ts
 * keeps every write that could succeed invalid):
 * - safekeeper: the watched timeline's whole status (term, history, conf,
 *   every LSN, WAL bytes), the tenant's timelines (exactly watched and
 *   scratch: nothing created or deleted), and the other tenant's (none);
 * - page server: the timeline's details (LSNs, layers, ancestor, children;
 *   not the WAL receiver's state, which retries on its own), the tenants,
 *   the snapshots. Aux sets and LSN times are the compute's own writes and
 *   are not compared.
 * - compute: every stop it was asked for came from an admin request that got 202.
 */
async function snapshot(cluster: FuzzCluster, service: Service, stops202: number): Promise<string> {
  const admin = cluster.tokens.admin;
  if (service === 'safekeeper') {
    const u = cluster.safekeeper.url;
    const watched = await getJson(u, `/v1/tenants/${TENANT}/timelines/${WATCHED_TIMELINE}`, admin);
    const list = (await getJson(u, `/v1/tenants/${TENANT}/timelines`, admin)) as { timelines: { timelineId: string }[] };
    const other = (await getJson(u, `/v1/tenants/${OTHER}/timelines`, admin)) as { timelines: unknown[] };
    return JSON.stringify({ watched, timelines: list.timelines.map((t) => t.timelineId).sort(), other: other.timelines.length }, null, 1);
  }
  if (service === 'pageserver') {
    const u = cluster.pageserver.url;
    const info = (await getJson(u, `/v1/tenants/${TENANT}/timelines/${ROOT}`, admin)) as Record<string, unknown>;
    const { walReceiver: _w, lastErrors: _e, remote: _r, ...stored } = info;
    const tenants = await getJson(u, '/v1/tenants', admin);
    const snapshots = await getJson(u, `/v1/tenants/${TENANT}/snapshots`, admin);
    return JSON.stringify({ timeline: stored, tenants, snapshots }, null, 1);
  }
  // Stops are allowed (admin): each must be one the fuzzer saw answered 202, none from a request that was refused.
  const stops = cluster.compute.stops;
  return stops === stops202 ? 'every stop came from an admin request answered 202' : `stops called ${stops}, answered 202 ${stops202}`;
}

function lineDiff(a: string, b: string): string {
  const x = a.split('\n');
  const y = b.split('\n');
  const out: string[] = [];
  for (let i = 0; i < Math.max(x.length, y.length); i++) if (x[i] !== y[i]) out.push(`- ${x[i] ?? ''}\n+ ${y[i] ?? ''}`);
  return out.slice(0, 20).join('\n');
}

async function liveState(cluster: FuzzCluster, timelineId: string, previous: ConsensusState): Promise<ConsensusState> {
  try {
    const s = (await getJson(cluster.safekeeper.url, `/v1/tenants/${TENANT}/timelines/${timelineId}`, cluster.tokens.admin)) as {
      term: string;
      flushLsn: string;
      commitLsn: string;
      conf: { generation: number; members: number[]; newMembers?: number[] };
      termHistory: { term: string; lsn: string }[];
    };
    return {
      tenantId: TENANT,
      timelineId,
      term: BigInt(s.term),
      flushLsn: BigInt(s.flushLsn),
      commitLsn: BigInt(s.commitLsn),
      conf: s.conf,
      termHistory: s.termHistory.map((e) => ({ term: BigInt(e.term), lsn: BigInt(e.lsn) })),
    };
  } catch {
    // A timeline's live state is only an aim: keep the last one.
    return previous;
  }
}

/**
 * The page server's refusals of committed WAL on the shared branch, past the
 * first `seen`: redo a tenant's session got through the safekeeper (stored,
 * committed, streamed) that does not parse. Issue 16: safekeepers store only
 * valid redo, or the timeline is lost.
 */
function corruptWalSince(cluster: FuzzCluster, seen: number): string[] {
  return cluster.pageserver
    .output()
    .split('\n')
    .filter((l) => l.includes(BRANCH_TIMELINE) && (l.includes('"CORRUPT_WAL"') || l.includes('"CORRUPT_REDO"')))
    .slice(seen);
}

/** The committed WAL the safekeeper holds at the LSN a page server log line names, as hex: the hostile bytes themselves. */
async function walAround(cluster: FuzzCluster, line: string): Promise<string> {
  const m = /at LSN (\d+)/.exec(line);
  if (!m) return '';
  try {
    const res = await fetch(new URL(`/v1/tenants/${TENANT}/timelines/${BRANCH_TIMELINE}/wal?from=${m[1]}&to=${BigInt(m[1]!) + 32n}`, cluster.safekeeper.url), {
      headers: { authorization: `Bearer ${cluster.tokens.admin}` },
      signal: AbortSignal.timeout(10_000),
    });
    return `\n    committed WAL from LSN ${m[1]} on the safekeeper: ${Buffer.from(await res.arrayBuffer()).toString('hex')}`;
  } catch {
    return '';
  }
}

async function pageserverLsn(cluster: FuzzCluster, timelineId: string, previous: bigint): Promise<bigint> {
  try {
    const info = (await getJson(cluster.pageserver.url, `/v1/tenants/${TENANT}/timelines/${timelineId}`, cluster.tokens.admin)) as { lastRecordLsn: string };
    return BigInt(info.lastRecordLsn);
  } catch {
    return previous;
  }
}

function processOf(cluster: FuzzCluster, service: Service): WatchedProcess | undefined {
  return service === 'safekeeper' ? cluster.safekeeper : service === 'pageserver' ? cluster.pageserver : undefined;
}

async function healthy(cluster: FuzzCluster, service: Service): Promise<string | undefined> {
  const p = processOf(cluster, service);
  if (p) {
    if (!p.alive) return `${p.name} (pid ${p.pid}) ${p.exit}`;
    try {
      process.kill(p.pid, 0);
    } catch {
      return `${p.name} (pid ${p.pid}) is gone`;
    }
  }
  const url = p ? p.url : cluster.compute.url;
  const path = p ? '/v1/status' : '/v1/health';
  try {
    const res = await fetch(new URL(path, url), { headers: { authorization: `Bearer ${cluster.tokens.admin}` }, signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    if (res.status !== 200) return `${service} answers its health check with HTTP ${res.status}`;
  } catch (e) {
    return `${service} does not answer its health check: ${(e as Error).message}`;
  }
  return undefined;
}

async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) await fn(items[i]!);
    }),
  );
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const log = opts.log ?? (() => undefined);
  const services = opts.services ?? SERVICES;
  const batchSize = opts.batchSize ?? BATCH_SIZE_DEFAULT;
  const concurrency = opts.concurrency ?? CONCURRENCY_DEFAULT;
  const discovered = await discoverRoutes();
  const uncoveredRoutes: string[] = [];
  const specs: Record<Service, RouteSpec[]> = { safekeeper: [], pageserver: [], compute: [] };
  for (const s of SERVICES) {
    specs[s] = [...ROUTES[s]];
    for (const r of discovered[s]) {
      if (!ROUTES[s].some((spec) => spec.method === r.method && spec.path === r.path)) {
        uncoveredRoutes.push(`${s} ${r.method} ${r.path}`);
        specs[s].push(genericSpec(s, r.method, r.path));
      }
    }
  }
  const t0 = performance.now();
  const cluster = await startCluster({ plantedBug: opts.plantedBug ?? false });
  log(`fuzz: seed ${opts.seed}; cluster up in ${Math.round(performance.now() - t0)} ms (safekeeper pid ${cluster.safekeeper.pid}, page server pid ${cluster.pageserver.pid}${opts.plantedBug ? ', PLANTED BUG' : ''})`);
  const findings: Finding[] = [];
  const crashOutput: string[] = [];
  const reach: string[] = [];
  let corruptWalSeen = 0;
  const seenFindings = new Set<string>();
  const stats = Object.fromEntries(SERVICES.map((s) => [s, { iterations: 0, batches: 0, durationMs: 0, statuses: {} }])) as unknown as Record<Service, ServiceStats>;
  const agents = new Map<Service, Agent>(SERVICES.map((s) => [s, agentFor(concurrency)]));
  let stops202 = 0;
  const ctx: FuzzContext = {
    tenant: TENANT,
    otherTenant: OTHER,
    watched: WATCHED_TIMELINE,
    scratch: SCRATCH_TIMELINE,
    scratchTenant: SCRATCH_TENANT,
    scratchTenantTimelines: SCRATCH_TENANT_TIMELINES,
    root: ROOT,
    space: SPACE,
    lsn: LSN,
    scratchState: { tenantId: TENANT, timelineId: SCRATCH_TIMELINE, term: 1n, flushLsn: 1000n, commitLsn: 1000n, conf: { generation: 1, members: [1] }, termHistory: [] },
    branch: BRANCH_TIMELINE,
    branchState: { tenantId: TENANT, timelineId: BRANCH_TIMELINE, term: 0n, flushLsn: LSN, commitLsn: LSN, conf: { generation: 1, members: [1] }, termHistory: [] },
    branchLsn: LSN,
  };
  try {
    for (const service of services) {
      const st = stats[service];
      const started = performance.now();
      const baseline = await snapshot(cluster, service, stops202);
      const realTimelines = service === 'safekeeper' ? [WATCHED_TIMELINE, SCRATCH_TIMELINE, BRANCH_TIMELINE] : [ROOT, BRANCH_TIMELINE];
      const url = processOf(cluster, service)?.url ?? cluster.compute.url;
      const streams = specs[service].filter((r) => r.upgrade !== undefined);
      const batches = Math.ceil(opts.iterations / batchSize);
      for (let batch = 0; batch < batches; batch++) {
        if (opts.onlyBatch !== undefined && batch !== opts.onlyBatch) continue;
        if (service === 'safekeeper') {
          ctx.scratchState = await liveState(cluster, SCRATCH_TIMELINE, ctx.scratchState);
          ctx.branchState = await liveState(cluster, BRANCH_TIMELINE, ctx.branchState);
        }
        if (service === 'pageserver') ctx.branchLsn = await pageserverLsn(cluster, BRANCH_TIMELINE, ctx.branchLsn);
        const rng = new Prng(batchSeed(opts.seed, service, batch));
        const n = Math.min(batchSize, opts.iterations - batch * batchSize);
        const requests = Array.from({ length: n }, () => {
          if (rng.chance(0.05)) return buildStray(rng, ctx, specs[service]);
          // The streams get a larger share than one route's: they take the binary frames (and the proposer sessions).
          const pickFrom = streams.length > 0 && rng.chance(0.1) ? streams : specs[service];
          return build(rng, ctx, rng.pick(pickFrom), realTimelines);
        });
        const batchFindings: Finding[] = [];
        const note = (f: Finding) => {
          if (batchFindings.length < FINDINGS_PER_BATCH_MAX) batchFindings.push(f);
        };
        // What was in flight when the first request got no answer: a crash's cause is among them (a stream frame has no answer to show).
        const inFlight = new Set<Built>();
        const recent: Built[] = [];
        let suspects: string[] | undefined;
        await pool(requests, concurrency, async (b) => {
          inFlight.add(b);
          const headers = { ...b.headers, ...tokenHeader(cluster, b) };
          let o: Outcome | StreamOutcome;
          if (b.spec.upgrade) {
            o = await stream(url, b.path, b.protocol, headers, b.chunks, STREAM_TIMEOUT_MS);
            const key = o.kind === 'refused' ? String(o.status) : o.kind === 'streamed' ? 'stream' : o.kind;
            st.statuses[key] = (st.statuses[key] ?? 0) + 1;
          } else {
            o = await send(url, agents.get(service)!, { method: b.method, path: b.path, headers, body: b.body, chunked: b.chunked, streaming: b.spec.streaming ?? false }, REQUEST_TIMEOUT_MS);
            const key = o.kind === 'answer' ? (o.status === 0 ? 'refused-by-client' : String(o.status)) : o.kind;
            st.statuses[key] = (st.statuses[key] ?? 0) + 1;
            if (service === 'compute' && o.kind === 'answer' && o.status === 202 && b.method === 'POST') stops202++;
          }
          st.iterations++;
          opts.trace?.(describe(b), o);
          if (o.kind === 'no-answer' && suspects === undefined) suspects = [...recent, ...inFlight].map(describe);
          inFlight.delete(b);
          recent.push(b);
          if (recent.length > SUSPECTS_RECENT) recent.shift();
          const bad = judge(b, o.kind === 'refused' ? { kind: 'answer', status: o.status, contentType: o.contentType, body: o.body, truncated: false } : o, ctx);
          if (bad) note({ service, batch, kind: bad.kind, detail: bad.detail, request: describe(b) });
        });
        st.batches++;
        const sick = await healthy(cluster, service);
        if (sick) {
          const died = sick.includes('exit') || sick.includes('gone') || sick.includes('signal');
          const cause = suspects ? `; the last answered and those in flight when the first request went unanswered:\n      ${suspects.join('\n      ')}` : '';
          // First, and never cut by the cap; requests the dead process left unanswered are named in it, not one by one.
          const rest = batchFindings.filter((f) => !(died && f.kind === 'no-answer'));
          batchFindings.length = 0;
          batchFindings.push({ service, batch, kind: died ? 'process-died' : 'unhealthy', detail: `${sick}${cause}` }, ...rest);
          const p = processOf(cluster, service);
          if (p) crashOutput.push(`--- ${p.name} output (tail) ---\n${p.output().slice(-6000)}`);
        } else {
          const now = await snapshot(cluster, service, stops202);
          if (now !== baseline) note({ service, batch, kind: 'state-changed', detail: lineDiff(baseline, now) });
        }
        if (service === 'safekeeper') {
          const refused = corruptWalSince(cluster, corruptWalSeen);
          corruptWalSeen += refused.length;
          if (refused.length > 0) {
            note({
              service,
              batch,
              kind: 'hostile-wal-stored',
              detail: `the safekeeper took and committed redo a tenant token sent that the page server cannot ingest (its ingest of the branch stops for good): ${refused[0]!.slice(0, 600)}${await walAround(cluster, refused[0]!)}`,
            });
          }
        }
        // The same finding again (the branch stays stuck; a route keeps failing the same way) is not news.
        const fresh = batchFindings.filter((f) => !seenFindings.has(`${f.service} ${f.kind} ${f.detail.slice(0, 120)}`));
        for (const f of fresh) seenFindings.add(`${f.service} ${f.kind} ${f.detail.slice(0, 120)}`);
        findings.push(...fresh);
        const elapsed = performance.now() - started;
        log(`fuzz: ${service} batch ${batch + 1}/${batches}: ${st.iterations} iterations in ${(elapsed / 1000).toFixed(1)} s${fresh.length ? `, ${fresh.length} FINDINGS` : ''}`);
        // A dead or sick process, or changed state, ends this service's run (what follows would hit a dead process or compare
        // against a moved baseline); a bad answer does not, so one finding does not hide the next.
        if (batchFindings.some((f) => f.kind === 'process-died' || f.kind === 'unhealthy' || f.kind === 'state-changed')) break;
        if (findings.filter((f) => f.service === service).length >= FINDINGS_PER_SERVICE_MAX) break;
      }
      st.durationMs = performance.now() - started;
      // How far fuzzed sessions got: WAL the safekeeper committed on the shared branch, and how much of it the page server ingested.
      if (service === 'safekeeper') {
        ctx.branchState = await liveState(cluster, BRANCH_TIMELINE, ctx.branchState);
        reach.push(`safekeeper: branch term ${ctx.branchState.term}, ${ctx.branchState.flushLsn - LSN} bytes of fuzzed WAL flushed, ${ctx.branchState.commitLsn - LSN} committed`);
      }
      if (service === 'pageserver') {
        ctx.branchLsn = await pageserverLsn(cluster, BRANCH_TIMELINE, ctx.branchLsn);
        const info = (await getJson(cluster.pageserver.url, `/v1/tenants/${TENANT}/timelines/${BRANCH_TIMELINE}`, cluster.tokens.admin).catch(() => ({}))) as { walReceiver?: unknown; lastErrors?: unknown };
        const lastWord = cluster.pageserver
          .output()
          .split('\n')
          .filter((l) => l.includes(BRANCH_TIMELINE) && /receiver|ingest/i.test(l))
          .at(-1);
        reach.push(`page server: ${ctx.branchLsn - LSN} bytes of it ingested on the branch; WAL receiver ${JSON.stringify(info.walReceiver ?? null)}; its last log line: ${lastWord?.slice(0, 600) ?? '(none)'}`);
      }
    }
  } finally {
    for (const a of agents.values()) a.destroy();
    await cluster.close();
  }
  return {
    seed: opts.seed,
    stats,
    findings,
    uncoveredRoutes,
    crashOutput,
    reach,
    text: () => reportText(opts, stats, findings, uncoveredRoutes, crashOutput, reach),
  };
}

function reportText(opts: FuzzOptions, stats: Record<Service, ServiceStats>, findings: readonly Finding[], uncovered: readonly string[], crashes: readonly string[], reach: readonly string[]): string {
  const lines: string[] = [`fuzz seed ${opts.seed}${opts.plantedBug ? ' (planted bug)' : ''}`];
  for (const s of opts.services ?? SERVICES) {
    const st = stats[s];
    const rate = st.durationMs > 0 ? Math.round((st.iterations / st.durationMs) * 1000) : 0;
    const statuses = Object.entries(st.statuses)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}:${v}`)
      .join(' ');
    lines.push(`  ${s}: ${st.iterations} iterations in ${st.batches} batches, ${(st.durationMs / 1000).toFixed(1)} s (${rate}/s); ${statuses}`);
  }
  for (const r of reach) lines.push(`  reach: ${r}`);
  if (uncovered.length > 0) lines.push(`  routes without a template (fuzzed generically): ${uncovered.join(', ')}`);
  if (findings.length === 0) lines.push('  no findings');
  for (const f of findings) {
    lines.push(`  FINDING [${f.kind}] ${f.service} batch ${f.batch}: ${f.detail}`);
    if (f.request) lines.push(`    request: ${f.request}`);
    lines.push(`    replay: npm run fuzz -- --seed ${opts.seed} --service ${f.service} --batch ${f.batch}${opts.plantedBug ? ' --planted-bug' : ''}`);
  }
  lines.push(...crashes);
  return lines.join('\n');
}
