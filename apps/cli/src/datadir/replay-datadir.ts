/**
 * `strata redo apply`: copy a cleanly shut down datadir, replay a redo log
 * onto it the way InnoDB crash recovery would (core's `redo.LogReplay`,
 * driven by replay-partition.ts on one or more threads: replay-workers.ts),
 * and leave a datadir whose fresh
 * `ib_logfile0` checkpoint is the final LSN, so stock mariadbd starts on it
 * without recovery.
 */
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { CorruptRedo, LsnOutOfRange, UnsupportedPage } from '@strata/core';
import { listTablespaceFiles, openLogFile, writeFreshLog } from '@strata/datadir';
import { copyBase } from './copy-base.js';
import { type PartitionOptions, replayPartition, WHOLE } from './replay-partition.js';
import { replayInThreads, threadsAvailable } from './replay-workers.js';
import { type PageResetsScan, scanPageResets } from './page-resets-scan.js';

/**
 * Two threads where there are two cores, and no more: every partition
 * decodes the whole log, and on the 2-vCPU VMs we measure on two replays
 * slow each other down (page faults, page cache, allocation) almost as much
 * as splitting the apply saves: 1.82 s on two threads vs 1.91 s on one for
 * 127 MiB of redo (median of 4 on a quiet machine; under load it can invert).
 */
const REPLAY_JOBS_DEFAULT = Math.min(2, availableParallelism());

export interface RedoApplyOptions {
  readonly baseDir: string;
  readonly logPath: string;
  readonly outDir: string;
  /** Stop at the last mtr ending at or below this LSN. */
  readonly untilLsn?: bigint;
  /** Take the non-InnoDB files (.frm, Aria tables, ...) from here instead of the base. */
  readonly auxFrom?: string;
  /** Bytes of page images each thread holds before writing back the least recently used (default 32 MiB). */
  readonly pageCacheBytesMax?: number | undefined;
  /** Threads replaying disjoint sets of pages (default 2, or 1 on a single core; always 1 when run from TypeScript). */
  readonly jobs?: number | undefined;
  readonly onProgress?: (p: RedoApplyProgress) => void;
  /** Progress of the first pass (finding where pages start over), every 8 MiB of redo. */
  readonly onFirstPassProgress?: (p: Omit<RedoApplyProgress, 'mtrs' | 'records'>) => void;
}

export interface RedoApplyProgress {
  readonly lsn: bigint;
  readonly startLsn: bigint;
  readonly endLsnHint: bigint;
  readonly mtrs: number;
  readonly records: number;
}

export interface RedoApplyResult {
  readonly startLsn: bigint;
  readonly endLsn: bigint;
  readonly logEndLsn: bigint;
  readonly mtrs: number;
  readonly records: number;
  readonly pagesWritten: number;
  readonly pagesFreed: number;
  /** Page records skipped because a later mtr initialises or frees their page (as crash recovery skips them). */
  readonly recordsSuperseded: number;
  readonly spacesCreated: number;
  readonly spacesRenamed: number;
  readonly spacesDeleted: number;
  readonly undoTruncations: number;
  readonly redoBytes: bigint;
  /** Threads the replay ran on. */
  readonly jobs: number;
}

/**
 * Build the datadir in a sibling work directory and rename it into place at
 * the end, so a failure (corrupt redo, unsupported tablespace, full disk)
 * never leaves a half-replayed datadir that looks finished.
 */
export async function applyRedoToDatadir(opts: RedoApplyOptions): Promise<RedoApplyResult> {
  if (existsSync(opts.outDir) && readdirSync(opts.outDir).length > 0) {
    throw new Error(`output directory ${opts.outDir} is not empty`);
  }
  const workDir = `${opts.outDir.replace(/\/+$/, '')}.partial-${process.pid}`;
  rmSync(workDir, { recursive: true, force: true });
  try {
    const result = await replayInto({ ...opts, outDir: workDir });
    rmSync(opts.outDir, { recursive: true, force: true });
    renameSync(workDir, opts.outDir);
    return result;
  } catch (e) {
    rmSync(workDir, { recursive: true, force: true });
    throw e;
  }
}

async function replayInto(opts: RedoApplyOptions): Promise<RedoApplyResult> {
  const baseLog = join(opts.baseDir, 'ib_logfile0');
  if (!existsSync(baseLog)) throw new LsnOutOfRange(0n, `${baseLog} is missing: the base must be a datadir after a clean shutdown`);
  const baseReader = openLogFile(baseLog);
  const startLsn = baseReader.head.checkpoint.endLsn;
  baseReader.close();
  const system = listTablespaceFiles(opts.baseDir).find((f) => f.spaceId === 0);
  if (!system) throw new UnsupportedPage(0, 0, `no system tablespace (ibdata1) in ${opts.baseDir}`);
  const pageSize = system.flags.pageSize;

  const reader = openLogFile(opts.logPath);
  const logCheckpoint = reader.head.checkpoint.endLsn;
  const logFileSize = reader.head.fileSize;
  reader.close();

  // The first pass over the log runs while the base is copied (see page-resets-scan.ts).
  // The copy's failure is held (not left unhandled while the pass runs) and reported after it.
  const copied = copyBase(opts.baseDir, opts.outDir, opts.auxFrom).then(
    () => undefined,
    (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
  );
  let scan: PageResetsScan;
  try {
    const report = opts.onFirstPassProgress;
    scan = await scanPageResets(opts.logPath, startLsn, pageSize, opts.untilLsn, report && ((lsn) => report({ lsn, startLsn, endLsnHint: logCheckpoint })));
  } catch (e) {
    // The log's error is the one to report; the copy is only waited for, so nothing writes into the work directory after this.
    await copied;
    throw e;
  }
  const copyError = await copied;
  if (copyError) throw copyError;
  const files = listTablespaceFiles(opts.outDir);


  const { onProgress } = opts;
  const partitionOpts: PartitionOptions = {
    outDir: opts.outDir,
    logPath: opts.logPath,
    files: files.map((f) => ({ spaceId: f.spaceId, path: f.path })),
    pageSize,
    startLsn,
    untilLsn: opts.untilLsn,
    pageCacheBytesMax: opts.pageCacheBytesMax,
    resets: scan.resets,
    scanEndLsn: scan.endLsn,
    onProgress: onProgress && ((p) => onProgress({ ...p, startLsn, endLsnHint: logCheckpoint })),
  };
  const jobs = threadsAvailable() ? (opts.jobs ?? REPLAY_JOBS_DEFAULT) : 1;
  const r = jobs > 1 ? await replayInThreads(partitionOpts, jobs) : replayPartition(partitionOpts, WHOLE);
  // The log must at least reach its own checkpoint; stopping earlier means the span from the base was overwritten.
  if (opts.untilLsn === undefined && r.endLsn < logCheckpoint) {
    throw new CorruptRedo(r.endLsn, `log ends (${r.logEndReason}) before its own checkpoint ${logCheckpoint}: the redo since the base at ${startLsn} is no longer in ${opts.logPath}`);
  }
  writeFreshLog(join(opts.outDir, 'ib_logfile0'), r.endLsn, logFileSize);
  const { stats } = r;
  return {
    startLsn,
    endLsn: r.endLsn,
    logEndLsn: r.logEndLsn,
    mtrs: stats.mtrs,
    records: stats.records,
    pagesWritten: stats.pagesWritten,
    pagesFreed: stats.pagesFreed,
    recordsSuperseded: stats.recordsSuperseded,
    spacesCreated: stats.created,
    spacesRenamed: stats.renamed,
    spacesDeleted: stats.deleted,
    undoTruncations: stats.undoTrims,
    redoBytes: r.endLsn - startLsn,
    jobs,
  };
}
