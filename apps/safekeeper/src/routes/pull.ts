/**
 * Pulling a timeline from a peer: how a new member of a configuration gets
 * the timeline before it joins (neon docs/rfcs/035, `pull_timeline`).
 *
 * Source side: `GET .../snapshot/wal?from&to` serves stored WAL up to the
 * flush LSN (not just the commit LSN like `.../wal`): a copy must take the
 * uncommitted tail too, labelled by the term history that goes with it, or
 * the new member would hold less than the acceptor it copies claims.
 *
 * Destination side: `POST .../pull {from}` copies the source's consensus
 * state and WAL (one `snapshot/wal/stream`, see wal-stream.ts) into a staging timeline and renames it into place (see
 * `TimelineRegistry.createFrom`). The copy is a state the source really was
 * in: status S1 (history H1, flush F), then WAL [start, F), then status S2.
 * The bytes below F are those S1 described unless the source truncated below
 * F in between; a truncation below F only comes with adopting a history that
 * differs from H1 below F, and the history only grows from there, so
 * `historyUpTo(H2, F) == historyUpTo(H1, F)` proves the copy consistent.
 * (Two logs that agree on the terms of every byte agree on the bytes: one
 * proposer per term, and it never rewrites.)
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { LsnOutOfRange } from '@strata/core';
import { historyUpTo, type TermHistory } from '@strata/core/consensus';
import { authorize, isLoopbackHost, zv } from '@strata/service-kit';
import { POLICY } from '../auth.js';
import { appendFromBackup } from '../backup/restore.js';
import { PeerWalStream } from '../peer-wal-stream.js';
import { DEFAULT_LIMITS, type AppEnv, type SafekeeperDeps } from '../deps.js';
import { PeerFailed, PullConflict, PullSourceNotAllowed } from '../errors.js';
import { configurationSchema, innodbPageSize } from '../storage/control-file.js';
import type { Timeline } from '../storage/timeline.js';
import { lsnString, timelineParams, timelineStatus } from '../schemas.js';

const snapshotWalQuery = z.object({ from: lsnString, to: lsnString.optional() }).strict();

const pullBody = z
  .object({
    /** Base URL of the source safekeeper, e.g. http://127.0.0.1:7676 (a current member). */
    from: z
      .url({ protocol: /^https?$/ })
      .refine((u) => {
        // zod runs this even when the URL check failed: that one reports it.
        if (!URL.canParse(u)) return true;
        const url = new URL(u);
        return url.username === '' && url.password === '' && url.search === '' && url.hash === '';
      }, 'a base URL without credentials, query or fragment')
      .transform((u) => u.replace(/\/+$/, '')),
  })
  .strict();

/** The part of the source's timeline status a pull needs (see schemas.ts `timelineStatus`). */
const sourceStatus = z.object({
  tenantId: z.string(),
  timelineId: z.string(),
  term: lsnString,
  termHistory: z.array(z.object({ term: lsnString, lsn: lsnString })),
  conf: configurationSchema,
  timelineStartLsn: lsnString,
  oldestLsn: lsnString,
  flushLsn: lsnString,
  commitLsn: lsnString,
  /** Absent from sources older than the field: MariaDB's default. */
  pageSize: innodbPageSize.optional(),
});
type SourceStatus = z.output<typeof sourceStatus>;

/** Attempts before giving up on a source whose log keeps changing under the copy. */
const PULL_ATTEMPTS_MAX = 3;
const PEER_TIMEOUT_MS = 60_000;
/** WAL appended (and fsynced) per write while copying from the stream. */
const PULL_APPEND_BYTES = 16 * 1024 * 1024;

export function pullRoutes(deps: SafekeeperDeps) {
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  return new Hono<AppEnv>()
    .get('/v1/tenants/:tenant/timelines/:timeline/snapshot/wal', zv('param', timelineParams), zv('query', snapshotWalQuery), async (c) => {
      const { tenant, timeline: timelineId } = c.req.valid('param');
      // Uncommitted WAL leaves a safekeeper only for another safekeeper or an operator.
      authorize(c.var.claims, POLICY.operator, tenant);
      const { from, to } = c.req.valid('query');
      const timeline = deps.timelines.get(tenant, timelineId);
      if (from < timeline.wal.oldestLsn) throw new LsnOutOfRange(from, `WAL before ${timeline.wal.oldestLsn} is no longer on this safekeeper`);
      const flush = timeline.flushLsn;
      if (from > flush) throw new LsnOutOfRange(from, `beyond the flush LSN ${flush}`);
      let end = to === undefined || to > flush ? flush : to;
      if (end < from) throw new LsnOutOfRange(end, `"to" is below "from" ${from}`);
      if (end - from > BigInt(limits.walReadBytes)) end = from + BigInt(limits.walReadBytes);
      const bytes = end === from ? new Uint8Array(0) : await timeline.readWal(from, end);
      deps.metrics.walBytesSent.inc(timeline.labels(), bytes.length);
      return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
        'content-type': 'application/octet-stream',
        'x-strata-begin-lsn': from.toString(),
        'x-strata-end-lsn': end.toString(),
        'x-strata-flush-lsn': flush.toString(),
      });
    })
    .post('/v1/tenants/:tenant/timelines/:timeline/pull', zv('param', timelineParams), zv('json', pullBody), async (c) => {
      const { tenant, timeline: timelineId } = c.req.valid('param');
      authorize(c.var.claims, POLICY.operator, tenant);
      const source = pullSource(deps, c.req.valid('json').from, c.req.header('authorization'));
      const from = source.base;
      const peer = new Peer(from, tenant, timelineId, source.authorization);
      let lastConflict: PullConflict | undefined;
      for (let attempt = 1; attempt <= PULL_ATTEMPTS_MAX; attempt++) {
        try {
          const { timeline, created } = await pullOnce(deps, peer);
          if (created) deps.log.info('timeline pulled', { tenantId: tenant, timelineId, from, flushLsn: timeline.flushLsn.toString() });
          return c.json({ pulled: created, status: timelineStatus(timeline) }, created ? 201 : 200);
        } catch (e) {
          if (!(e instanceof PullConflict)) throw e;
          lastConflict = e;
          deps.log.warn('pull: the source changed under the copy, retrying', { tenantId: tenant, timelineId, from, attempt });
        }
      }
      throw lastConflict!;
    });
}

/** A URL's scheme, host and port, and path without trailing slashes: how two spellings of one base URL compare. */
function baseKey(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

/**
 * Where a pull may fetch from, and with which token; PullSourceNotAllowed
 * before any request is made otherwise. A pull sends requests, with a
 * bearer token, to the address it is given: left open, any operator-scoped
 * caller (or a forged request relayed by one) could point it at an internal
 * service or at a server that keeps the token (issue 16).
 *
 *  - With `--peers`: only a registered peer's base URL, and the request goes
 *    to the URL as registered. The token shown is this safekeeper's own
 *    (`--token-file`) when it has one, else the caller's, which is good on
 *    every safekeeper of the cluster (an operator or a peer) and only ever
 *    goes to a registered peer.
 *  - Without `--peers` and without auth (a loopback-only safekeeper, as
 *    tests and single-host setups run them): loopback addresses only, and
 *    no caller token is forwarded (this safekeeper did not check it).
 *  - Without `--peers` and with auth: refused; the safekeeper cannot tell a
 *    peer from anything else.
 */
export function pullSource(
  deps: Pick<SafekeeperDeps, 'peers' | 'verifier' | 'peerAuthorization'>,
  from: string,
  callerAuthorization: string | undefined,
): { base: string; authorization: string | undefined } {
  const peers = deps.peers;
  if (peers !== undefined && peers.size > 0) {
    const key = baseKey(from);
    for (const url of peers.values()) {
      if (baseKey(url) === key) return { base: url, authorization: deps.peerAuthorization ?? callerAuthorization };
    }
    const listed = [...peers].map(([id, url]) => `${id}=${url}`).join(', ');
    throw new PullSourceNotAllowed(from, `a pull fetches only from this safekeeper's registered peers (--peers): ${listed}`);
  }
  if (deps.verifier === null) {
    if (isLoopbackHost(new URL(from).hostname)) return { base: from, authorization: deps.peerAuthorization };
    throw new PullSourceNotAllowed(from, 'this safekeeper has no --peers and runs without auth: only loopback sources (127.0.0.0/8, ::1, localhost) are allowed');
  }
  throw new PullSourceNotAllowed(from, 'this safekeeper has no --peers: with auth on, a pull fetches only from peers registered with --peers ID=URL,...');
}

/** One attempt: S1, WAL up to S1's flush LSN, S2, check, then the consensus state. */
async function pullOnce(deps: SafekeeperDeps, peer: Peer) {
  const s1 = await peer.status();
  // WAL the source removed (backed up and persisted by the page server) comes from the WAL backup (backup/restore.ts).
  if (s1.oldestLsn !== s1.timelineStartLsn && !deps.remoteStorage) {
    throw new PullConflict(peer.tenantId, peer.timelineId, `${peer.base} no longer holds WAL from the timeline start ${s1.timelineStartLsn} (oldest ${s1.oldestLsn}) and no remote storage is configured`);
  }
  const flush = s1.flushLsn;
  return deps.timelines.createFrom(
    { tenantId: peer.tenantId, timelineId: peer.timelineId, startLsn: s1.timelineStartLsn, conf: s1.conf, ...(s1.pageSize !== undefined ? { pageSize: s1.pageSize } : {}) },
    async (staging: Timeline) => {
      let at = s1.timelineStartLsn;
      if (s1.oldestLsn > at && deps.remoteStorage) at = await appendFromBackup(deps.remoteStorage, staging, s1.oldestLsn);
      if (at < flush) {
        const stream = await PeerWalStream.open(peer, at, flush);
        try {
          if (stream.endLsn < flush) throw new PullConflict(peer.tenantId, peer.timelineId, `${peer.base} now ends its WAL at ${stream.endLsn} (it had flushed up to ${flush})`);
          while (at < flush) {
            const bytes = await stream.read(at + BigInt(PULL_APPEND_BYTES) < flush ? at + BigInt(PULL_APPEND_BYTES) : flush);
            await staging.appendWal(at, bytes);
            at += BigInt(bytes.length);
          }
        } finally {
          stream.close();
        }
      }
      const s2 = await peer.status();
      if (s2.timelineStartLsn !== s1.timelineStartLsn || !sameHistory(historyUpTo(s1.termHistory, flush), historyUpTo(s2.termHistory, flush))) {
        throw new PullConflict(peer.tenantId, peer.timelineId, `the log of ${peer.base} changed below ${flush} during the copy`);
      }
      // Terms, configurations and commits only rise: the later reading is
      // still a state of this log (a term bump, a configuration switch, a
      // commit learned), as long as the commit stays within what we copied.
      await staging.updateConsensus({
        term: s2.term > s1.term ? s2.term : s1.term,
        termHistory: s1.termHistory.map((e) => ({ term: e.term, lsn: e.lsn })),
        conf: s2.conf.generation > s1.conf.generation ? s2.conf : s1.conf,
        commitLsn: s2.commitLsn < flush ? s2.commitLsn : flush,
      });
    },
  );
}

export function sameHistory(a: TermHistory, b: TermHistory): boolean {
  return a.length === b.length && a.every((e, i) => e.term === b[i]!.term && e.lsn === b[i]!.lsn);
}

/** The source safekeeper of a pull (or of peer recovery); every failure to talk to it is PeerFailed. */
export class Peer {
  constructor(
    readonly base: string,
    readonly tenantId: string,
    readonly timelineId: string,
    readonly authorization: string | undefined,
  ) {}

  private async get(path: string): Promise<Response> {
    const url = `${this.base}/v1/tenants/${this.tenantId}/timelines/${this.timelineId}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        headers: this.authorization ? { authorization: this.authorization } : {},
        signal: AbortSignal.timeout(PEER_TIMEOUT_MS),
      });
    } catch (e) {
      throw new PeerFailed(this.base, `GET ${path || '(status)'} failed: ${(e as Error).message}`);
    }
    if (!res.ok) throw new PeerFailed(this.base, `GET ${path || '(status)'} answered HTTP ${res.status}: ${(await res.text()).slice(0, 500)}`);
    return res;
  }

  async status(): Promise<SourceStatus> {
    const res = await this.get('');
    const r = sourceStatus.safeParse(await res.json().catch(() => null));
    if (!r.success) throw new PeerFailed(this.base, `timeline status is not what a safekeeper answers: ${r.error.issues[0]?.message ?? ''}`);
    if (r.data.tenantId !== this.tenantId || r.data.timelineId !== this.timelineId) throw new PeerFailed(this.base, 'answered the status of another timeline');
    return r.data;
  }

  async wal(from: bigint, to: bigint): Promise<{ bytes: Uint8Array; end: bigint }> {
    const res = await this.get(`/snapshot/wal?from=${from}&to=${to}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const endHeader = res.headers.get('x-strata-end-lsn');
    const end = (endHeader !== null ? lsnString.safeParse(endHeader).data : undefined) ?? -1n;
    if (end < from || end > to || end - from !== BigInt(bytes.length)) {
      throw new PeerFailed(this.base, `answered ${bytes.length} bytes for WAL ${from}..${endHeader ?? '(no end)'}`);
    }
    return { bytes, end };
  }
}
