/**
 * Simulated network between numbered addresses: each message gets a random
 * delay (so messages reorder), and may be dropped or duplicated; partitions
 * block pairs of addresses in both directions.
 */
import type { Prng } from '../prng.js';

export interface NetworkFaults {
  readonly dropP: number;
  readonly duplicateP: number;
  readonly delayMsMin: number;
  readonly delayMsMax: number;
}

export interface InFlight<M> {
  readonly from: number;
  readonly to: number;
  readonly message: M;
  readonly deliverAtMs: number;
  readonly seq: number;
}

export class SimNetwork<M> {
  private inflight: InFlight<M>[] = [];
  private seq = 0;
  private blocked = new Set<string>();
  constructor(
    private readonly rng: Prng,
    private readonly faults: NetworkFaults,
    /** Bound on queued messages: beyond it new ones are dropped, like a full socket buffer. */
    private readonly queueMax = 2000,
  ) {}

  get size(): number {
    return this.inflight.length;
  }

  send(from: number, to: number, message: M, nowMs: number): void {
    if (this.isBlocked(from, to) || this.rng.chance(this.faults.dropP)) return;
    const copies = this.rng.chance(this.faults.duplicateP) ? 2 : 1;
    for (let i = 0; i < copies && this.inflight.length < this.queueMax; i++) {
      const delay = this.rng.int(this.faults.delayMsMin, this.faults.delayMsMax);
      this.inflight.push({ from, to, message, deliverAtMs: nowMs + delay, seq: this.seq++ });
    }
  }

  /** Remove and return a message due at `nowMs` (a random one of those due), or null. */
  takeDue(nowMs: number): InFlight<M> | null {
    let n = 0;
    for (const m of this.inflight) if (m.deliverAtMs <= nowMs) n++;
    if (n === 0) return null;
    let k = this.rng.int(0, n - 1);
    for (let i = 0; i < this.inflight.length; i++) {
      const m = this.inflight[i]!;
      if (m.deliverAtMs > nowMs) continue;
      if (k-- === 0) {
        this.inflight.splice(i, 1);
        // A partition raised while the message was in flight still cuts it.
        if (this.isBlocked(m.from, m.to)) return null;
        return m;
      }
    }
    return null;
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
