/**
 * Peer recovery (issue 3): a safekeeper that lags behind its peers while no
 * proposer is talking to it copies the missing WAL from a peer with the same
 * term history (core `peerRecoveryRange`, neon's `recovery.rs`). Without it
 * a member that was down while a proposer ran stays behind until the next
 * proposer's election syncs it: two copies of the newest WAL instead of
 * three in the meantime.
 *
 * Every `intervalMs`, for each timeline whose last proposer request is older
 * than `quietMs` (a live proposer streams to every member itself, and two
 * writers would only race for the same bytes), it asks the members it has an
 * address for (`--peers`) for their status, takes the one with the highest
 * flush LSN that passes the rule, and copies through the timeline's
 * acceptor host (`recoverFromPeer`, which recomputes the range against the
 * acceptor's current state in the host's queue) until caught up.
 *
 * The WAL comes as one stream from the peer (`snapshot/wal/stream`,
 * peer-wal-stream.ts): no request per chunk. The peer sends its term history
 * in HELLO, which must be the one the range was computed from (below its
 * end), and checks every chunk against it before sending it: a truncation
 * below a chunk's end only comes with adopting a history that differs below
 * it, so equal histories prove the bytes are the ones described (the check
 * pulls made here per chunk, moved to the side that holds the log).
 */
import { historyUpTo, peerRecoveryRange } from '@strata/core/consensus';
import type { Logger } from '@strata/service-kit';
import type { AcceptorHosts } from './data-path/hosts.js';
import { PeerFailed } from './errors.js';
import type { SafekeeperMetrics } from './metrics.js';
import { PeerWalStream } from './peer-wal-stream.js';
import { Peer, sameHistory } from './routes/pull.js';
import type { Timeline } from './storage/timeline.js';
import type { TimelineRegistry } from './storage/timelines.js';

export interface PeerRecoveryOptions {
  nodeId: number;
  /** Other safekeepers by node ID. */
  peers: ReadonlyMap<number, string>;
  timelines: TimelineRegistry;
  hosts: AcceptorHosts;
  metrics: SafekeeperMetrics;
  log: Logger;
  /** Pause between passes (default 1 s). */
  intervalMs?: number;
  /** Recover only when no proposer request arrived for this long (default 3 s). */
  quietMs?: number;
  /** `authorization` header shown to peers (operator scope), if they require tokens. */
  authorization?: string;
  now?: () => number;
}

export class PeerRecovery {
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly quietMs: number;
  private readonly now: () => number;
  /** Last failure logged per timeline, so that a dead peer is logged once per change, not every second. */
  private readonly lastError = new WeakMap<Timeline, string>();

  constructor(private readonly opts: PeerRecoveryOptions) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.quietMs = opts.quietMs ?? 3000;
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    if (this.stopped || this.timer) return;
    const loop = () => {
      this.pass = this.runOnce().finally(() => {
        this.pass = undefined;
        if (!this.stopped) this.timer = setTimeout(loop, this.intervalMs);
      });
    };
    this.timer = setTimeout(loop, this.intervalMs);
  }

  /** Stops the loop and waits for the chunk in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.pass;
  }

  /** One pass over every timeline; never throws (failures are logged once per new message). */
  async runOnce(): Promise<void> {
    for (const t of this.opts.timelines.all()) {
      if (this.stopped) return;
      try {
        await this.recoverTimeline(t);
        this.lastError.delete(t);
      } catch (e) {
        if (!this.opts.timelines.all().includes(t)) continue; // deleted during the pass
        const msg = (e as Error).message;
        if (this.lastError.get(t) !== msg) {
          this.lastError.set(t, msg);
          this.opts.log.warn('peer recovery failed', { tenantId: t.tenantId, timelineId: t.timelineId, error: msg });
        }
      }
    }
  }

  private quiet(t: Timeline): boolean {
    const host = this.opts.hosts.peek(t);
    return !host || this.now() - host.lastProposerMessageAt >= this.quietMs;
  }

  /** Copies from the best peer until caught up with it; returns the bytes copied. */
  async recoverTimeline(t: Timeline): Promise<number> {
    if (!this.quiet(t)) return 0;
    const conf = t.control.conf;
    const members = new Set([...conf.members, ...(conf.newMembers ?? [])]);
    members.delete(this.opts.nodeId);
    const peers = [...members].flatMap((id) => {
      const url = this.opts.peers.get(id);
      return url ? [new Peer(url, t.tenantId, t.timelineId, this.opts.authorization)] : [];
    });
    if (peers.length === 0) return 0;
    const host = this.opts.hosts.of(t);
    const statuses = await Promise.all(peers.map(async (p) => ({ peer: p, status: await p.status().catch(() => null) })));
    let best: { peer: Peer; status: NonNullable<(typeof statuses)[number]['status']> } | undefined;
    for (const { peer, status } of statuses) {
      if (!status || !peerRecoveryRange(host.acceptor, status)) continue;
      if (!best || status.flushLsn > best.status.flushLsn) best = { peer, status };
    }
    if (!best) return 0;
    const { peer, status } = best;
    const startFlush = host.acceptor.flushLsn;
    const stream = await PeerWalStream.open(peer, startFlush, status.flushLsn);
    let copied = 0;
    try {
      const below = stream.endLsn - 1n;
      if (!sameHistory(historyUpTo(status.termHistory, below), historyUpTo(stream.hello.termHistory, below))) {
        throw new PeerFailed(peer.base, `its log changed below ${stream.endLsn} since its status`);
      }
      // Read from the stream and not yet written: the host writes whole mtrs only, so the start of an mtr
      // that a chunk cut waits here for the next chunk.
      let carry: Uint8Array = new Uint8Array(0);
      while (!this.stopped && this.quiet(t) && host.acceptor.flushLsn < stream.endLsn) {
        let fetched = carry;
        const n = await host.recoverFromPeer(status.termHistory, stream.endLsn, async (from, to) => {
          // Something else (a proposer) moved this acceptor since the stream began: start over next pass.
          const at = stream.position - BigInt(carry.length);
          if (from !== at) throw new PeerFailed(peer.base, `peer recovery stream at ${at}, the acceptor now at ${from}`);
          if (to > stream.position) fetched = concatBytes(carry, await stream.read(to));
          return fetched;
        });
        if (n === 0) break;
        carry = fetched.slice(n);
        copied += n;
        this.opts.metrics.peerRecoveryBytes.inc(t.labels(), n);
      }
    } finally {
      stream.close();
    }
    if (copied > 0) {
      this.opts.metrics.peerRecoveryRuns.inc(t.labels());
      this.opts.log.info('peer recovery', {
        tenantId: t.tenantId,
        timelineId: t.timelineId,
        from: peer.base,
        startLsn: startFlush.toString(),
        flushLsn: host.acceptor.flushLsn.toString(),
        bytes: copied,
      });
    }
    return copied;
  }
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
