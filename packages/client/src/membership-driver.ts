/**
 * The membership change's I/O shell: drives the pure coordinator of
 * `@strata/core/consensus` (startChange / stepCoordinator / tickCoordinator /
 * timelinePulled, after neon docs/rfcs/035) over the safekeepers' HTTP API,
 * the way ProposerDriver drives the proposer. It sends coordinator messages
 * through `POST .../consensus` (one request in flight per safekeeper, so
 * messages to one acceptor arrive in order; a failed request is a dropped
 * message that the coordinator's own retry resends), and performs the pulls
 * the coordinator asks for with `POST .../pull` on the new member, naming a
 * current member as the source.
 *
 * The change completes only while a proposer runs on the timeline (or the
 * new members already hold everything): the coordinator waits for a
 * majority of the new set to reach the old set's log position, and only a
 * proposer moves acceptors' logs.
 */
import { z } from 'zod';
import { StrataError } from '@strata/core';
import {
  type AcceptorMessage,
  type CoordinatorMessage,
  type CoordinatorPhase,
  type CoordinatorState,
  type CoordinatorStep,
  compareLogPosition,
  type Configuration,
  decodeFrames,
  encodeFrames,
  type NodeId,
  type Term,
  startChange,
  stepCoordinator,
  tickCoordinator,
  timelinePulled,
} from '@strata/core/consensus';
import { authHeaders } from './http.js';
import type { SafekeeperEndpoint } from './proposer-driver.js';

export interface MembershipChangeOptions {
  readonly tenantId: string;
  readonly timelineId: string;
  /** Every safekeeper of the old and of the new set (others may be listed too). */
  readonly safekeepers: readonly SafekeeperEndpoint[];
  /** The desired members. */
  readonly members: readonly NodeId[];
  readonly token?: string;
  /** Resend interval for unanswered coordinator messages and failed pulls. */
  readonly retryMs?: number;
  readonly tickMs?: number;
  /** Give up (MembershipChangeFailed 'timeout') after this long. */
  readonly timeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly onProgress?: (p: MembershipProgress) => void;
}

export type MembershipProgress =
  | { readonly kind: 'start'; readonly from: Configuration; readonly joint: Configuration; readonly final: Configuration }
  | { readonly kind: 'phase'; readonly phase: CoordinatorPhase }
  | { readonly kind: 'pulling'; readonly nodeId: NodeId; readonly from: NodeId }
  | { readonly kind: 'pulled'; readonly nodeId: NodeId; readonly from: NodeId }
  | { readonly kind: 'pullFailed'; readonly nodeId: NodeId; readonly from: NodeId; readonly error: string }
  | { readonly kind: 'removedNotified'; readonly nodeId: NodeId; readonly ok: boolean };

export interface MembershipChangeResult {
  readonly generation: number;
  readonly members: readonly NodeId[];
  /** False when the timeline already had exactly these members. */
  readonly changed: boolean;
}

export type MembershipChangeFailure = 'noTimeline' | 'unknownSafekeeper' | 'otherChangeInProgress' | 'aborted' | 'timeout' | 'unauthorized';

export class MembershipChangeFailed extends StrataError {
  readonly code = 'MEMBERSHIP_CHANGE_FAILED' as const;
  constructor(
    readonly reason: MembershipChangeFailure,
    message: string,
  ) {
    super(message);
    this.name = 'MembershipChangeFailed';
  }
}

const statusSchema = z.object({
  conf: z.object({
    generation: z.number().int().nonnegative(),
    members: z.array(z.number().int().nonnegative()),
    newMembers: z.array(z.number().int().nonnegative()).optional(),
  }),
});

interface Peer {
  readonly endpoint: SafekeeperEndpoint;
  queue: CoordinatorMessage[];
  inFlight: boolean;
  pulling: boolean;
  /** Log position from its last MembershipSwitchResponse: picks the pull source. */
  position: { readonly term: Term; readonly lsn: bigint } | null;
}

function sameSet(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** Runs one membership change to completion; see the module comment. */
export async function changeMembership(opts: MembershipChangeOptions): Promise<MembershipChangeResult> {
  const desired = [...opts.members];
  if (desired.length === 0 || new Set(desired).size !== desired.length) {
    throw new MembershipChangeFailed('unknownSafekeeper', `members must be distinct and not empty: ${desired.join(',')}`);
  }
  const endpoints = new Map(opts.safekeepers.map((e) => [e.nodeId, e]));
  for (const id of desired) {
    if (!endpoints.has(id)) throw new MembershipChangeFailed('unknownSafekeeper', `no address given for new member ${id}`);
  }
  const statuses = await Promise.all(opts.safekeepers.map(async (e) => ({ id: e.nodeId, conf: await confOf(e, opts) })));
  let current: Configuration | null = null;
  for (const s of statuses) if (s.conf !== null && (current === null || s.conf.generation > current.generation)) current = s.conf;
  if (current === null) throw new MembershipChangeFailed('noTimeline', `no safekeeper given holds timeline ${opts.tenantId}/${opts.timelineId}`);
  if (current.newMembers === undefined && sameSet(current.members, desired)) {
    return { generation: current.generation, members: current.members, changed: false };
  }
  let from: Configuration = current;
  if (current.newMembers !== undefined) {
    // An interrupted change to the same set resumes: restarting from the
    // configuration before it yields the same joint configuration, which the
    // members that switched already hold.
    if (!sameSet(current.newMembers, desired)) {
      throw new MembershipChangeFailed('otherChangeInProgress', `a change to ${current.newMembers.join(',')} is in progress (generation ${current.generation})`);
    }
    from = { generation: current.generation - 1, members: current.members };
  }
  for (const id of from.members) {
    if (!endpoints.has(id)) throw new MembershipChangeFailed('unknownSafekeeper', `no address given for current member ${id}`);
  }
  const has = new Set(statuses.filter((s) => s.conf !== null).map((s) => s.id));
  return new MembershipDriver(opts, endpoints, from, desired, has).run();
}

/**
 * A membership change needs an admin or safekeeperdata token (the
 * safekeepers refuse a compute's tenant token): a refused token fails the
 * change at once rather than being retried until the timeout.
 */
function refusedToken(e: SafekeeperEndpoint, what: string, status: number): MembershipChangeFailed {
  return new MembershipChangeFailed('unauthorized', `safekeeper ${e.nodeId} refused ${what} with HTTP ${status}: a membership change needs an admin or safekeeperdata token`);
}

async function confOf(e: SafekeeperEndpoint, opts: MembershipChangeOptions): Promise<Configuration | null> {
  let res: Response;
  try {
    res = await fetch(`${e.baseUrl}/v1/tenants/${opts.tenantId}/timelines/${opts.timelineId}`, {
      headers: authHeaders(opts.token),
      signal: AbortSignal.timeout(opts.requestTimeoutMs ?? 10_000),
    });
  } catch {
    // Unreachable: the change proceeds if a quorum of each set answers.
    return null;
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw refusedToken(e, 'the token', res.status);
  }
  try {
    if (!res.ok) {
      await res.body?.cancel();
      return null;
    }
    const conf = statusSchema.parse(await res.json()).conf;
    return { generation: conf.generation, members: conf.members, ...(conf.newMembers ? { newMembers: conf.newMembers } : {}) };
  } catch {
    // Cut off or not a status: counted as not answering, like an unreachable one.
    return null;
  }
}

class MembershipDriver {
  private state: CoordinatorState;
  private readonly peers = new Map<NodeId, Peer>();
  private timer: NodeJS.Timeout | undefined;
  private finished = false;
  private completing = false;
  private resolve!: (r: MembershipChangeResult) => void;
  private reject!: (e: Error) => void;
  private readonly pending: CoordinatorStep;
  private pullRotation = 0;

  constructor(
    private readonly opts: MembershipChangeOptions,
    endpoints: ReadonlyMap<NodeId, SafekeeperEndpoint>,
    private readonly from: Configuration,
    desired: readonly NodeId[],
    has: ReadonlySet<NodeId>,
  ) {
    for (const [id, endpoint] of endpoints) this.peers.set(id, { endpoint, queue: [], inFlight: false, pulling: false, position: null });
    this.pending = startChange(opts.tenantId, opts.timelineId, from, desired, (id) => has.has(id), Date.now());
    this.state = this.pending.state;
  }

  run(): Promise<MembershipChangeResult> {
    const done = new Promise<MembershipChangeResult>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    const s = this.state;
    this.opts.onProgress?.({ kind: 'start', from: this.from, joint: s.joint, final: s.final });
    this.opts.onProgress?.({ kind: 'phase', phase: s.phase });
    const deadline = Date.now() + (this.opts.timeoutMs ?? 120_000);
    this.timer = setInterval(() => {
      if (Date.now() > deadline) {
        this.finish(new MembershipChangeFailed('timeout', `membership change still in phase "${this.state.phase}" after ${this.opts.timeoutMs ?? 120_000} ms`));
        return;
      }
      this.apply(tickCoordinator(this.state, Date.now(), this.opts.retryMs ?? 500));
    }, this.opts.tickMs ?? 100);
    this.apply(this.pending);
    return done;
  }

  private apply(step: CoordinatorStep): void {
    if (this.finished) return;
    const before = this.state.phase;
    this.state = step.state;
    if (this.state.phase !== before) this.opts.onProgress?.({ kind: 'phase', phase: this.state.phase });
    for (const send of step.sends) {
      const peer = this.peers.get(send.to);
      if (peer) {
        peer.queue.push(send.message);
        this.flushPeer(peer);
      }
    }
    for (const id of step.pulls) void this.pull(id);
    if (this.state.phase === 'done' && !this.completing) {
      this.completing = true;
      void this.notifyRemoved().then(() => this.finish(null));
    } else if (this.state.phase === 'aborted') {
      this.finish(new MembershipChangeFailed('aborted', 'a safekeeper is already in a configuration beyond this change: another change won'));
    }
  }

  private finish(error: Error | null): void {
    if (this.finished) return;
    this.finished = true;
    clearInterval(this.timer);
    if (error) this.reject(error);
    else this.resolve({ generation: this.state.final.generation, members: this.state.final.members, changed: true });
  }

  private flushPeer(peer: Peer): void {
    if (this.finished || peer.inFlight || peer.queue.length === 0) return;
    const batch = peer.queue.splice(0);
    peer.inFlight = true;
    void this.exchange(peer, batch).finally(() => {
      peer.inFlight = false;
      this.flushPeer(peer);
    });
  }

  private async exchange(peer: Peer, batch: readonly CoordinatorMessage[]): Promise<void> {
    const replies = await this.post(peer.endpoint, batch);
    if (replies === null || this.finished) return;
    for (const m of replies) {
      if (m.type === 'MembershipSwitchResponse') peer.position = { term: m.lastLogTerm, lsn: m.flushLsn };
      this.apply(stepCoordinator(this.state, peer.endpoint.nodeId, m, Date.now()));
    }
  }

  /** One exchange on the consensus route; null when it failed (a dropped message). */
  private async post(e: SafekeeperEndpoint, batch: readonly CoordinatorMessage[]): Promise<AcceptorMessage[] | null> {
    try {
      const res = await fetch(`${e.baseUrl}/v1/tenants/${this.opts.tenantId}/timelines/${this.opts.timelineId}/consensus`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', ...authHeaders(this.opts.token) },
        // An ArrayBuffer-backed copy (a few hundred bytes): what the DOM's BodyInit admits, for the console's typecheck.
        body: new Uint8Array(encodeFrames(batch)),
        signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 10_000),
      });
      if (res.status === 401 || res.status === 403) {
        await res.body?.cancel();
        this.finish(refusedToken(e, 'a coordinator message', res.status));
        return null;
      }
      if (!res.ok) {
        await res.body?.cancel();
        return null;
      }
      return decodeFrames(new Uint8Array(await res.arrayBuffer())) as AcceptorMessage[];
    } catch {
      return null;
    }
  }

  /**
   * The source is a member of the old set, the most advanced one we heard
   * of (so the new member needs the least from the proposer afterwards);
   * retries rotate through the others.
   */
  private pullSource(): NodeId {
    const old = [...this.state.joint.members].filter((id) => this.peers.has(id));
    const known = old.filter((id) => this.peers.get(id)!.position !== null);
    known.sort((a, b) => {
      const pa = this.peers.get(a)!.position!;
      const pb = this.peers.get(b)!.position!;
      return compareLogPosition(pb.term, pb.lsn, pa.term, pa.lsn);
    });
    const order = [...known, ...old.filter((id) => !known.includes(id))];
    return order[this.pullRotation % order.length]!;
  }

  private async pull(id: NodeId): Promise<void> {
    const peer = this.peers.get(id);
    if (!peer || peer.pulling || this.finished) return;
    peer.pulling = true;
    const from = this.pullSource();
    this.opts.onProgress?.({ kind: 'pulling', nodeId: id, from });
    try {
      const res = await fetch(`${peer.endpoint.baseUrl}/v1/tenants/${this.opts.tenantId}/timelines/${this.opts.timelineId}/pull`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...authHeaders(this.opts.token) },
        body: JSON.stringify({ from: this.peers.get(from)!.endpoint.baseUrl }),
        // A pull copies the whole timeline.
        signal: AbortSignal.timeout(Math.max(this.opts.requestTimeoutMs ?? 10_000, 300_000)),
      });
      const text = await res.text();
      if (res.status === 401 || res.status === 403) {
        this.finish(refusedToken(peer.endpoint, 'the pull', res.status));
        return;
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 300)}`);
      this.opts.onProgress?.({ kind: 'pulled', nodeId: id, from });
      this.apply(timelinePulled(this.state, id, Date.now()));
    } catch (e) {
      this.pullRotation++;
      this.opts.onProgress?.({ kind: 'pullFailed', nodeId: id, from, error: (e as Error).message });
    } finally {
      peer.pulling = false;
    }
  }

  /**
   * Members that left get the final configuration too, best effort: they
   * then refuse every proposer (not a member) and their status shows the
   * change. A removed member that is down learns it from the next proposer
   * that greets it, or never needs to.
   */
  private async notifyRemoved(): Promise<void> {
    const final = this.state.final;
    const removed = this.state.joint.members.filter((id) => !final.members.includes(id));
    await Promise.all(
      removed.map(async (id) => {
        const peer = this.peers.get(id);
        if (!peer) return;
        const msg: CoordinatorMessage = {
          type: 'MembershipSwitchRequest',
          tenantId: this.opts.tenantId,
          timelineId: this.opts.timelineId,
          generation: final.generation,
          conf: final,
        };
        const replies = await this.post(peer.endpoint, [msg]);
        const ok = replies?.some((r) => r.type === 'MembershipSwitchResponse' && r.conf.generation >= final.generation) ?? false;
        this.opts.onProgress?.({ kind: 'removedNotified', nodeId: id, ok });
      }),
    );
  }
}
