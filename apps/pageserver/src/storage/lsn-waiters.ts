/**
 * Readers waiting for an LSN to be ingested (GetPage@LSN ahead of ingest, a
 * basebackup at the commit LSN). Modelled on the safekeeper's CommitWatch:
 * the waiters are bounded, each one's timer is cleared when it is woken, and
 * a wait can be abandoned through an AbortSignal, so nothing lingers after
 * the request that waited is gone.
 */
import { assert } from '@strata/core';

interface Waiter {
  readonly lsn: bigint;
  readonly resolve: () => void;
  readonly timer: ReturnType<typeof setTimeout>;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

/** Past this many concurrent waiters a wait answers at once: a flood of early reads must not grow memory without end. */
export const LSN_WAITERS_MAX = 10_000;

export class LsnWaiters {
  private current: bigint;
  private readonly waiters = new Set<Waiter>();
  private closed = false;

  constructor(
    initial: bigint,
    private readonly waitersMax = LSN_WAITERS_MAX,
  ) {
    this.current = initial;
  }

  get lsn(): bigint {
    return this.current;
  }

  get waiting(): number {
    return this.waiters.size;
  }

  /** The last ingested LSN moved to `lsn` (it never goes back): wake those it satisfies. */
  advance(lsn: bigint): void {
    assert(lsn >= this.current, `ingested LSN going back from ${this.current} to ${lsn}`);
    if (lsn === this.current) return;
    this.current = lsn;
    for (const w of this.waiters) if (w.lsn <= lsn) this.settle(w);
  }

  /**
   * Resolves once `lsn` is reached, or after `timeoutMs`, or when aborted or
   * closed; at once if it already is reached or too many wait. The caller
   * checks `lsn` afterwards to tell which.
   */
  wait(lsn: bigint, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (lsn <= this.current || timeoutMs <= 0 || this.closed || this.waiters.size >= this.waitersMax || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const w: Waiter = {
        lsn,
        resolve,
        signal,
        timer: setTimeout(() => this.settle(w), timeoutMs),
        onAbort: () => this.settle(w),
      };
      // A pending read must not keep a stopping process alive.
      w.timer.unref();
      this.waiters.add(w);
      signal?.addEventListener('abort', w.onAbort, { once: true });
    });
  }

  /** Wake everyone (the timeline is closing); later waits answer at once. */
  close(): void {
    this.closed = true;
    for (const w of this.waiters) this.settle(w);
  }

  private settle(w: Waiter): void {
    if (!this.waiters.delete(w)) return;
    clearTimeout(w.timer);
    w.signal?.removeEventListener('abort', w.onAbort);
    w.resolve();
  }
}
