/**
 * Back-pressure from the page server's ingest to the compute's commits, as
 * Neon's walproposer does with `max_replication_write_lag`: while the page
 * server is more than `maxLagBytes` of redo behind what the compute wrote,
 * an fsync of the log (a COMMIT) waits for it to catch up.
 *
 * Why: a page server that cannot keep up with a bulk load falls further
 * behind for as long as the load lasts. Everything that reads fresh data
 * then waits on that lag (a FUSE compute re-reading a page it wrote waits
 * for ingest at the page's LSN; branches, restarts and basebackups at the
 * head wait for it), and the safekeepers must keep all of it. Slowing the
 * writer bounds the lag instead; the writer is the one component that can
 * go slower without harm.
 *
 * The page server's position is learned by asking it, at most every
 * `refreshMs` while commits come (an idle compute asks nothing). When the
 * page server cannot be asked, commits are not held: its data is safe in the
 * quorum, and a compute must stay writable while its page server is away.
 * One commit is held at most `waitMsMax`, so a page server that is up but
 * stuck slows writes down without stopping them.
 */

export interface IngestBackpressureOptions {
  /** Lag above which commits wait; 0 turns back-pressure off. */
  readonly maxLagBytes: bigint;
  /** The page server's last ingested LSN for this timeline. */
  readonly ingestedLsn: () => Promise<bigint>;
  /** How old the known position may be before a commit asks again (default 100 ms). */
  readonly refreshMs?: number;
  /** How often a held commit looks again (default 20 ms). */
  readonly pollMs?: number;
  /** The longest one commit is held (default 5 s). */
  readonly waitMsMax?: number;
  readonly log?: (line: string) => void;
  readonly now?: () => number;
}

/** What a commit at `writtenLsn` must do, knowing the page server ingested up to `ingestedLsn`. */
export function mustWait(writtenLsn: bigint, ingestedLsn: bigint | undefined, maxLagBytes: bigint): boolean {
  return maxLagBytes > 0n && ingestedLsn !== undefined && writtenLsn - ingestedLsn > maxLagBytes;
}

export interface IngestBackpressureStats {
  /** Commits held since start, and the milliseconds they were held in total. */
  readonly waits: number;
  readonly waitMs: number;
  /** Commits held now. */
  readonly holding: number;
  /** The page server's position as last learned (undefined: not yet, or it could not be asked). */
  readonly ingestedLsn: bigint | undefined;
  /** Failed attempts to learn it. */
  readonly failures: number;
}

export class IngestBackpressure {
  private known: bigint | undefined;
  private knownAtMs = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<void> | undefined;
  private waits = 0;
  private waitMs = 0;
  private holding = 0;
  private failures = 0;
  private lastFailureLogMs = Number.NEGATIVE_INFINITY;
  private lastHoldLogMs = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;

  constructor(private readonly opts: IngestBackpressureOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Resolves when a commit of the redo up to `writtenLsn` may be acknowledged. */
  async admit(writtenLsn: bigint): Promise<void> {
    const max = this.opts.maxLagBytes;
    if (max <= 0n) return;
    // Asked in the background: a commit that need not wait does not wait for the answer either.
    if (this.now() - this.knownAtMs >= (this.opts.refreshMs ?? 100)) void this.refresh();
    if (!mustWait(writtenLsn, this.known, max)) return;
    const began = this.now();
    const waitMsMax = this.opts.waitMsMax ?? 5_000;
    // Once per 10 s at most: a bulk load starts and ends hundreds of short holds.
    if (this.holding === 0 && began - this.lastHoldLogMs >= 10_000) {
      this.lastHoldLogMs = began;
      this.opts.log?.(`holding commits: the page server is ${writtenLsn - this.known!} bytes behind (more than ${max}); ${this.waits} held so far, ${Math.round(this.waitMs)} ms in total`);
    }
    this.waits++;
    this.holding++;
    try {
      while (mustWait(writtenLsn, this.known, max) && this.now() - began < waitMsMax) {
        await new Promise((r) => setTimeout(r, this.opts.pollMs ?? 20));
        await this.refresh();
      }
    } finally {
      this.holding--;
      this.waitMs += this.now() - began;
    }
  }

  stats(): IngestBackpressureStats {
    return { waits: this.waits, waitMs: this.waitMs, holding: this.holding, ingestedLsn: this.known, failures: this.failures };
  }

  /** One question at a time, shared by every commit that needs the answer. */
  private refresh(): Promise<void> {
    this.refreshing ??= this.opts
      .ingestedLsn()
      .then((lsn) => {
        this.known = lsn;
      })
      .catch((e: unknown) => {
        // Not known: commits are not held on a guess.
        this.known = undefined;
        this.failures++;
        if (this.now() - this.lastFailureLogMs > 60_000) {
          this.lastFailureLogMs = this.now();
          this.opts.log?.(`back-pressure off for now: the page server's position is unknown (${e instanceof Error ? e.message : String(e)})`);
        }
      })
      .finally(() => {
        this.knownAtMs = this.now();
        this.refreshing = undefined;
      });
    return this.refreshing;
  }
}
