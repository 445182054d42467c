/**
 * How a member that missed a configuration switch catches up when the
 * proposer is a compute. The coordinator (membership-driver.ts) completes a
 * change once a quorum switched; a member that was down or lost the message
 * stays behind, and it used to learn the new configuration from the next
 * proposer's Greeting. A compute's tenant token may no longer change the
 * configuration (a compromised compute could forge one: acceptor.ts
 * `Sender`), so such a Greeting is only a hint: this safekeeper asks its
 * peers (`--peers`, with its own token, as peer recovery does) for their
 * configuration of the timeline, and adopts the newest that a peer holds,
 * exactly as the coordinator's MembershipSwitchRequest would. A forged
 * configuration is held by no peer and changes nothing.
 *
 * Bounds: at most one check per timeline at a time, and at most one every
 * `intervalMs`, so a hostile compute costs each safekeeper at most one
 * status request per peer per interval.
 */
import { configurationError, type Configuration } from '@strata/core/consensus';
import type { Logger } from '@strata/service-kit';
import type { AcceptorHosts } from '../data-path/hosts.js';
import { Peer } from '../routes/pull.js';
import type { Timeline } from '../storage/timeline.js';

export interface ConfSyncOptions {
  readonly nodeId: number;
  /** Other safekeepers by node ID. */
  readonly peers: ReadonlyMap<number, string>;
  readonly hosts: AcceptorHosts;
  readonly log: Logger;
  /** `authorization` header shown to peers (operator scope), if they require tokens. */
  readonly authorization?: string | undefined;
  /** Least time between two checks of one timeline (default 1 s). */
  readonly intervalMs?: number;
  readonly now?: () => number;
}

export class ConfSync {
  private readonly running = new WeakSet<Timeline>();
  private readonly lastCheckMs = new WeakMap<Timeline, number>();
  private readonly intervalMs: number;
  private readonly now: () => number;
  /** The check in progress, per timeline (for tests and shutdown). */
  private readonly checks = new Set<Promise<void>>();

  constructor(private readonly opts: ConfSyncOptions) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  /** A proposer without the right to switch named `generation` for `t`: check with the peers, unless that was done just now. */
  hint(t: Timeline, generation: number): void {
    const host = this.opts.hosts.peek(t);
    if (host === undefined || generation <= host.acceptor.conf.generation || this.running.has(t)) return;
    const last = this.lastCheckMs.get(t);
    if (last !== undefined && this.now() - last < this.intervalMs) return;
    this.lastCheckMs.set(t, this.now());
    this.running.add(t);
    const check = this.check(t)
      .catch((e: unknown) => this.opts.log.warn('configuration check with peers failed', { tenantId: t.tenantId, timelineId: t.timelineId, error: e instanceof Error ? e.message : String(e) }))
      .finally(() => {
        this.running.delete(t);
        this.checks.delete(check);
      });
    this.checks.add(check);
  }

  /** Resolves when the checks started so far are done. */
  async idle(): Promise<void> {
    await Promise.all([...this.checks]);
  }

  private async check(t: Timeline): Promise<void> {
    const host = this.opts.hosts.of(t);
    const peers = [...this.opts.peers].filter(([id]) => id !== this.opts.nodeId).map(([, url]) => new Peer(url, t.tenantId, t.timelineId, this.opts.authorization));
    const statuses = await Promise.allSettled(peers.map((p) => p.status()));
    let newest: Configuration | undefined;
    for (const s of statuses) {
      if (s.status !== 'fulfilled') continue;
      const conf = s.value.conf;
      // A peer's answer is checked like any remote input before the acceptor sees it.
      if (configurationError(conf) !== undefined) continue;
      if (conf.generation > (newest?.generation ?? host.acceptor.conf.generation)) newest = conf;
    }
    if (newest === undefined) return;
    const from = host.acceptor.conf.generation;
    const [reply] = await host.handle([{ type: 'MembershipSwitchRequest', tenantId: t.tenantId, timelineId: t.timelineId, generation: newest.generation, conf: newest }]);
    this.opts.log.info('configuration learned from a peer', {
      tenantId: t.tenantId,
      timelineId: t.timelineId,
      from,
      to: newest.generation,
      members: newest.members,
      newMembers: newest.newMembers,
      answer: reply?.type,
    });
  }
}
