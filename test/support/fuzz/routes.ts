/**
 * Every route and stream the fuzzer drives, per service, with a valid request
 * for each (path, query, body) that it then mutates. Routes found on the apps
 * (see discover.ts) that have no entry here are fuzzed generically.
 *
 * No fuzzed request may change state the checks compare (harness.ts), and a
 * fuzzed request with a legitimate token could: so a request that would pass
 * authorization, reach a route that writes, and stay valid is made invalid
 * on purpose before it is sent (an unknown field in a strict JSON body, an
 * unknown parameter in a strict query, or an id that is not an id in the
 * path), unless the route says the write is harmless for the target (a
 * create of a timeline that exists; consensus frames to the scratch timeline).
 */
import { CONSENSUS_STREAM_PROTOCOL } from '@strata/core/consensus';
import { GETPAGE_STREAM_PROTOCOL } from '@strata/core/getpage';
import { auxSet, compressed, type ConsensusState, consensusRequest, consensusSession, type Encoded, getpageBatch, getpageFrame, walStreamFrame } from './frames.js';
import { hexId, type Json, mutateBytesMany, mutateJsonMany, oddSegment, oddString, type Prng, randomBytes, randomLength, U64_EDGES } from './mutate.js';

export type Service = 'safekeeper' | 'pageserver' | 'compute';
export type TokenKind = 'tenant' | 'admin' | 'other-tenant' | 'scratch-tenant' | 'none' | 'garbage';

/** The ids and live values requests are built from. */
export interface FuzzContext {
  readonly tenant: string;
  readonly otherTenant: string;
  /** Safekeeper: the watched timeline (must not change) and the scratch one (consensus frames may change it). */
  readonly watched: string;
  readonly scratch: string;
  /**
   * Safekeeper: a tenant where anything goes (its own token and the admin's
   * may create, join, stream, delete): valid writes with hostile values
   * (start LSNs, configurations, terms) reach the code behind validation
   * there, and the checks compare only the other two tenants.
   */
  readonly scratchTenant: string;
  readonly scratchTenantTimelines: readonly string[];
  /** Page server: its one timeline (must not change), a tablespace of it, and its LSN. */
  readonly root: string;
  readonly space: number;
  readonly lsn: bigint;
  /** The scratch timeline's live consensus state, read before each batch. */
  scratchState: ConsensusState;
  /**
   * A timeline both services hold: a branch of the page server's timeline,
   * and on the safekeeper one a tenant token may run consensus on. Hostile
   * redo committed there reaches the page server's ingest and GetPage; the
   * checks compare neither copy (only liveness and typed answers).
   */
  readonly branch: string;
  /** Its live consensus state on the safekeeper, and the page server's last ingested LSN of it, read before each batch. */
  branchState: ConsensusState;
  branchLsn: bigint;
}

type QueryKind = 'lsn' | 'wait' | 'keepalive' | 'bool' | 'time';

export interface RouteSpec {
  readonly service: Service;
  readonly method: string;
  /** Hono's pattern: `/v1/tenants/:tenant/timelines/:timeline`. */
  readonly path: string;
  /** A tenant token passes its authorization (for its own tenant). */
  readonly tenantMay: boolean;
  /** Writes stored state when valid and authorized. */
  readonly writes: boolean;
  /** The valid query: names and kinds (wait times stay small or invalid: a valid long wait is no bug). */
  readonly query?: Readonly<Record<string, QueryKind>>;
  /** The strict query schema refuses unknown parameters: how a write is made invalid when the body cannot be. */
  readonly strictQuery?: boolean;
  readonly json?: (ctx: FuzzContext, rng: Prng, at: Target) => Json;
  readonly bytes?: (ctx: FuzzContext, rng: Prng, at: Target) => Encoded;
  /** The reply streams for as long as it is read: read its head only. */
  readonly streaming?: boolean;
  /** A valid, authorized write to this target changes nothing the checks compare. */
  readonly harmless?: (target: Target, body: Json | undefined) => boolean;
  /** An upgraded stream (not an HTTP route): its protocol token. */
  readonly upgrade?: string;
}

export interface Target {
  readonly tenant: string | undefined;
  readonly timeline: string | undefined;
  /** Every path parameter is a real id of the context (nothing was made odd or unknown). */
  readonly real: boolean;
}

const lsnStr = (v: bigint) => String(v);

/** The safekeeper's two timelines (see FuzzContext). */
export const WATCHED_TIMELINE = 'a'.repeat(32);
export const SCRATCH_TIMELINE = '5'.repeat(32);
/** The timeline both services hold (FuzzContext.branch). */
export const BRANCH_TIMELINE = 'd'.repeat(32);
/**
 * Start LSNs of the scratch tenant's timelines, and the flush LSNs its sessions guess: where LSN arithmetic
 * changes (2^53, past which a double loses integers; 2^62, the safekeeper's bound) as well as the usual 1000.
 */
const SCRATCH_START_LSNS: readonly bigint[] = [1000n, 1000n, 0n, (1n << 53n) - 16n, (1n << 53n) + 1n, (1n << 62n) - 4096n];

/** The safekeeper's scratch tenant and the timelines fuzzed requests create and use there. */
export const SCRATCH_TENANT = 'c'.repeat(32);
export const SCRATCH_TENANT_TIMELINES: readonly string[] = ['c0', 'c1', 'c2', 'c3'].map((p) => p.repeat(16));

const SAFEKEEPER: RouteSpec[] = [
  { service: 'safekeeper', method: 'GET', path: '/v1/status', tenantMay: true, writes: false },
  { service: 'safekeeper', method: 'GET', path: '/metrics', tenantMay: false, writes: false },
  {
    service: 'safekeeper',
    method: 'POST',
    path: '/v1/tenants/:tenant/timelines',
    tenantMay: true,
    writes: true,
    json: (c, rng, at) => ({
      timelineId: at.tenant === c.scratchTenant ? rng.pick(c.scratchTenantTimelines) : rng.pick([c.watched, c.scratch, hexId(rng)]),
      startLsn: String(rng.chance(0.3) ? rng.pick(U64_EDGES) : rng.pick(SCRATCH_START_LSNS)),
      conf: { generation: 1, members: [1] },
    }),
    // Creating a timeline that exists changes nothing (200, or 409 when the parameters differ).
    harmless: (t, body) =>
      t.real && typeof body === 'object' && body !== null && !Array.isArray(body) && typeof body['timelineId'] === 'string' && [WATCHED_TIMELINE, SCRATCH_TIMELINE, BRANCH_TIMELINE].includes(body['timelineId']),
  },
  { service: 'safekeeper', method: 'GET', path: '/v1/tenants/:tenant/timelines', tenantMay: true, writes: false },
  { service: 'safekeeper', method: 'GET', path: '/v1/tenants/:tenant/timelines/:timeline', tenantMay: true, writes: false },
  {
    service: 'safekeeper',
    method: 'POST',
    path: '/v1/tenants/:tenant/timelines/:timeline/join',
    tenantMay: true,
    writes: true,
    json: () => ({ startLsn: '1000', conf: { generation: 1, members: [1] }, timelineCreatedAt: '2026-01-01T00:00:00.000Z' }),
    // A join of a timeline this safekeeper holds answers its status and changes nothing.
    harmless: (t) => t.real,
  },
  { service: 'safekeeper', method: 'DELETE', path: '/v1/tenants/:tenant/timelines/:timeline', tenantMay: false, writes: true },
  { service: 'safekeeper', method: 'GET', path: '/v1/tenants/:tenant/timelines/:timeline/wal', tenantMay: true, writes: false, query: { from: 'lsn', to: 'lsn', waitMs: 'wait' }, strictQuery: true },
  { service: 'safekeeper', method: 'GET', path: '/v1/tenants/:tenant/timelines/:timeline/wal/stream', tenantMay: true, writes: false, query: { from: 'lsn', keepaliveMs: 'keepalive' }, strictQuery: true, streaming: true },
  { service: 'safekeeper', method: 'GET', path: '/v1/tenants/:tenant/timelines/:timeline/snapshot/wal/stream', tenantMay: false, writes: false, query: { from: 'lsn', to: 'lsn', keepaliveMs: 'keepalive' }, strictQuery: true, streaming: true },
  { service: 'safekeeper', method: 'GET', path: '/v1/tenants/:tenant/timelines/:timeline/snapshot/wal', tenantMay: false, writes: false, query: { from: 'lsn', to: 'lsn' }, strictQuery: true },
  {
    service: 'safekeeper',
    method: 'POST',
    path: '/v1/tenants/:tenant/timelines/:timeline/consensus',
    // The membership coordinator's route: operators only (a compute's proposer streams).
    tenantMay: false,
    writes: true,
    // Frames always name the scratch timeline: at the watched one's URL they are refused (another timeline), at the scratch one's they run.
    bytes: (c, rng, at) => consensusBody(c, rng, at),
    harmless: () => true,
  },
  {
    service: 'safekeeper',
    method: 'GET',
    path: '/v1/tenants/:tenant/timelines/:timeline/consensus/stream',
    tenantMay: true,
    writes: true,
    bytes: (c, rng, at) => consensusBody(c, rng, at),
    harmless: () => true,
    upgrade: CONSENSUS_STREAM_PROTOCOL,
  },
  { service: 'safekeeper', method: 'POST', path: '/v1/tenants/:tenant/timelines/:timeline/remote_consistent_lsn', tenantMay: false, writes: true, json: (c) => ({ lsn: lsnStr(c.scratchState.commitLsn) }) },
  // A valid pull fetches from the URL given (the caller's operator power): kept invalid, so it never leaves loopback.
  { service: 'safekeeper', method: 'POST', path: '/v1/tenants/:tenant/timelines/:timeline/pull', tenantMay: false, writes: true, json: () => ({ from: 'http://127.0.0.1:1' }) },
];

function consensusBody(c: FuzzContext, rng: Prng, at: Target): Encoded {
  // In the scratch tenant, frames name the URL's timeline (its state unknown: terms and LSNs from its likely start);
  // elsewhere the scratch timeline, whatever the URL (at the watched one's they are refused as another timeline's).
  const state: ConsensusState =
    at.tenant === c.scratchTenant && at.timeline !== undefined
      ? { tenantId: c.scratchTenant, timelineId: at.timeline, term: BigInt(rng.int(0, 3)), flushLsn: rng.pick(SCRATCH_START_LSNS), commitLsn: 0n, conf: { generation: 1, members: [1] }, termHistory: [] }
      : at.timeline === c.branch
        ? c.branchState
        : c.scratchState;
  // Sessions (elected proposer, then appends) are what a compute sends: most of what goes to the timeline both services hold.
  if (rng.chance(at.timeline === c.branch ? 0.8 : 0.4)) return consensusSession(rng, state);
  const n = rng.chance(0.7) ? 1 : rng.int(2, 5);
  const frames = Array.from({ length: n }, () => {
    const f = consensusRequest(rng, state);
    return rng.chance(0.1) ? compressed(f) : f;
  });
  if (n === 1) return frames[0]!;
  // Fields are located in the first frame only.
  const bytes = new Uint8Array(frames.reduce((s, f) => s + f.bytes.length, 0));
  let o = 0;
  for (const f of frames) {
    bytes.set(f.bytes, o);
    o += f.bytes.length;
  }
  return { bytes, fields: frames[0]!.fields, what: frames.map((f) => f.what).join('+') };
}

const PAGESERVER: RouteSpec[] = [
  { service: 'pageserver', method: 'GET', path: '/v1/status', tenantMay: true, writes: false },
  { service: 'pageserver', method: 'GET', path: '/metrics', tenantMay: false, writes: false },
  { service: 'pageserver', method: 'GET', path: '/v1/tenants', tenantMay: false, writes: false },
  { service: 'pageserver', method: 'POST', path: '/v1/tenants/import', tenantMay: false, writes: true, json: () => ({ datadir: '/nonexistent/datadir' }) },
  { service: 'pageserver', method: 'POST', path: '/v1/tenants/:tenant/import', tenantMay: false, writes: true, json: () => ({ datadir: '/nonexistent/datadir' }) },
  { service: 'pageserver', method: 'DELETE', path: '/v1/tenants/:tenant', tenantMay: false, writes: true },
  { service: 'pageserver', method: 'GET', path: '/v1/tenants/:tenant/timelines', tenantMay: true, writes: false },
  { service: 'pageserver', method: 'GET', path: '/v1/tenants/:tenant/timelines/:timeline', tenantMay: true, writes: false },
  { service: 'pageserver', method: 'GET', path: '/v1/tenants/:tenant/timelines/:timeline/layers', tenantMay: true, writes: false },
  { service: 'pageserver', method: 'POST', path: '/v1/tenants/:tenant/timelines/:timeline/branch', tenantMay: false, writes: true, json: (c, rng) => ({ lsn: lsnStr(c.lsn), newTimelineId: hexId(rng) }) },
  { service: 'pageserver', method: 'DELETE', path: '/v1/tenants/:tenant/timelines/:timeline', tenantMay: false, writes: true },
  { service: 'pageserver', method: 'GET', path: '/v1/tenants/:tenant/timelines/:timeline/wait_lsn', tenantMay: true, writes: false, query: { lsn: 'lsn', timeoutMs: 'wait' }, strictQuery: true },
  {
    service: 'pageserver',
    method: 'POST',
    path: '/v1/tenants/:tenant/timelines/:timeline/aux',
    tenantMay: true,
    writes: true,
    query: { lsn: 'lsn' },
    strictQuery: true,
    bytes: (_c, rng) => auxSet(rng),
    // The compute's own aux sets: its token may store them; the checks do not compare them.
    harmless: () => true,
  },
  { service: 'pageserver', method: 'POST', path: '/v1/tenants/:tenant/timelines/:timeline/getpage', tenantMay: true, writes: false, query: { waitMs: 'wait' }, strictQuery: true, bytes: (c, rng, at) => getpageBatch(rng, c.space, at.timeline === c.branch ? c.branchLsn : c.lsn) },
  {
    service: 'pageserver',
    method: 'GET',
    path: '/v1/tenants/:tenant/timelines/:timeline/getpage/stream',
    tenantMay: true,
    writes: false,
    bytes: (c, rng, at) => getpageFrame(rng, c.space, at.timeline === c.branch ? c.branchLsn : c.lsn),
    upgrade: GETPAGE_STREAM_PROTOCOL,
  },
  { service: 'pageserver', method: 'GET', path: '/v1/tenants/:tenant/timelines/:timeline/basebackup', tenantMay: true, writes: false, query: { lsn: 'lsn', waitMs: 'wait' }, strictQuery: true, streaming: true },
  { service: 'pageserver', method: 'GET', path: '/v1/tenants/:tenant/timelines/:timeline/datadir', tenantMay: true, writes: false, query: { lsn: 'lsn', waitMs: 'wait' }, strictQuery: true },
  { service: 'pageserver', method: 'GET', path: '/v1/tenants/:tenant/timelines/:timeline/aux', tenantMay: true, writes: false, query: { lsn: 'lsn', waitMs: 'wait' }, strictQuery: true },
  { service: 'pageserver', method: 'POST', path: '/v1/tenants/:tenant/timelines/:timeline/compact', tenantMay: false, writes: true, query: { force: 'bool' }, strictQuery: true },
  { service: 'pageserver', method: 'POST', path: '/v1/tenants/:tenant/timelines/:timeline/gc', tenantMay: false, writes: true, json: (c, rng): Json => (rng.chance(0.5) ? { pitrMs: 1000 } : { horizonLsn: lsnStr(c.lsn) }) },
  {
    service: 'pageserver',
    method: 'POST',
    path: '/v1/tenants/:tenant/timelines/:timeline/lsn_times',
    tenantMay: true,
    writes: true,
    json: (c, rng) => ({ points: Array.from({ length: rng.int(1, 3) }, (_, i) => ({ lsn: lsnStr(c.lsn + BigInt(i)), timeMs: 1_700_000_000_000 + i })) }),
    // The compute's shipper reports these with its token; the checks do not compare them.
    harmless: () => true,
  },
  { service: 'pageserver', method: 'GET', path: '/v1/tenants/:tenant/timelines/:timeline/lsn_by_timestamp', tenantMay: true, writes: false, query: { at: 'time' }, strictQuery: true },
  { service: 'pageserver', method: 'GET', path: '/v1/tenants/:tenant/snapshots', tenantMay: true, writes: false },
  { service: 'pageserver', method: 'POST', path: '/v1/tenants/:tenant/snapshots', tenantMay: false, writes: true, json: (c) => ({ name: 'snap-1', timelineId: c.root, lsn: lsnStr(c.lsn) }) },
  { service: 'pageserver', method: 'GET', path: '/v1/tenants/:tenant/snapshots/:name', tenantMay: true, writes: false },
  { service: 'pageserver', method: 'DELETE', path: '/v1/tenants/:tenant/snapshots/:name', tenantMay: false, writes: true },
  { service: 'pageserver', method: 'POST', path: '/v1/tenants/:tenant/snapshots/:name/restore', tenantMay: false, writes: true, json: (_c, rng) => ({ newTimelineId: hexId(rng) }) },
  { service: 'pageserver', method: 'GET', path: '/v1/page_cache', tenantMay: false, writes: false },
  // Emptying the page cache loses no stored state.
  { service: 'pageserver', method: 'POST', path: '/v1/page_cache/clear', tenantMay: false, writes: false },
  { service: 'pageserver', method: 'POST', path: '/v1/tenants/:tenant/timelines/:timeline/evict', tenantMay: false, writes: true, json: () => ({ budgetBytes: 0 }) },
];

const COMPUTE: RouteSpec[] = [
  { service: 'compute', method: 'GET', path: '/v1/health', tenantMay: true, writes: false },
  { service: 'compute', method: 'GET', path: '/v1/status', tenantMay: false, writes: false },
  { service: 'compute', method: 'GET', path: '/metrics', tenantMay: false, writes: false },
  { service: 'compute', method: 'GET', path: '/v1/lsn-times', tenantMay: false, writes: false },
  // The harness's compute stops nothing: it counts the calls and checks each came from an admin request that got 202.
  { service: 'compute', method: 'POST', path: '/v1/stop', tenantMay: false, writes: false },
];

export const ROUTES: Readonly<Record<Service, readonly RouteSpec[]>> = { safekeeper: SAFEKEEPER, pageserver: PAGESERVER, compute: COMPUTE };

/** A route found on an app with no entry above: fuzzed with odd ids, random queries and bodies only. */
export function genericSpec(service: Service, method: string, path: string): RouteSpec {
  return { service, method, path, tenantMay: true, writes: true };
}

/** One request the fuzzer sends, and what it knows about it for the checks. */
export interface Built {
  readonly spec: RouteSpec;
  readonly token: TokenKind;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array | undefined;
  readonly chunked: boolean;
  /** For streams: the chunks written after the upgrade. */
  readonly chunks: readonly Uint8Array[];
  /** For streams: the `Upgrade` token asked for (sometimes not the route's). */
  readonly protocol: string;
  readonly target: Target;
  /** What was mutated, for the report. */
  readonly what: string;
}

function queryValue(rng: Prng, kind: QueryKind, c: FuzzContext): string {
  switch (kind) {
    case 'lsn':
      return rng.chance(0.6) ? String(rng.pick([c.lsn, c.scratchState.flushLsn, c.scratchState.commitLsn, 1000n])) : String(rng.pick(U64_EDGES));
    case 'wait':
      return String(rng.pick([0, 1, 10, 50]));
    case 'keepalive':
      return String(rng.pick([10, 100, 1000]));
    case 'bool':
      return rng.pick(['true', 'false']);
    case 'time':
      return rng.pick(['2026-01-01T00:00:00Z', '1970-01-01T00:00:00Z', '9999-12-31T23:59:59Z']);
  }
}

/** A query value that is wrong: never a valid wait (a valid long wait would only be slow). */
function oddQueryValue(rng: Prng, kind: QueryKind): string {
  if (kind === 'wait' || kind === 'keepalive') return rng.pick(['-1', 'abc', '1.5', '', '1e400', 'NaN', '0x10', ' 5', '9'.repeat(400)]);
  return oddString(rng);
}

/** encodeURIComponent, with a lone surrogate (which it refuses) sent as its raw UTF-8 bytes. */
function encodeComponent(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return s.replace(/[\ud800-\udfff]/g, '%ED%A0%80').replace(/[^A-Za-z0-9%._~-]/g, (ch) => encodeURIComponent(ch));
  }
}

function encodeQuery(pairs: readonly [string, string][]): string {
  if (pairs.length === 0) return '';
  return `?${pairs.map(([k, v]) => `${encodeComponent(k)}=${encodeComponent(v)}`).join('&')}`;
}

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/octet-stream', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded'];

/**
 * Builds one request for `spec`: a token, path ids (real mostly; odd, unknown
 * or another tenant's sometimes), a query and a body, each valid or mutated.
 */
export function build(rng: Prng, c: FuzzContext, spec: RouteSpec, realTimelines: readonly string[]): Built {
  let token: TokenKind = rng.pick<TokenKind>(['tenant', 'tenant', 'tenant', 'tenant', 'tenant', 'tenant', 'admin', 'admin', 'admin', 'other-tenant', 'scratch-tenant', 'none', 'garbage']);
  const what: string[] = [];
  let real = true;
  let tenant: string | undefined;
  let timeline: string | undefined;
  const segments = spec.path.split('/').map((seg) => {
    if (seg === ':tenant') {
      const r = rng.next();
      const scratchShare = spec.service === 'safekeeper' ? 0.15 : 0;
      tenant = r < 0.75 ? c.tenant : r < 0.75 + scratchShare ? c.scratchTenant : r < 0.92 ? c.otherTenant : undefined;
      if (tenant === undefined) {
        real = false;
        const odd = rng.chance(0.5) ? hexId(rng) : oddSegment(rng, c.tenant);
        what.push(`tenant ${odd.slice(0, 40)}`);
        return odd;
      }
      if (tenant !== c.tenant) real = false;
      return tenant;
    }
    if (seg === ':timeline') {
      const r = rng.next();
      if (tenant === c.scratchTenant && r < 0.85) return (timeline = rng.pick(c.scratchTenantTimelines));
      if (r < 0.85) return (timeline = rng.pick(realTimelines));
      real = false;
      const odd = r < 0.92 ? hexId(rng) : oddSegment(rng, realTimelines[0]!);
      what.push(`timeline ${odd.slice(0, 40)}`);
      return odd;
    }
    if (seg === ':name') {
      // No snapshot exists: every name is unknown (404) or odd (400).
      real = false;
      return rng.chance(0.5) ? 'snap-1' : oddSegment(rng, 'snap-1');
    }
    return seg;
  });
  let path = segments.join('/');
  if (rng.chance(0.03)) {
    // Traversal and doubled slashes around a real route.
    path = rng.pick([`${path}/..`, `${path}/../../v1/status`, path.replace('/v1/', '//v1/'), `${path}/`, `${path}%2f..`, `/v1/../${path.slice(4)}`]);
    what.push('path twisted');
  }

  // The query: the valid one, or mutated.
  const pairs: [string, string][] = [];
  let queryInvalid = false;
  for (const [k, kind] of Object.entries(spec.query ?? {})) {
    if (rng.chance(0.8)) pairs.push([k, queryValue(rng, kind, c)]);
  }
  if (rng.chance(0.4)) {
    const m = rng.int(0, 3);
    if (m === 0 && pairs.length > 0) {
      const i = rng.int(0, pairs.length - 1);
      const kind = spec.query?.[pairs[i]![0]] ?? 'lsn';
      pairs[i] = [pairs[i]![0], oddQueryValue(rng, kind)];
      what.push(`query ${pairs[i]![0]} odd`);
    } else if (m === 1) {
      pairs.push([rng.pick(['extra', '__proto__', 'from', 'lsn', 'x'.repeat(200)]), rng.chance(0.5) ? '1' : oddString(rng)]);
      what.push('query param added');
      if (spec.strictQuery) queryInvalid = true;
    } else if (m === 2 && pairs.length > 0) {
      // A repeated parameter: hono gives the first, or an array to zod.
      pairs.push([pairs[0]![0], queryValue(rng, spec.query?.[pairs[0]![0]] ?? 'lsn', c)]);
      what.push('query param repeated');
    } else if (pairs.length > 0) {
      pairs.splice(rng.int(0, pairs.length - 1), 1);
      what.push('query param removed');
    }
  }

  // The body.
  let body: Uint8Array | undefined;
  let json: Json | undefined;
  let bodyInvalid = false;
  let chunks: Uint8Array[] = [];
  const headers: Record<string, string> = {};
  const enc = new TextEncoder();
  if (spec.upgrade) {
    const valid = spec.bytes!(c, rng, { tenant, timeline, real });
    let bytes = valid.bytes;
    // A stream's first bad frame ends it: a quarter go unmutated, so later sessions start from what earlier ones left.
    if (rng.chance(0.6)) {
      const m = mutateBytesMany(rng, bytes, valid.fields);
      bytes = m.bytes;
      what.push(`${valid.what}: ${m.what}`);
    } else if (rng.chance(0.4)) {
      bytes = rng.chance(0.5) ? randomBytes(rng, randomLength(rng, 64 << 10)) : walStreamFrame(rng, c.lsn).bytes;
      what.push('foreign bytes');
    } else what.push(`${valid.what} (valid)`);
    // Split at random points: a frame across writes.
    chunks = [];
    for (let o = 0; o < bytes.length; ) {
      const n = rng.chance(0.5) ? bytes.length - o : rng.int(1, Math.max(1, bytes.length - o));
      chunks.push(bytes.subarray(o, o + n));
      o += n;
    }
  } else if (spec.json) {
    json = spec.json(c, rng, { tenant, timeline, real });
    if (rng.chance(0.7)) {
      // Not trusted to make the body invalid: a later mutation may undo an earlier one (an added field removed again).
      const m = mutateJsonMany(rng, json);
      json = m.value;
      what.push(`json ${m.what}`);
    }
    let text = JSON.stringify(json);
    if (rng.chance(0.05)) {
      // Broken text, and nesting deep enough to exhaust a recursive parser's stack (within the 64 KiB body limit).
      // A byte-order mark is not broken (the body's decoder drops it): that text stays as valid as it was.
      const [broken, invalid] = rng.pick<[string, boolean]>([
        [text.slice(0, Math.max(0, text.length - 1)), true],
        [`${text},`, true],
        [text.replace(/"/, "'"), true],
        ['\ufeff' + text, false],
        ['{"a":1,"a":2}', true],
        ['x'.repeat(70_000), true],
        ['['.repeat(30_000) + ']'.repeat(30_000), true],
        ['{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000), true],
      ]);
      text = broken;
      bodyInvalid = invalid;
      what.push(invalid ? 'json text broken' : 'json text with a byte-order mark');
    }
    body = enc.encode(text);
    headers['content-type'] = rng.chance(0.85) ? 'application/json' : rng.pick(CONTENT_TYPES);
    if (!headers['content-type'].startsWith('application/json')) bodyInvalid = true;
  } else if (spec.bytes) {
    const valid = spec.bytes(c, rng, { tenant, timeline, real });
    body = valid.bytes;
    if (rng.chance(0.75)) {
      const m = mutateBytesMany(rng, body, valid.fields);
      body = m.bytes;
      what.push(`${valid.what}: ${m.what}`);
    } else what.push(`${valid.what} (valid)`);
    headers['content-type'] = 'application/octet-stream';
    if (spec.path.endsWith('/consensus') && rng.chance(0.1)) headers['content-encoding'] = rng.pick(['zstd', 'gzip', 'identity', 'zstd, zstd']);
  } else if (rng.chance(0.3)) {
    // A body where none is expected, or random bytes for a generic route.
    body = rng.chance(0.5) ? randomBytes(rng, randomLength(rng, 256 << 10)) : enc.encode(JSON.stringify({ x: oddString(rng) }));
    headers['content-type'] = rng.pick(CONTENT_TYPES);
    what.push(`unexpected body of ${body.length} bytes`);
  }

  // A write that would succeed with this token is made to fail on purpose (see the header comment).
  // In the scratch tenant its own token is the usual one (and admin's); elsewhere it is another tenant's.
  if (tenant === c.scratchTenant && rng.chance(0.7)) token = rng.pick<TokenKind>(['scratch-tenant', 'scratch-tenant', 'admin']);
  // Counted as authorized whenever it might be (an odd tenant id included): the check errs towards invalidating.
  const tokenTenant = tenantOf(c, token);
  const authorized = token === 'admin' || (spec.tenantMay && tokenTenant !== undefined && (tenant === undefined || tenant === tokenTenant));
  const target: Target = { tenant, timeline, real };
  // Anything goes in the scratch tenant (a tenant path segment is there only on tenant routes).
  const scratchTenant = tenant === c.scratchTenant;
  if (spec.writes && authorized && !scratchTenant && !bodyInvalid && !queryInvalid && !(spec.harmless?.(target, json) ?? false)) {
    if (spec.json && json !== null && typeof json === 'object' && !Array.isArray(json)) {
      json = { ...json, fuzzUnknownField: 1 };
      body = enc.encode(JSON.stringify(json));
      what.push('made invalid: unknown field');
    } else if (spec.json) {
      what.push('invalid: not an object');
    } else if (spec.strictQuery) {
      pairs.push(['fuzzUnknownParam', '1']);
      what.push('made invalid: unknown query parameter');
    } else {
      const cut = path.lastIndexOf('/');
      // Not a dot segment: URL parsing would resolve that to another route.
      path = `${path.slice(0, cut)}/${rng.pick(['-1', 'G'.repeat(32), 'x'.repeat(33), '%00', '%20', 'fuzz'])}`;
      what.push('made invalid: odd last segment');
    }
  }
  let protocol = spec.upgrade ?? '';
  if (spec.upgrade && rng.chance(0.05)) {
    // An upgrade nobody here speaks must still be answered, not left hanging.
    protocol = rng.pick(['websocket', 'h2c', CONSENSUS_STREAM_PROTOCOL, GETPAGE_STREAM_PROTOCOL, 'x'.repeat(300)]);
    what.push(`upgrade to ${protocol.slice(0, 30)}`);
  }
  if (!spec.upgrade) path += encodeQuery(pairs);
  if (rng.chance(0.02)) headers['origin'] = 'https://evil.example';
  return { spec, token, method: spec.method, path, headers, body, chunked: body !== undefined && rng.chance(0.1), chunks, protocol, target, what: what.join('; ') || 'valid' };
}

/** The tenant a tenant token is for (undefined: not a tenant token). */
export function tenantOf(c: FuzzContext, token: TokenKind): string | undefined {
  return token === 'tenant' ? c.tenant : token === 'other-tenant' ? c.otherTenant : token === 'scratch-tenant' ? c.scratchTenant : undefined;
}

/** `/v1/tenants/:tenant` → a regex matching its concrete paths. */
function pattern(path: string): RegExp {
  return new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[a-z]+/g, '[^/]*')}$`);
}

/** A request to a path no route has, or a known path with another method. */
export function buildStray(rng: Prng, c: FuzzContext, specs: readonly RouteSpec[]): Built {
  const spec = rng.pick(specs);
  const method = rng.pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND']);
  let path = rng.pick([
    spec.path.replace(':tenant', c.tenant).replace(':timeline', rng.pick([c.root, c.watched])).replace(':name', 'snap-1'),
    `/v1/${oddSegment(rng, 'x')}`,
    '/',
    '/v2/status',
    `/v1/tenants/${c.tenant}/timelines/${c.root}/${oddSegment(rng, 'x')}`,
    '/..%2f..%2fetc%2fpasswd',
  ]);
  const body = rng.chance(0.5) ? randomBytes(rng, randomLength(rng, 4096)) : undefined;
  // Another method on a known path may be a route that writes (DELETE of a timeline): such a path gets a suffix no route has.
  if (specs.some((s) => s.writes && s.method === method && pattern(s.path).test(path))) path = `${path}/fuzz-stray`;
  return {
    spec: genericSpec(spec.service, method, path),
    token: rng.pick<TokenKind>(['tenant', 'admin', 'none']),
    method,
    path,
    headers: body ? { 'content-type': rng.pick(CONTENT_TYPES) } : {},
    body,
    chunked: false,
    chunks: [],
    protocol: '',
    target: { tenant: c.tenant, timeline: undefined, real: false },
    what: `stray ${method}`,
  };
}
