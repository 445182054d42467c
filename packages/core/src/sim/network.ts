/**
 * Simulated network between numbered addresses, in one of two models:
 *
 * - `datagram`: each message gets a random delay (so messages reorder), and
 *   may be dropped or duplicated (the old HTTP transport, where requests
 *   raced, failed alone and were retried, is a subset of this).
 * - `stream`: one connection per pair of addresses, as the proposer ↔
 *   safekeeper stream is: messages in each direction arrive in the order
 *   sent, never twice, and are pipelined (many in flight, no waiting for
 *   replies). A connection breaks now and then: everything in flight on it in
 *   both directions is lost (a suffix of each direction), and nothing passes
 *   until it reconnects after a backoff. A partition breaks the connection
 *   and keeps it down while it lasts.
 *
 * The consensus must be safe under both; the stream adds the faults that
 * matter for it (a lost suffix, reconnects in the middle of pipelined appends).
 */
import type { Prng } from '../prng.js';

export interface NetworkFaults {
  readonly dropP: number;
  readonly duplicateP: number;
  readonly delayMsMin: number;
  readonly delayMsMax: number;
  /** `stream` model: chance that a send finds its connection broken (what was in flight is lost). */
  readonly resetP?: number;
  /** `stream` model: time until a broken connection is up again. */
  readonly reconnectMsMin?: number;
  readonly reconnectMsMax?: number;
}

export type NetworkModel = 'datagram' | 'stream';

export interface InFlight<M> {
  readonly from: number;
  readonly to: number;
  readonly message: M;
  readonly deliverAtMs: number;
  readonly seq: number;
}

interface Connection {
  /** Down until this time (a broken connection reconnecting). */
  downUntilMs: number;
  /** Last delivery time per direction (`lo→hi`, `hi→lo`): later sends are never delivered earlier. */
  lastDeliverMs: [number, number];
  resets: number;
}

export class SimNetwork<M> {
  private inflight: InFlight<M>[] = [];
  private seq = 0;
  private blocked = new Set<string>();
  private readonly conns = new Map<string, Connection>();
  /** Connections broken (stream model), for the result. */
  resets = 0;
  constructor(
    private readonly rng: Prng,
    private readonly faults: NetworkFaults,
    /** Bound on queued messages: beyond it new ones are dropped, like a full socket buffer. */
    private readonly queueMax = 2000,
    readonly model: NetworkModel = 'datagram',
  ) {}

  get size(): number {
    return this.inflight.length;
  }

  send(from: number, to: number, message: M, nowMs: number): void {
    if (this.model === 'stream') return this.sendStream(from, to, message, nowMs);
    if (this.isBlocked(from, to) || this.rng.chance(this.faults.dropP)) return;
    const copies = this.rng.chance(this.faults.duplicateP) ? 2 : 1;
    for (let i = 0; i < copies && this.inflight.length < this.queueMax; i++) {
      const delay = this.rng.int(this.faults.delayMsMin, this.faults.delayMsMax);
      this.inflight.push({ from, to, message, deliverAtMs: nowMs + delay, seq: this.seq++ });
    }
  }

  private conn(a: number, b: number): Connection {
    const k = key(a, b);
    let c = this.conns.get(k);
    if (c === undefined) this.conns.set(k, (c = { downUntilMs: 0, lastDeliverMs: [0, 0], resets: 0 }));
    return c;
  }

  private sendStream(from: number, to: number, message: M, nowMs: number): void {
    const c = this.conn(from, to);
    if (this.isBlocked(from, to)) {
      this.breakConnection(from, to, nowMs);
      return;
    }
    if (nowMs < c.downUntilMs) return;
    if (this.rng.chance(this.faults.resetP ?? 0)) {
      this.breakConnection(from, to, nowMs);
      return;
    }
    // A full socket buffer: the writer's connection is torn down, not a single message dropped.
    if (this.inflight.length >= this.queueMax) {
      this.breakConnection(from, to, nowMs);
      return;
    }
    const dir = from < to ? 0 : 1;
    const delay = this.rng.int(this.faults.delayMsMin, this.faults.delayMsMax);
    const at = Math.max(nowMs + delay, c.lastDeliverMs[dir]);
    c.lastDeliverMs[dir] = at;
    this.inflight.push({ from, to, message, deliverAtMs: at, seq: this.seq++ });
  }

  /** The connection between `a` and `b` breaks: what is in flight on it is lost, it reconnects later. */
  breakConnection(a: number, b: number, nowMs: number): void {
    const c = this.conn(a, b);
    const backoff = this.rng.int(this.faults.reconnectMsMin ?? 5, this.faults.reconnectMsMax ?? 50);
    if (nowMs < c.downUntilMs) return;
    c.downUntilMs = nowMs + backoff;
    c.resets++;
    this.resets++;
    this.inflight = this.inflight.filter((m) => !((m.from === a && m.to === b) || (m.from === b && m.to === a)));
  }

  /** A process died: every connection it had breaks (its peers reconnect to the new one later). */
  breakAll(addr: number, nowMs: number): void {
    if (this.model !== 'stream') return;
    const peers = new Set<number>();
    for (const m of this.inflight) {
      if (m.from === addr) peers.add(m.to);
      else if (m.to === addr) peers.add(m.from);
    }
    for (const p of peers) this.breakConnection(addr, p, nowMs);
  }

  /** Remove and return a message due at `nowMs` (a random one of those due), or null. */
  takeDue(nowMs: number): InFlight<M> | null {
    let n = 0;
    for (const m of this.inflight) if (m.deliverAtMs <= nowMs && this.isHead(m)) n++;
    if (n === 0) return null;
    let k = this.rng.int(0, n - 1);
    for (let i = 0; i < this.inflight.length; i++) {
      const m = this.inflight[i]!;
      if (m.deliverAtMs > nowMs || !this.isHead(m)) continue;
      if (k-- === 0) {
        this.inflight.splice(i, 1);
        // A partition raised while the message was in flight still cuts it.
        if (this.isBlocked(m.from, m.to)) {
          if (this.model === 'stream') this.breakConnection(m.from, m.to, nowMs);
          return null;
        }
        return m;
      }
    }
    return null;
  }

  /**
   * Stream model: only the oldest message of its direction may be delivered
   * (delivery times are monotonic per direction, so among equal times the
   * sequence number decides). The queue is small; a linear scan will do.
   */
  private isHead(m: InFlight<M>): boolean {
    if (this.model !== 'stream') return true;
    for (const o of this.inflight) {
      if (o.seq < m.seq && o.from === m.from && o.to === m.to) return false;
    }
    return true;
  }

  /** The earliest delivery time, or null when nothing is in flight. */
  nextDueMs(): number | null {
    let t: number | null = null;
    for (const m of this.inflight) if (t === null || m.deliverAtMs < t) t = m.deliverAtMs;
    return t;
  }

  partition(a: number, b: number): void {
    this.blocked.add(key(a, b));
  }
  heal(): void {
    this.blocked.clear();
  }
  isBlocked(a: number, b: number): boolean {
    return this.blocked.size > 0 && this.blocked.has(key(a, b));
  }
}

function key(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}
