/**
 * `strata status`: every node of the local cluster with its health, and per
 * branch the safekeepers' term and LSNs, the page server's ingest and upload
 * progress, and the computes with their shipper lag. Under a branch, one line
 * per problem the page server reports (a failing compaction, GC, upload or
 * basebackup with its real message, an upload backlog); none when healthy.
 */
import { z } from 'zod';
import { authHeaders, pageserverStatus, ServiceClientError, type TimelineDetails, timelineDetails } from '@strata/client';
import { lsnDecimal, lsnString } from '@strata/core/json';
import { runningComputes } from './computes.js';
import { localAdminToken } from '@strata/client/local';
import { type ClusterState } from './state.js';

const skTimeline = z.object({ term: z.string(), flushLsn: lsnDecimal, commitLsn: lsnString, backupLsn: lsnDecimal, remoteConsistentLsn: lsnDecimal, conf: z.object({ generation: z.number(), members: z.array(z.number()) }) }).passthrough();
/** What status shows of a page server timeline beyond its LSNs (remote and lastErrors are absent from an older page server: its status still prints). */
export type PageserverTimelineStatus = Pick<TimelineDetails, 'remote' | 'lastErrors'>;

/** An upload backlog older than this is worth a line even while no attempt fails (uploads not keeping up). */
const UPLOAD_BACKLOG_AGE_WARN_MS = 60_000;

/**
 * The page server's problems with one branch's timeline, one line each:
 * background work whose last attempt failed (uploads from the queue's own
 * state, which is current), and an upload backlog that is failing or old.
 */
export function pageserverProblemLines(branch: string, t: PageserverTimelineStatus): string[] {
  const lines: string[] = [];
  for (const e of t.lastErrors ?? []) {
    if (e.resolvedAt !== null || e.kind === 'upload') continue;
    lines.push(`  pageserver error timeline ${branch} ${e.kind}: ${e.message} (at ${e.at})`);
  }
  const r = t.remote;
  if (r && r.consecutiveFailures > 0) {
    lines.push(`  pageserver error timeline ${branch} upload: ${r.lastError ?? 'unknown error'} (at ${r.lastErrorAt ?? '?'}; ${r.consecutiveFailures} failures in a row, next retry in ${r.backoffMs} ms)`);
  }
  if (r && r.queued > 0 && (r.consecutiveFailures > 0 || r.oldestPendingAgeMs >= UPLOAD_BACKLOG_AGE_WARN_MS)) {
    lines.push(`  pageserver upload backlog timeline ${branch}: ${r.queued} tasks, ${r.pendingBytes} bytes, oldest ${Math.round(r.oldestPendingAgeMs / 1000)} s; remote-consistent ${r.remoteConsistentLsn} lags ingest by ${r.lagBytes} bytes`);
  }
  return lines;
}
/**
 * Members of the timeline's configuration (as the others hold it) whose
 * safekeeper answers without it: one that missed the creation (404, it joins
 * when a proposer next connects) or lost it (410, it never rejoins empty).
 */
export function degradedMemberLines(conf: { generation: number; members: number[] } | null, absent: readonly { id: number; reply: string }[]): string[] {
  if (conf === null) return [];
  const lines: string[] = [];
  for (const a of absent) {
    if (!conf.members.includes(a.id)) continue;
    if (a.reply === 'HTTP 404') lines.push(`  safekeeper ${a.id}: DEGRADED member of generation ${conf.generation} without the timeline (missed its creation; a proposer asks it to join when it connects)`);
    else if (a.reply === 'HTTP 410') lines.push(`  safekeeper ${a.id}: DEGRADED lost the timeline (held it, its directory is gone; it must not rejoin empty: replace it with \`strata safekeeper membership\`)`);
  }
  return lines;
}
const lostOf = z.object({ lostTimelines: z.array(z.object({ tenantId: z.string(), timelineId: z.string() })) });
const computeStatus = z.object({ state: z.string(), shipper: z.object({ commitLsn: lsnDecimal, lagBytes: z.string(), lagMs: z.number() }).passthrough().nullable() }).passthrough();

/** Every node gets this long to answer: a node that does not is shown DOWN, it does not hold up the rest. */
const NODE_TIMEOUT_MS = 3000;

/** What a failed request says on its line: the transport's own words (fetch puts the system error in `cause`). */
function transportText(e: unknown): string {
  return e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
}

/** A failed page server call in the words of the safekeepers' lines: `HTTP <status>`, or what the transport said. */
function failureText(e: unknown): string {
  if (e instanceof ServiceClientError) {
    if (e.httpStatus !== undefined) return `HTTP ${e.httpStatus}`;
    if (e.code === 'CONNECTION_FAILED' && e.cause !== undefined) return transportText(e.cause);
  }
  return transportText(e);
}

/** The value, or the failure's text: status prints every node, whatever some of them answer. */
async function settle<T>(p: Promise<T>): Promise<T | string> {
  try {
    return await p;
  } catch (e) {
    return failureText(e);
  }
}

async function getJson<T>(url: string, token: string, schema: z.ZodType<T>): Promise<T | string> {
  try {
    const r = await fetch(url, { headers: authHeaders(token), signal: AbortSignal.timeout(NODE_TIMEOUT_MS) });
    const text = await r.text();
    if (!r.ok) return `HTTP ${r.status}`;
    return schema.parse(JSON.parse(text));
  } catch (e) {
    return transportText(e);
  }
}

/** The page server's view of one timeline, or why there is none. */
function pageserverTimeline(state: ClusterState, token: string, timelineId: string): Promise<TimelineDetails | string> {
  return settle(timelineDetails({ url: state.pageserver.url, token }, state.tenantId, timelineId, { timeoutMs: NODE_TIMEOUT_MS }));
}

export async function status(state: ClusterState, out: (line: string) => void): Promise<void> {
  const token = localAdminToken(state);
  out(`tenant ${state.tenantId} remote ${state.remoteStorage}`);
  for (const sk of state.safekeepers) {
    const s = await getJson(`${sk.url}/v1/status`, token, z.unknown());
    out(`safekeeper ${sk.id} ${sk.url} ${typeof s === 'string' ? `DOWN (${s})` : 'up'}`);
    const lost = typeof s === 'string' ? [] : (lostOf.safeParse(s).data?.lostTimelines ?? []);
    for (const l of lost) out(`  safekeeper ${sk.id}: DEGRADED lost timeline ${l.timelineId} of tenant ${l.tenantId}`);
  }
  const ps = await settle(pageserverStatus({ url: state.pageserver.url, token }, { timeoutMs: NODE_TIMEOUT_MS }));
  out(`pageserver ${state.pageserver.url} ${typeof ps === 'string' ? `DOWN (${ps})` : 'up'}`);
  for (const b of state.branches) {
    const t = await pageserverTimeline(state, token, b.timelineId);
    const ingest = typeof t === 'string' ? `pageserver ${t}` : `ingested ${t.lastRecordLsn} on-disk ${t.diskConsistentLsn}`;
    out(`branch ${b.name} timeline ${b.timelineId} parent ${b.parent ?? '-'} lsn ${b.lsn ?? '-'} ${ingest}`);
    if (typeof t !== 'string') for (const line of pageserverProblemLines(b.name, t)) out(line);
    let commit = 0n;
    const absent: { id: number; reply: string }[] = [];
    let conf: { generation: number; members: number[] } | null = null;
    for (const sk of state.safekeepers) {
      const st = await getJson(`${sk.url}/v1/tenants/${state.tenantId}/timelines/${b.timelineId}`, token, skTimeline);
      if (typeof st === 'string') {
        out(`  safekeeper ${sk.id}: ${st === 'HTTP 404' ? 'no WAL yet (no compute has written to this branch)' : st}`);
        absent.push({ id: sk.id, reply: st });
        continue;
      }
      if (conf === null || st.conf.generation > conf.generation) conf = st.conf;
      if (st.commitLsn > commit) commit = st.commitLsn;
      out(`  safekeeper ${sk.id}: term ${st.term} flush ${st.flushLsn} commit ${st.commitLsn} backup ${st.backupLsn} remote-consistent ${st.remoteConsistentLsn} generation ${st.conf.generation} members ${st.conf.members.join(',')}`);
    }
    for (const line of degradedMemberLines(conf, absent)) out(line);
    if (typeof t !== 'string' && commit > 0n) out(`  ingest lag ${commit > t.lastRecordLsn ? commit - t.lastRecordLsn : 0n} bytes`);
  }
  for (const c of runningComputes()) {
    const s = c.controlUrl ? await getJson(`${c.controlUrl}/v1/status`, token, computeStatus) : 'no control URL';
    const detail = typeof s === 'string' ? s : `${s.state}${s.shipper ? ` shipped-commit ${s.shipper.commitLsn} lag ${s.shipper.lagBytes}B/${s.shipper.lagMs}ms` : ''}`;
    out(`compute ${c.name} ${c.mode} ${c.connectionUrl} pid ${c.controllerPid} ${detail}`);
  }
}
