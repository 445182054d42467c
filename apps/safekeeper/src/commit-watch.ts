/**
 * The commit LSN of one timeline as an observable value: readers of the WAL
 * are bounded by it, and long-polling readers wait on it. The consensus shell
 * calls `advance` when the acceptor learns a higher commit LSN.
 */
import { assert } from '@strata/core';

interface Waiter {
  beyond: bigint;
  resolve: (lsn: bigint) => void;
  timer: ReturnType<typeof setTimeout>;
  /** Removed on settle: a stream waits on one signal for every commit, and listeners must not pile up on it. */
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class CommitWatch {
  private current: bigint;
  private readonly waiters = new Set<Waiter>();

  constructor(
    initial: bigint,
    /** Bound on concurrent waiters; past it `wait` answers at once. */
    private readonly waitersMax = 1024,
  ) {
    this.current = initial;
  }

  get lsn(): bigint {
    return this.current;
  }

  get waiting(): number {
    return this.waiters.size;
  }

  /** Raises the commit LSN and wakes the waiters it satisfies; it never goes down. */
  advance(lsn: bigint): void {
    assert(lsn >= this.current, `commit LSN going back from ${this.current} to ${lsn}`);
    if (lsn === this.current) return;
    this.current = lsn;
    for (const w of this.waiters) {
      if (lsn > w.beyond) this.settle(w);
    }
  }

  /**
   * Resolves with the commit LSN once it is above `beyond`, or with the
   * current one after `timeoutMs` (or at once if it already is above, or
   * when too many are waiting).
   */
  wait(beyond: bigint, timeoutMs: number, signal?: AbortSignal): Promise<bigint> {
    if (this.current > beyond || timeoutMs <= 0 || this.waiters.size >= this.waitersMax || signal?.aborted) {
      return Promise.resolve(this.current);
    }
    return new Promise((resolve) => {
      const w: Waiter = { beyond, resolve, timer: setTimeout(() => this.settle(w), timeoutMs), signal, onAbort: () => this.settle(w) };
      this.waiters.add(w);
      signal?.addEventListener('abort', w.onAbort, { once: true });
    });
  }

  /** Wakes everyone, e.g. when the timeline is deleted or the server stops. */
  close(): void {
    for (const w of this.waiters) this.settle(w);
  }

  private settle(w: Waiter): void {
    if (!this.waiters.delete(w)) return;
    clearTimeout(w.timer);
    w.signal?.removeEventListener('abort', w.onAbort);
    w.resolve(this.current);
  }
}
