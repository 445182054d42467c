/**
 * One timeline's WAL receiver: streams committed redo from a safekeeper into
 * the timeline, as Neon's walreceiver does.
 *
 * - Picks the safekeeper with the highest commit LSN (their status route),
 *   and picks again on any failure and now and then while idle, so a
 *   safekeeper that falls behind or dies is left.
 * - Subscribes with `GET .../wal/stream?from=<next byte>` (core
 *   `wal-stream`): the safekeeper pushes committed WAL in frames as it
 *   commits, with keepalives while nothing does, so a commit reaches the
 *   page server without a poll interval. Every frame is checked (core's
 *   WalStreamDecoder): hostile or broken input is a ReceiverError, retried
 *   elsewhere, never a crash. Frames hold whole mtrs only by chance: the mtr
 *   decoder keeps a partial tail across frames.
 * - Backpressure: while compaction lags (`backpressure`) or frozen layers
 *   pile up, the receiver stops reading the socket; TCP pushes back on the
 *   safekeeper, which stops reading its WAL (its sender is pull-driven).
 * - Flushes the open layer after `checkpointTimeoutMs` without a flush, and
 *   reports the disk-consistent LSN to every safekeeper (best-effort) so they
 *   can drop WAL that the page server no longer needs.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AssertionError, authHeaders, CorruptFrame, CorruptRedo, redo, StrataError } from '@strata/core';
import { lsnDecimal } from '@strata/core/json';
import { LSN_TIME_POINTS_MAX, mergeLsnTimes } from '@strata/core/layers';
import { WAL_STREAM_CONTENT_TYPE, WalStreamDecoder, type WalStreamFrame } from '@strata/core/wal-stream';
import type { Logger } from '@strata/service-kit';
import { z } from 'zod';
import type { PageserverMetrics } from '../metrics.js';
import type { Timeline } from '../storage/index.js';

export interface WalReceiverOptions {
  readonly timeline: Timeline;
  /** Safekeeper base URLs (`http://host:port`). */
  readonly safekeepers: readonly string[];
  readonly token?: string | undefined;
  readonly metrics: PageserverMetrics;
  readonly log: Logger;
  /** Keepalive interval asked of the safekeeper; a stream silent for several is dropped. */
  readonly keepaliveMs?: number;
  /** Flush the open layer when it is older than this. */
  readonly checkpointTimeoutMs?: number;
  /** A failed assertion while ingesting is a bug: main.ts stops the process. */
  readonly onBug?: ((e: Error) => void) | undefined;
  /** Awaited before each frame is read from the stream: resolves when ingest may go on (compaction caught up). */
  readonly backpressure?: ((t: Timeline) => Promise<void>) | undefined;
}

const statusSchema = z
  .object({
    commitLsn: lsnDecimal,
    nodeId: z.number().int().optional(),
    conf: z.object({ members: z.array(z.number().int()), newMembers: z.array(z.number().int()).optional() }).passthrough().optional(),
  })
  .passthrough();

/** A safekeeper a membership change removed keeps its old WAL but gets no new WAL: never follow it. */
function removedMember(s: z.infer<typeof statusSchema>): boolean {
  if (s.nodeId === undefined || !s.conf) return false;
  return !s.conf.members.includes(s.nodeId) && !(s.conf.newMembers ?? []).includes(s.nodeId);
}

/** Pick again after this long without new WAL: another safekeeper may be ahead. */
const IDLE_REPICK_MS = 30_000;
const BACKOFF_MIN_MS = 200;
const KEEPALIVE_MS_DEFAULT = 1_000;
/** A stream that sends nothing (not even a keepalive) for this many keepalive intervals is dead. */
const SILENT_KEEPALIVES_MAX = 5;
/** Until the reply's headers arrive. */
const CONNECT_TIMEOUT_MS = 10_000;
const BACKOFF_MAX_MS = 5_000;
/** Yield to the event loop after this many mtrs, or this long: GetPage and uploads must not starve behind a large frame. */
const MTRS_PER_SLICE = 2_000;
/** A bulk load's mtrs touch many pages each: 2,000 of them took tens of ms, and every I/O completion (an upload, a layer write) waited that long for its turn. */
const SLICE_MS = 4;
/** The clock is read every this many mtrs. */
const CLOCK_EVERY_MTRS = 32;
/**
 * Frozen layers waiting to be written before ingest waits for them. One: the
 * open layer fills while the previous one is written and uploaded, which is
 * what bounds remote_consistent_lsn's lag to about two checkpoint sizes
 * (docs/pageserver-storage.md) and the page server's layer memory to as much.
 */
const FROZEN_LAYERS_MAX = 1;
/** At most one ingest-time point per this long in the LSN ↔ time map (the shipper's commit times are finer). */
const INGEST_TIME_POINT_MS = 1_000;

/**
 * Why the receiver dropped a safekeeper: none has the timeline, one answered
 * something that is not a WAL stream (or broke its rules), it ended the
 * stream with an error frame (it stopped, left the configuration, removed
 * the WAL), the stream went silent or was cut, or the WAL it sent does not
 * decode. The receiver handles these itself (logs, backs off, picks again);
 * the code tells them apart in its status and logs.
 */
export type ReceiverErrorCode = 'NO_SAFEKEEPER' | 'SAFEKEEPER_BAD_REPLY' | 'SAFEKEEPER_ERROR' | 'STREAM_LOST' | 'CORRUPT_WAL';

export class ReceiverError extends StrataError {
  constructor(
    readonly code: ReceiverErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ReceiverError';
  }
}

export interface ReceiverStatus {
  readonly safekeeper: string | null;
  readonly commitLsn: bigint | null;
  readonly state: 'idle' | 'connecting' | 'streaming' | 'backoff' | 'stopped' | 'failed';
}

export class WalReceiver {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private current: string | null = null;
  private commitLsn: bigint | null = null;
  private state: ReceiverStatus['state'] = 'idle';
  private lastFlushAt = Date.now();
  private reportedLsn: bigint;
  private lastTimePointMs = 0;
  private readonly labels: Record<string, string>;
  private readonly keepaliveMs: number;
  private readonly checkpointTimeoutMs: number;
  /** The report in flight, started from the stream loop without waiting for it. */
  private reporting: Promise<void> | undefined;

  constructor(private readonly o: WalReceiverOptions) {
    this.reportedLsn = o.timeline.initLsn;
    this.labels = { tenant_id: o.timeline.tenantId, timeline_id: o.timeline.timelineId };
    this.keepaliveMs = o.keepaliveMs ?? KEEPALIVE_MS_DEFAULT;
    this.checkpointTimeoutMs = o.checkpointTimeoutMs ?? 10_000;
  }

  get status(): ReceiverStatus {
    return { safekeeper: this.current, commitLsn: this.commitLsn, state: this.state };
  }

  start(): void {
    if (this.loop) return;
    this.loop = this.run();
  }

  /** Ends the stream; bytes not yet ingested are abandoned (they come again after a restart). */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    await this.reporting;
    this.state = 'stopped';
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private headers(): Record<string, string> {
    return authHeaders(this.o.token);
  }

  private path(): string {
    return `/v1/tenants/${this.o.timeline.tenantId}/timelines/${this.o.timeline.timelineId}`;
  }

  private async run(): Promise<void> {
    let backoffMs = BACKOFF_MIN_MS;
    let lastProblem = '';
    while (!this.stopped) {
      this.state = 'connecting';
      try {
        const pick = await this.pickSafekeeper();
        if (!pick) throw new ReceiverError('NO_SAFEKEEPER', 'no safekeeper has this timeline');
        this.current = pick.url;
        this.o.metrics.receiverConnects.inc(this.labels);
        const progressed = await this.stream(pick.url);
        if (progressed) backoffMs = BACKOFF_MIN_MS;
        lastProblem = '';
        continue;
      } catch (e) {
        if (this.stopped) break;
        if (e instanceof AssertionError) {
          // An ingest gap or an impossible record: the timeline's state is not what we think.
          this.state = 'failed';
          this.o.log.error('bug: WAL ingest assertion failed; receiver stopped', { ...this.labels, error: e });
          this.o.onBug?.(e);
          return;
        }
        this.o.metrics.receiverErrors.inc(this.labels);
        const problem = e instanceof Error ? e.message : String(e);
        // A timeline nobody writes yet (a fresh branch) fails the same way every time: say it once.
        if (problem !== lastProblem) this.o.log.warn('WAL receiver: retrying', { ...this.labels, safekeeper: this.current, code: e instanceof StrataError ? e.code : undefined, error: problem });
        lastProblem = problem;
      }
      this.state = 'backoff';
      this.current = null;
      this.maybeFlush();
      await this.report();
      await sleep(backoffMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
      backoffMs = Math.min(BACKOFF_MAX_MS, backoffMs * 2);
    }
    this.state = 'stopped';
  }

  /** The safekeeper with the highest commit LSN among those that answer. */
  private async pickSafekeeper(): Promise<{ url: string; commitLsn: bigint } | undefined> {
    const answers = await Promise.all(
      this.o.safekeepers.map(async (url) => {
        try {
          const res = await fetch(`${url}${this.path()}`, { headers: this.headers(), signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(5_000)]) });
          if (res.status !== 200) {
            await res.body?.cancel();
            return undefined;
          }
          const s = statusSchema.parse(await res.json());
          return removedMember(s) ? undefined : { url, commitLsn: BigInt(s.commitLsn) };
        } catch {
          return undefined;
        }
      }),
    );
    let best: { url: string; commitLsn: bigint } | undefined;
    for (const a of answers) if (a && (!best || a.commitLsn > best.commitLsn)) best = a;
    return best;
  }

  /** Streams until an idle re-pick is due (returns) or a failure (throws). True when WAL was ingested. */
  private async stream(url: string): Promise<boolean> {
    const tl = this.o.timeline;
    const from = tl.lastRecordLsn;
    const decoder = new redo.MtrDecoder({ startLsn: from, pageSize: tl.pageSize });
    const frames = new WalStreamDecoder({ startLsn: from });
    // Cut when this stream ends for any reason: the connection goes with it.
    const cut = new AbortController();
    const connectTimer = setTimeout(() => cut.abort(new ReceiverError('STREAM_LOST', `${url}: no reply in ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    let lastDataAt = Date.now();
    let progressed = false;
    try {
      const res = await fetch(`${url}${this.path()}/wal/stream?from=${from}&keepaliveMs=${this.keepaliveMs}`, {
        headers: this.headers(),
        signal: AbortSignal.any([this.abort.signal, cut.signal]),
      });
      clearTimeout(connectTimer);
      if (res.status !== 200) throw new ReceiverError('SAFEKEEPER_BAD_REPLY', `${url}: HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
      if (res.headers.get('content-type') !== WAL_STREAM_CONTENT_TYPE || !res.body) {
        await res.body?.cancel();
        throw new ReceiverError('SAFEKEEPER_BAD_REPLY', `${url}: not a WAL stream (content-type ${res.headers.get('content-type')})`);
      }
      const reader = res.body.getReader();
      this.state = 'streaming';
      while (!this.stopped) {
        // Not reading while ingest must wait: the socket fills and TCP pushes back on the safekeeper.
        await this.o.backpressure?.(tl);
        // Layers are written out in the background; memory stays bounded by waiting when they pile up.
        await tl.frozenAtMost(FROZEN_LAYERS_MAX);
        const f = await this.nextFrame(url, frames, reader);
        if (f.kind === 'error') throw new ReceiverError('SAFEKEEPER_ERROR', `${url} ended the WAL stream: ${f.code}: ${f.message.slice(0, 300)}`);
        this.commitLsn = frames.commitLsn;
        if (f.kind === 'wal') {
          this.o.metrics.ingestBytes.inc(this.labels, f.bytes.length);
          decoder.pushOwned(f.bytes);
          await this.ingestDecoded(decoder);
          lastDataAt = Date.now();
          this.noteIngestTime(lastDataAt);
          progressed = true;
        }
        const lag = this.commitLsn - tl.lastRecordLsn;
        this.o.metrics.ingestLagBytes.set(lag > 0n ? lag : 0n, this.labels);
        this.maybeFlush();
        this.reportInBackground();
        if (f.kind === 'keepalive' && Date.now() - lastDataAt > IDLE_REPICK_MS) return progressed;
      }
      return progressed;
    } catch (e) {
      // The cut's reason, when the connect timer fired.
      if (cut.signal.aborted && cut.signal.reason instanceof ReceiverError) throw cut.signal.reason;
      throw e;
    } finally {
      clearTimeout(connectTimer);
      cut.abort();
    }
  }

  /** The next checked frame; a stream silent for several keepalive intervals, cut, or ended is STREAM_LOST. */
  private async nextFrame(url: string, frames: WalStreamDecoder, reader: ReadableStreamDefaultReader<Uint8Array>): Promise<WalStreamFrame> {
    const silentMs = this.keepaliveMs * SILENT_KEEPALIVES_MAX;
    for (;;) {
      let f: WalStreamFrame | undefined;
      try {
        f = frames.next();
      } catch (e) {
        if (e instanceof CorruptFrame) throw new ReceiverError('SAFEKEEPER_BAD_REPLY', `${url}: ${e.message}`);
        throw e;
      }
      if (f) return f;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const silent = new Promise<'silent'>((r) => (timer = setTimeout(() => r('silent'), silentMs)));
      let r: Awaited<ReturnType<typeof reader.read>> | 'silent';
      try {
        r = await Promise.race([reader.read(), silent]);
      } catch (e) {
        if (this.stopped) throw e;
        throw new ReceiverError('STREAM_LOST', `${url}: the WAL stream broke: ${(e as Error).message}`);
      } finally {
        clearTimeout(timer);
      }
      if (r === 'silent') throw new ReceiverError('STREAM_LOST', `${url}: nothing on the WAL stream for ${silentMs} ms`);
      if (r.done) throw new ReceiverError('STREAM_LOST', `${url}: the WAL stream ended without an error frame`);
      frames.push(r.value);
    }
  }

  private async ingestDecoded(decoder: redo.MtrDecoder): Promise<void> {
    const tl = this.o.timeline;
    let mtrs = 0;
    let records = 0;
    let sliceStart = performance.now();
    for (;;) {
      let m: redo.Mtr | undefined;
      try {
        m = decoder.nextStrict();
      } catch (e) {
        if (e instanceof CorruptRedo) throw new ReceiverError('CORRUPT_WAL', `corrupt WAL from ${this.current}: ${e.message}`);
        throw e;
      }
      if (!m) break;
      const before = tl.frozenLayers;
      tl.ingest(m);
      if (tl.frozenLayers > before) this.flushed('size');
      mtrs++;
      records += m.records.length;
      if (mtrs % MTRS_PER_SLICE === 0 || (mtrs % CLOCK_EVERY_MTRS === 0 && performance.now() - sliceStart > SLICE_MS)) {
        await new Promise((r) => setImmediate(r));
        sliceStart = performance.now();
      }
    }
    this.o.metrics.ingestMtrs.inc(this.labels, mtrs);
    this.o.metrics.ingestRecords.inc(this.labels, records);
  }

  /**
   * The fallback LSN ↔ time point: everything up to the last ingested record
   * was committed by now. Persisted with the next flush of the index.
   */
  private noteIngestTime(nowMs: number): void {
    if (nowMs - this.lastTimePointMs < INGEST_TIME_POINT_MS) return;
    this.lastTimePointMs = nowMs;
    const tl = this.o.timeline;
    tl.patchMeta({ lsnTimes: mergeLsnTimes(tl.metaSnapshot.lsnTimes, [{ lsn: tl.lastRecordLsn, timeMs: nowMs }], LSN_TIME_POINTS_MAX) }, false);
  }

  private flushed(reason: string): void {
    this.lastFlushAt = Date.now();
    this.o.metrics.layerFlushes.inc({ ...this.labels, reason });
  }

  private maybeFlush(): void {
    const tl = this.o.timeline;
    if (tl.lastRecordLsn > tl.diskConsistentLsn && Date.now() - this.lastFlushAt >= this.checkpointTimeoutMs) {
      tl.freeze();
      this.flushed('timeout');
    }
  }

  /** Starts a report unless one is in flight; the stream goes on reading meanwhile. */
  private reportInBackground(): void {
    if (this.reporting || this.o.timeline.remoteConsistentLsn <= this.reportedLsn) return;
    this.reporting = this.report().finally(() => (this.reporting = undefined));
  }

  /**
   * Tell the safekeepers what is durable here. Best-effort: a safekeeper
   * that is down, lags (the LSN is beyond its commit) or has no such route
   * is skipped, and hears about it with the next flush.
   */
  async report(): Promise<void> {
    // What the safekeepers may drop: with remote storage, only what is uploaded.
    const lsn = this.o.timeline.remoteConsistentLsn;
    if (lsn <= this.reportedLsn) return;
    let ok = 0;
    await Promise.all(
      this.o.safekeepers.map(async (url) => {
        try {
          const res = await fetch(`${url}${this.path()}/remote_consistent_lsn`, {
            method: 'POST',
            headers: { ...this.headers(), 'content-type': 'application/json' },
            body: JSON.stringify({ lsn: lsn.toString() }),
            signal: AbortSignal.timeout(5_000),
          });
          await res.body?.cancel();
          if (res.ok) ok++;
        } catch {
          // down: see above
        }
      }),
    );
    if (ok > 0) this.reportedLsn = lsn;
  }
}
