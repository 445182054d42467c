/**
 * A replay split over threads: the calling thread is partition 0 and each
 * other partition runs on a worker thread of this same module (the bundle or
 * the .ts file under tsx). They meet at barriers on a SharedArrayBuffer, so
 * the caller stays synchronous; a failure in any partition sets a shared
 * flag that makes the others stop at their next barrier or abort check.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { CorruptPage, CorruptRedo, LsnOutOfRange, UnsupportedPage, UnsupportedRedoFormat } from '@strata/core';
import { installNativeCrc32c } from '@strata/datadir';
import { type Partition, type PartitionOptions, type PartitionResult, replayPartition, type ReplayStats } from './replay-partition.js';

const WORKER_KIND = 'strata-redo-partition';
/** A worker that has not started by then (its module failed to load, say) fails the replay. */
const WORKER_START_TIMEOUT_MS = 60_000;
const WAIT_SLICE_MS = 50;

// Control words (Int32Array over the start of the shared buffer).
const ARRIVED = 0;
const GENERATION = 1;
const ABORTED = 2;
const ERROR_BYTES = 4;
const CONTROL_WORDS = 8;
const STATS_FIELDS = ['mtrs', 'records', 'recordsSuperseded', 'pagesWritten', 'pagesFreed', 'created', 'renamed', 'deleted', 'undoTrims'] as const;
const ERROR_REGION_BYTES = 8192;

/** This partition stopped because another one failed (that one's error is the one to report). */
class PartitionAborted extends Error {}

interface SharedState {
  readonly control: Int32Array;
  readonly stats: Float64Array;
  readonly error: Uint8Array;
}

function sharedState(sab: SharedArrayBuffer, count: number): SharedState {
  const statsOffset = CONTROL_WORDS * 4;
  const statsBytes = count * STATS_FIELDS.length * 8;
  return {
    control: new Int32Array(sab, 0, CONTROL_WORDS),
    stats: new Float64Array(sab, statsOffset, count * STATS_FIELDS.length),
    error: new Uint8Array(sab, statsOffset + statsBytes, ERROR_REGION_BYTES),
  };
}

function sharedBuffer(count: number): SharedArrayBuffer {
  return new SharedArrayBuffer(CONTROL_WORDS * 4 + count * STATS_FIELDS.length * 8 + ERROR_REGION_BYTES);
}

function barrierPartition(index: number, count: number, s: SharedState): Partition {
  const c = s.control;
  const checkAborted = (): void => {
    if (Atomics.load(c, ABORTED) !== 0) throw new PartitionAborted('another partition of the replay failed');
  };
  return {
    index,
    count,
    checkAborted,
    sync() {
      const generation = Atomics.load(c, GENERATION);
      if (Atomics.add(c, ARRIVED, 1) === count - 1) {
        // Reset before releasing: nobody can arrive at the next barrier until the generation moves.
        Atomics.store(c, ARRIVED, 0);
        Atomics.add(c, GENERATION, 1);
        Atomics.notify(c, GENERATION);
        return;
      }
      for (;;) {
        checkAborted();
        if (Atomics.load(c, GENERATION) !== generation) return;
        Atomics.wait(c, GENERATION, generation, WAIT_SLICE_MS);
      }
    },
  };
}

interface ErrorRecord {
  readonly name: string;
  readonly message: string;
  readonly code?: string | undefined;
  readonly lsn?: string | undefined;
  readonly spaceId?: number | undefined;
  readonly pageNo?: number | undefined;
  readonly reason?: string | undefined;
}

/** What a thrown value carries, field by field (our errors add lsn, spaceId, pageNo, reason). */
type ErrorFields = Error & { code?: unknown; lsn?: unknown; spaceId?: unknown; pageNo?: unknown; reason?: unknown };

function recordError(s: SharedState, e: unknown): void {
  const err: ErrorFields = e instanceof Error ? e : new Error(String(e));
  const rec: ErrorRecord = {
    name: err.name,
    message: err.message,
    code: typeof err.code === 'string' ? err.code : undefined,
    lsn: typeof err.lsn === 'bigint' ? err.lsn.toString() : undefined,
    spaceId: typeof err.spaceId === 'number' ? err.spaceId : undefined,
    pageNo: typeof err.pageNo === 'number' ? err.pageNo : undefined,
    reason: typeof err.reason === 'string' ? err.reason : undefined,
  };
  const bytes = new TextEncoder().encode(JSON.stringify(rec)).subarray(0, ERROR_REGION_BYTES);
  // The first failure is the one reported.
  if (Atomics.compareExchange(s.control, ERROR_BYTES, 0, bytes.length) === 0) s.error.set(bytes);
  Atomics.store(s.control, ABORTED, 1);
  Atomics.notify(s.control, GENERATION);
}

/** The error a partition recorded, as the class it was thrown as where that is one of ours. */
function recordedError(s: SharedState): Error | undefined {
  const n = Atomics.load(s.control, ERROR_BYTES);
  if (n === 0) return undefined;
  let rec: ErrorRecord;
  try {
    rec = JSON.parse(new TextDecoder().decode(s.error.slice(0, n))) as ErrorRecord;
  } catch {
    return new Error('a replay worker failed (its error could not be read)');
  }
  const lsn = rec.lsn === undefined ? 0n : BigInt(rec.lsn);
  const reason = rec.reason ?? rec.message;
  switch (rec.code) {
    case 'CORRUPT_REDO':
      return new CorruptRedo(lsn, reason);
    case 'UNSUPPORTED_REDO_FORMAT':
      return new UnsupportedRedoFormat(reason);
    case 'LSN_OUT_OF_RANGE':
      return new LsnOutOfRange(lsn, reason);
    case 'CORRUPT_PAGE':
      return new CorruptPage(rec.spaceId ?? 0, rec.pageNo ?? 0, reason);
    case 'UNSUPPORTED_PAGE':
      return new UnsupportedPage(rec.spaceId ?? 0, rec.pageNo ?? 0, reason);
  }
  const e = new Error(rec.message) as Error & { code?: string };
  if (rec.code !== undefined) e.code = rec.code;
  return e;
}

function writeStats(s: SharedState, index: number, stats: ReplayStats): void {
  STATS_FIELDS.forEach((f, i) => {
    s.stats[index * STATS_FIELDS.length + i] = stats[f];
  });
}

function readStats(s: SharedState, index: number): ReplayStats {
  const out = {} as ReplayStats;
  STATS_FIELDS.forEach((f, i) => {
    out[f] = s.stats[index * STATS_FIELDS.length + i]!;
  });
  return out;
}

type WorkerOptions = Omit<PartitionOptions, 'onProgress'>;

interface WorkerData {
  readonly kind: typeof WORKER_KIND;
  readonly index: number;
  readonly count: number;
  readonly sab: SharedArrayBuffer;
  readonly opts: WorkerOptions;
}

/**
 * Replays with `count` partitions, this thread being partition 0. Page
 * counts are summed over partitions; everything else is partition 0's (all
 * partitions decode the same mtrs).
 */
export async function replayInThreads(opts: PartitionOptions, count: number): Promise<PartitionResult> {
  const sab = sharedBuffer(count);
  const s = sharedState(sab, count);
  const { onProgress, ...workerOpts } = opts;
  const workers: Worker[] = [];
  const ready: Promise<void>[] = [];
  for (let index = 1; index < count; index++) {
    const data: WorkerData = { kind: WORKER_KIND, index, count, sab, opts: workerOpts };
    const w = new Worker(new URL(import.meta.url), { workerData: data, stdout: false, stderr: false });
    // Its fate is read from the shared buffer; the process must not wait for it.
    w.unref();
    workers.push(w);
    // Loading its modules may need this thread's event loop (a loader's hooks), so wait for it here, not blocked below.
    ready.push(
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`a replay worker thread did not start within ${WORKER_START_TIMEOUT_MS / 1000} s`)), WORKER_START_TIMEOUT_MS);
        w.once('message', () => {
          clearTimeout(timer);
          resolve();
        });
        w.once('error', (e) => {
          clearTimeout(timer);
          recordError(s, e);
          reject(e);
        });
        w.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`a replay worker thread exited with code ${code} before it started`));
        });
      }),
    );
  }
  try {
    await Promise.all(ready);
  } catch (e) {
    Atomics.store(s.control, ABORTED, 1);
    for (const w of workers) void w.terminate();
    throw e;
  }
  const part = barrierPartition(0, count, s);
  try {
    const r = replayPartition({ ...workerOpts, onProgress }, part);
    // The workers put their counts in before this last meeting.
    part.sync();
    const total = { ...r.stats };
    for (let i = 1; i < count; i++) {
      const w = readStats(s, i);
      total.records += w.records;
      total.pagesWritten += w.pagesWritten;
      total.pagesFreed += w.pagesFreed;
      total.recordsSuperseded += w.recordsSuperseded;
    }
    return { ...r, stats: total };
  } catch (e) {
    if (!(e instanceof PartitionAborted)) recordError(s, e);
    for (const w of workers) void w.terminate();
    throw recordedError(s) ?? e;
  }
}

/**
 * Whether this module can start copies of itself on worker threads: the
 * bundle can; run from TypeScript (tsx, vitest) it cannot, since node 20's
 * workers do not get the loader hooks that compile it.
 */
export function threadsAvailable(): boolean {
  return !new URL(import.meta.url).pathname.endsWith('.ts');
}

function runWorker(data: WorkerData): void {
  const s = sharedState(data.sab, data.count);
  installNativeCrc32c();
  const part = barrierPartition(data.index, data.count, s);
  parentPort?.postMessage('ready');
  try {
    const r = replayPartition(data.opts, part);
    writeStats(s, data.index, r.stats);
    part.sync();
  } catch (e) {
    if (!(e instanceof PartitionAborted)) recordError(s, e);
  }
}

function isWorkerData(d: unknown): d is WorkerData {
  return typeof d === 'object' && d !== null && (d as { kind?: unknown }).kind === WORKER_KIND;
}

if (!isMainThread && isWorkerData(workerData)) runWorker(workerData);
