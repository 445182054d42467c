/**
 * `strata wal push`: act as the proposer for a timeline and append every mtr
 * of an `ib_logfile0` to the safekeeper quorum.
 */
import { ProposerDriver, ProposerFenced, type SafekeeperEndpoint } from '@strata/client';
import { z } from 'zod';
import { openLogFile, type LogFileReader } from '@strata/datadir';
import { fetchJson, parseHostPorts, resolveSafekeepers } from './safekeeper-endpoints.js';
import { StrataError } from '@strata/core';
import { lsnString } from '@strata/core/json';

export interface WalPushArgs {
  readonly safekeepers: string;
  readonly tenantId: string;
  readonly timelineId: string;
  readonly logPath: string;
  readonly fromLsn?: bigint;
  readonly token?: string;
  readonly pageSize?: number;
  /** Uncommitted bytes the push lets run ahead of the quorum. */
  readonly windowBytes?: number;
  readonly log?: (line: string) => void;
  /** How long to wait after the commit for lagging members to catch up. */
  readonly drainMs?: number;
  /**
   * Append at most this many bytes per second (like a compute producing
   * redo at a steady pace, rather than a replay as fast as the disks go).
   */
  readonly maxBytesPerSec?: number;
}

const CHUNK_BYTES = 1 << 20;

export class WalPushError extends StrataError {
  readonly code = 'WAL_PUSH_FAILED' as const;
  override readonly name = 'WalPushError';
}

const confSchema = z.object({
  conf: z.object({ generation: z.number().int(), members: z.array(z.number().int()), newMembers: z.array(z.number().int()).optional() }),
});
type Conf = z.output<typeof confSchema>['conf'];

/**
 * Creates the timeline where it is missing. A fresh timeline gets every
 * given safekeeper as a member (generation 1). Once it exists somewhere, the
 * highest configuration found decides: only members of generation 1 that
 * lack it get it (a create that failed halfway); a later configuration was
 * made by a membership change, whose new members get the timeline by a pull,
 * never empty, and safekeepers outside it must not be touched.
 */
async function ensureTimeline(endpoints: SafekeeperEndpoint[], args: WalPushArgs, startLsn: bigint): Promise<void> {
  const found = await Promise.all(
    endpoints.map(async (e) => {
      const get = await fetchJson(`${e.baseUrl}/v1/tenants/${args.tenantId}/timelines/${args.timelineId}`, { token: args.token }).catch(() => undefined);
      const parsed = get?.status === 200 ? confSchema.safeParse(get.body) : undefined;
      return { e, conf: parsed?.success ? parsed.data.conf : null };
    }),
  );
  let conf: Conf | null = null;
  for (const f of found) if (f.conf !== null && (conf === null || f.conf.generation > conf.generation)) conf = f.conf;
  conf ??= { generation: 1, members: endpoints.map((e) => e.nodeId) };
  const members = conf.members;
  let ok = 0;
  const failures: string[] = [];
  for (const { e, conf: has } of found) {
    if (!members.includes(e.nodeId)) continue;
    if (has !== null) {
      ok++;
      continue;
    }
    if (conf.generation !== 1) continue;
    const r = await fetchJson(`${e.baseUrl}/v1/tenants/${args.tenantId}/timelines`, {
      method: 'POST',
      token: args.token,
      body: JSON.stringify({ timelineId: args.timelineId, startLsn: startLsn.toString(), conf }),
    }).catch((err: unknown) => ({ status: 0, body: String(err) }));
    if (r.status === 200 || r.status === 201) ok++;
    else failures.push(`${e.baseUrl}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  if (ok * 2 <= members.length) throw new WalPushError(`the timeline is on ${ok} of its ${members.length} members only, not a majority: ${failures.join('; ')}`);
}

const commitReply = z.object({ commitLsn: lsnString });

/** The commit LSN of a safekeeper's timeline reply, checked as every LSN is (decimal, below 2^64). */
export function commitLsnOf(body: unknown, base: string): bigint {
  const r = commitReply.safeParse(body);
  if (!r.success) throw new WalPushError(`${base}: the timeline's commitLsn is not an LSN (${r.error.issues.map((i) => `${i.path.join('.') || 'reply'}: ${i.message}`).join('; ')})`);
  return r.data.commitLsn;
}

async function allKnowCommit(endpoints: SafekeeperEndpoint[], args: WalPushArgs, lsn: bigint, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(endpoints);
  while (pending.size > 0 && Date.now() < deadline) {
    for (const e of [...pending]) {
      const r = await fetchJson(`${e.baseUrl}/v1/tenants/${args.tenantId}/timelines/${args.timelineId}`, { token: args.token }).catch(() => undefined);
      if (r?.status === 200 && commitLsnOf(r.body, e.baseUrl) >= lsn) pending.delete(e);
    }
    if (pending.size > 0) await new Promise((res) => setTimeout(res, 100));
  }
  return pending.size === 0;
}

/** Restarts of the proposer after membership changes, per push. */
const GENERATION_RESTARTS_MAX = 5;

/**
 * Returns the committed LSN once every mtr up to the end of the log is
 * committed. A membership change fences the proposer (its configuration is
 * stale, see ProposerFenced): the push then starts a new proposer, which
 * learns the new configuration from the safekeepers, and continues from
 * where the new quorum's log ends. Being out-termed by another proposer
 * stays fatal: someone else writes this timeline.
 */
export async function walPush(args: WalPushArgs): Promise<bigint> {
  const log = args.log ?? (() => {});
  const urls = parseHostPorts(args.safekeepers, '--safekeepers');
  const { endpoints, unreachable } = await resolveSafekeepers(urls, args.token);
  if (endpoints.length * 2 <= urls.length) throw new WalPushError(`only ${endpoints.length} of ${urls.length} safekeepers answer: no quorum (${unreachable.join(', ')} unreachable)`);
  const reader = openLogFile(args.logPath);
  try {
    const from = args.fromLsn ?? reader.head.checkpoint.endLsn;
    await ensureTimeline(endpoints, args, from);
    for (let restarts = 0; ; restarts++) {
      try {
        return await pushOnce(args, endpoints, reader, from, restarts > 0);
      } catch (e) {
        if (!(e instanceof ProposerFenced) || e.fencedBy !== 'generation' || restarts >= GENERATION_RESTARTS_MAX) throw e;
        log(`configuration changed (${e.reason}): restarting the proposer (${restarts + 1}/${GENERATION_RESTARTS_MAX})`);
      }
    }
  } finally {
    reader.close();
  }
}

/**
 * One proposer's run: elected, then append from the end of the quorum's log.
 * `resumed`: an earlier proposer of this push wrote the timeline, so its
 * end may fall inside an mtr (WAL is sent in slices) and the bytes before
 * it are this log's: continue with the rest of that mtr.
 */
async function pushOnce(args: WalPushArgs, endpoints: SafekeeperEndpoint[], reader: LogFileReader, from: bigint, resumed: boolean): Promise<bigint> {
  const log = args.log ?? (() => {});
  const driver = new ProposerDriver({
    tenantId: args.tenantId,
    timelineId: args.timelineId,
    proposerId: (process.pid * 1000 + Math.floor(Math.random() * 1000)) >>> 0,
    safekeepers: endpoints,
    ...(args.token ? { token: args.token } : {}),
    appendBytesMax: 2 * CHUNK_BYTES,
    onEvent: (e) => {
      if (e.kind === 'elected') log(`elected: term ${e.term}, epoch start ${e.epochStartLsn}, donor ${e.donor}`);
      if (e.kind === 'fenced') log(`fenced: ${e.reason}`);
      if (e.kind === 'memberMissing') log(`safekeeper ${e.nodeId} DEGRADED: member without the timeline, asking it to join`);
      if (e.kind === 'memberLost') log(`safekeeper ${e.nodeId} DEGRADED: lost the timeline; it stays out until a membership change replaces it`);
      if (e.kind === 'memberPresent') log(`safekeeper ${e.nodeId} holds the timeline again`);
    },
  });
  try {
    await driver.waitElected(30_000);
    const start = driver.endLsn;
    if (start < from) throw new WalPushError(`the timeline ends at ${start}, before the log's first pushed LSN ${from}: there would be a gap`);
    const windowBytes = BigInt(args.windowBytes ?? 64 << 20);
    let chunk: Uint8Array[] = [];
    let chunkBegin = start;
    let chunkBytes = 0;
    let skipped = 0;
    // Pacing never catches up after a stall (a slow election, a loaded machine): the pace is a
    // steady rate from whenever the previous chunk went out, like a compute producing redo.
    let nextDueMs = Date.now();
    const sendChunk = async (): Promise<void> => {
      if (chunkBytes === 0) return;
      const data = new Uint8Array(chunkBytes);
      let off = 0;
      for (const part of chunk) {
        data.set(part, off);
        off += part.length;
      }
      driver.append(chunkBegin, data);
      const sentBytes = chunkBytes;
      chunkBegin += BigInt(chunkBytes);
      chunk = [];
      chunkBytes = 0;
      if (driver.endLsn - driver.commitLsn > windowBytes) await driver.waitCommitted(driver.endLsn - windowBytes / 2n, 120_000);
      if (args.maxBytesPerSec !== undefined) {
        nextDueMs = Math.max(nextDueMs, Date.now()) + (sentBytes * 1000) / args.maxBytesPerSec;
        if (nextDueMs > Date.now()) await new Promise((r) => setTimeout(r, nextDueMs - Date.now()));
      }
    };
    for (const m of reader.mtrs(from, args.pageSize ?? 16384)) {
      if (m.endLsn <= start) {
        skipped++;
        continue;
      }
      let bytes = m.bytes;
      if (m.startLsn < start) {
        if (!resumed) throw new WalPushError(`the timeline ends at ${start}, inside the mtr ${m.startLsn}..${m.endLsn} of this log: not the same log`);
        bytes = bytes.subarray(Number(start - m.startLsn));
      }
      if (chunkBytes + bytes.length > CHUNK_BYTES) await sendChunk();
      chunk.push(bytes);
      chunkBytes += bytes.length;
    }
    await sendChunk();
    if (skipped > 0) log(`skipped ${skipped} mtrs already on the timeline (it ends at ${start})`);
    await driver.waitCommitted(driver.endLsn, 300_000);
    // Give members that were down a moment to catch up, and every member the time to hear the
    // final commit LSN (it travels on the next append or heartbeat), before the proposer goes away.
    const committed = driver.commitLsn;
    const members = driver.members;
    const drainMs = args.drainMs ?? 10_000;
    const caughtUp =
      (await driver.waitAllFlushed(members, driver.endLsn, drainMs)) &&
      (await allKnowCommit(
        endpoints.filter((e) => members.includes(e.nodeId)),
        args,
        committed,
        drainMs,
      ));
    // A configuration change during the drain: the members of the new one
    // learn the commit only from a proposer of it, so let the caller start one.
    if (driver.fence?.fencedBy === 'generation') throw driver.fence;
    if (!caughtUp) log(`not every safekeeper has flushed and learned commit ${committed} yet; a quorum has flushed it, so it is committed`);
    return committed;
  } finally {
    driver.stop();
  }
}
