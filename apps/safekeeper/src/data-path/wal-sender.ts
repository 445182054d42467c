/**
 * The sending side of a WAL stream (core `wal-stream`; neon's `send_wal.rs`):
 * a response body that pushes WAL to its reader as it becomes readable.
 *
 * - Live (page servers): follows the commit LSN. When it moves, the next
 *   frame carries the new committed bytes at once (the wait is the timeline's
 *   CommitWatch, woken by the commit); while it does not, a KEEPALIVE goes out
 *   every `keepaliveMs` so the reader knows the sender lives.
 * - Bounded (peers): stored WAL up to `endLsn` (which may be beyond the commit
 *   LSN), then END.
 *
 * Flow control: the body is a pull stream with no queue of its own
 * (highWaterMark 0): the next frame is made only when the server asks for
 * it, which @hono/node-server does after the socket drained what it wrote.
 * A reader that stops reading leaves at most one frame (`chunkBytes`) and the
 * socket buffers in flight on this side; the WAL stays on disk until it reads.
 *
 * A failure after the reply started (the timeline deleted, WAL removed under
 * a slow reader, the sender no longer a member, the service stopping) ends
 * the stream with an ERROR frame carrying the error's code. An assertion is
 * a bug: it goes to `onBug` and the stream is cut without a frame.
 */
import { AssertionError, LsnOutOfRange, StrataError } from '@strata/core';
import { encodeEnd, encodeError, encodeHello, encodeKeepalive, encodeWal } from '@strata/core/wal-stream';
import { ServiceError, type Logger } from '@strata/service-kit';
import type { SafekeeperMetrics } from '../metrics.js';
import type { Timeline } from '../storage/timeline.js';

export interface WalSenderOptions {
  readonly timeline: Timeline;
  readonly startLsn: bigint;
  /** null: live, bounded by `readBound` for ever; else stop at this LSN (which must be flushed). */
  readonly endLsn: bigint | null;
  /** What a live reader may get (the commit LSN). */
  readonly readBound: (t: Timeline) => bigint;
  readonly keepaliveMs: number;
  /** Largest WAL frame payload. */
  readonly chunkBytes: number;
  /**
   * Called before the first frame and after reading each chunk `[.., end)`,
   * before it is sent: throws to end the stream with an ERROR frame (the
   * timeline is gone, this node left the configuration, a peer's log changed).
   */
  readonly check?: (end: bigint) => void;
  /** Aborted when the service drains. */
  readonly stopping?: AbortSignal | undefined;
  readonly metrics: SafekeeperMetrics;
  readonly log: Logger;
  readonly onBug?: ((e: Error) => void) | undefined;
}

/** Frames of one stream; `body()` makes the response body. */
export class WalSender {
  private position: bigint;
  private helloSent = false;
  private finished = false;
  private readonly cancelled = new AbortController();
  private readonly signal: AbortSignal;

  constructor(private readonly o: WalSenderOptions) {
    this.position = o.startLsn;
    this.signal = o.stopping ? AbortSignal.any([this.cancelled.signal, o.stopping]) : this.cancelled.signal;
  }

  /** The LSN of the next byte to send. */
  get nextLsn(): bigint {
    return this.position;
  }

  body(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          const frame = await this.nextFrame();
          if (frame) controller.enqueue(frame);
          if (this.finished) controller.close();
        },
        cancel: () => {
          // The reader went away: wake the commit wait so nothing holds on to this stream.
          this.finished = true;
          this.cancelled.abort();
        },
      },
      { highWaterMark: 0 },
    );
  }

  /** The next frame to send (null: the stream is cut, no frame). Sets `finished` with the last one. */
  async nextFrame(): Promise<Uint8Array | null> {
    if (this.finished) return null;
    try {
      return await this.makeFrame();
    } catch (e) {
      this.finished = true;
      if (e instanceof AssertionError) {
        this.o.log.error('bug: assertion failed in a WAL stream', { ...this.o.timeline.labels(), error: e });
        this.o.onBug?.(e);
        return null;
      }
      const code = e instanceof StrataError ? e.code : 'INTERNAL';
      if (code === 'INTERNAL') this.o.log.warn('WAL stream ended by an error', { ...this.o.timeline.labels(), at: this.position.toString(), error: e });
      return encodeError(code, code === 'INTERNAL' ? 'internal error' : (e as Error).message);
    }
  }

  private async makeFrame(): Promise<Uint8Array> {
    const t = this.o.timeline;
    if (!this.helloSent) {
      this.o.check?.(this.position);
      this.helloSent = true;
      return encodeHello({ startLsn: this.position, commitLsn: this.commitLsn(), flushLsn: t.flushLsn, endLsn: this.o.endLsn, termHistory: t.control.termHistory });
    }
    if (this.o.stopping?.aborted) throw new ShuttingDown();
    if (this.o.endLsn !== null && this.position >= this.o.endLsn) {
      this.finished = true;
      return encodeEnd(this.position);
    }
    let readable = this.readable();
    // A bounded stream's end was flushed when it began: less now means the log was cut below it.
    if (this.o.endLsn !== null && readable <= this.position) throw new LsnOutOfRange(this.o.endLsn, `the WAL now ends at ${readable}, below the stream's end`);
    if (readable <= this.position) {
      const t0 = Date.now();
      // Woken by the commit itself: no poll interval between a commit and its frame.
      await t.commits.wait(this.position, this.o.keepaliveMs, this.signal);
      if (this.o.stopping?.aborted) throw new ShuttingDown();
      readable = this.readable();
      if (readable <= this.position) {
        // Woken without a commit: the timeline closing or leaving this node ends the stream here.
        this.o.check?.(this.position);
        // The watch answers at once when too many wait: pace the keepalives rather than spin.
        const early = this.o.keepaliveMs - (Date.now() - t0);
        if (early > 1 && !this.signal.aborted) await new Promise((r) => setTimeout(r, early));
        return encodeKeepalive(this.commitLsn(), t.flushLsn);
      }
    }
    const from = this.position;
    const to = readable - from > BigInt(this.o.chunkBytes) ? from + BigInt(this.o.chunkBytes) : readable;
    // A reader slower than the WAL's removal (page server and backup horizons) must start again from elsewhere.
    if (from < t.wal.oldestLsn) throw new LsnOutOfRange(from, `WAL before ${t.wal.oldestLsn} is no longer on this safekeeper`);
    const bytes = await t.readWal(from, to);
    this.o.check?.(to);
    this.position = to;
    this.o.metrics.walBytesSent.inc(t.labels(), bytes.length);
    return encodeWal(from, this.commitLsn(), bytes);
  }

  /** The commit LSN as this stream reports it: for a live stream, its read bound (never below what it sent). */
  private commitLsn(): bigint {
    return this.o.endLsn === null ? this.o.readBound(this.o.timeline) : this.o.timeline.commitLsn;
  }

  private readable(): bigint {
    if (this.o.endLsn === null) return this.o.readBound(this.o.timeline);
    const flush = this.o.timeline.flushLsn;
    return flush < this.o.endLsn ? flush : this.o.endLsn;
  }
}

/** The stream ended because the safekeeper is stopping: its reader goes to another. */
export class ShuttingDown extends ServiceError {
  readonly code = 'SHUTTING_DOWN' as const;
  constructor() {
    super('the safekeeper is shutting down');
    this.name = 'ShuttingDown';
  }
}
