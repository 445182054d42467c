/**
 * `strata wal push`: act as the proposer for a timeline and append every mtr
 * of an `ib_logfile0` to the safekeeper quorum.
 */
import { ProposerDriver, type SafekeeperEndpoint } from '@strata/client';
import { openLogFile } from '../datadir/log-reader.js';
import { fetchJson, parseHostPorts, resolveSafekeepers } from './safekeeper-endpoints.js';

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
}

const CHUNK_BYTES = 1 << 20;

export class WalPushError extends Error {}

async function ensureTimeline(endpoints: SafekeeperEndpoint[], args: WalPushArgs, startLsn: bigint): Promise<void> {
  const conf = { generation: 1, members: endpoints.map((e) => e.nodeId) };
  let ok = 0;
  const failures: string[] = [];
  for (const e of endpoints) {
    const get = await fetchJson(`${e.baseUrl}/v1/tenants/${args.tenantId}/timelines/${args.timelineId}`, { token: args.token }).catch(() => undefined);
    if (get?.status === 200) {
      ok++;
      continue;
    }
    const r = await fetchJson(`${e.baseUrl}/v1/tenants/${args.tenantId}/timelines`, {
      method: 'POST',
      token: args.token,
      body: JSON.stringify({ timelineId: args.timelineId, startLsn: startLsn.toString(), conf }),
    }).catch((err: unknown) => ({ status: 0, body: String(err) }));
    if (r.status === 200 || r.status === 201) ok++;
    else failures.push(`${e.baseUrl}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  if (ok * 2 <= endpoints.length) throw new WalPushError(`could not create the timeline on a majority: ${failures.join('; ')}`);
}

async function allKnowCommit(endpoints: SafekeeperEndpoint[], args: WalPushArgs, lsn: bigint, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(endpoints);
  while (pending.size > 0 && Date.now() < deadline) {
    for (const e of [...pending]) {
      const r = await fetchJson(`${e.baseUrl}/v1/tenants/${args.tenantId}/timelines/${args.timelineId}`, { token: args.token }).catch(() => undefined);
      const body = r?.body as { commitLsn?: unknown } | undefined;
      if (r?.status === 200 && typeof body?.commitLsn === 'string' && BigInt(body.commitLsn) >= lsn) pending.delete(e);
    }
    if (pending.size > 0) await new Promise((res) => setTimeout(res, 100));
  }
  return pending.size === 0;
}

/** Returns the committed LSN once every mtr up to the end of the log is committed. */
export async function walPush(args: WalPushArgs): Promise<bigint> {
  const log = args.log ?? (() => {});
  const urls = parseHostPorts(args.safekeepers, '--safekeepers');
  const { endpoints, unreachable } = await resolveSafekeepers(urls, args.token);
  if (endpoints.length * 2 <= urls.length) throw new WalPushError(`only ${endpoints.length} of ${urls.length} safekeepers answer: no quorum (${unreachable.join(', ')} unreachable)`);
  const reader = openLogFile(args.logPath);
  try {
    const from = args.fromLsn ?? reader.head.checkpoint.endLsn;
    await ensureTimeline(endpoints, args, from);
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
      const sendChunk = async (): Promise<void> => {
        if (chunkBytes === 0) return;
        const data = new Uint8Array(chunkBytes);
        let off = 0;
        for (const part of chunk) {
          data.set(part, off);
          off += part.length;
        }
        driver.append(chunkBegin, data);
        chunkBegin += BigInt(chunkBytes);
        chunk = [];
        chunkBytes = 0;
        if (driver.endLsn - driver.commitLsn > windowBytes) await driver.waitCommitted(driver.endLsn - windowBytes / 2n, 120_000);
      };
      for (const m of reader.mtrs(from, args.pageSize ?? 16384)) {
        if (m.endLsn <= start) {
          skipped++;
          continue;
        }
        if (m.startLsn < start) throw new WalPushError(`the timeline ends at ${start}, inside the mtr ${m.startLsn}..${m.endLsn} of this log: not the same log`);
        if (chunkBytes + m.bytes.length > CHUNK_BYTES) await sendChunk();
        chunk.push(m.bytes);
        chunkBytes += m.bytes.length;
      }
      await sendChunk();
      if (skipped > 0) log(`skipped ${skipped} mtrs already on the timeline (it ends at ${start})`);
      await driver.waitCommitted(driver.endLsn, 300_000);
      // Give members that were down a moment to catch up, and every member the time to hear the
      // final commit LSN (it travels on the next append or heartbeat), before the proposer goes away.
      const committed = driver.commitLsn;
      const all = endpoints.map((e) => e.nodeId);
      const drainMs = args.drainMs ?? 10_000;
      const caughtUp = (await driver.waitAllFlushed(all, driver.endLsn, drainMs)) && (await allKnowCommit(endpoints, args, committed, drainMs));
      if (!caughtUp) log(`not every safekeeper has flushed and learned commit ${committed} yet; a quorum has flushed it, so it is committed`);
      return committed;
    } finally {
      driver.stop();
    }
  } finally {
    reader.close();
  }
}
