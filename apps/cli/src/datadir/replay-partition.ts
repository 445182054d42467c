/**
 * The replay engine of `strata redo apply`, for one partition of the pages:
 * the shell around core's replay driver (`redo.LogReplay`, which holds the
 * pages, applies the records and decides what to write when). Here: the log
 * file and the loop over it, the tablespace files (descriptors, page reads
 * and writes, create/rename/delete, truncation), the stops (--until-lsn, the
 * end of the first pass), abort checks and progress.
 *
 * Partitions: records of different pages never read each other, so the
 * pages can be replayed by several threads at once, each decoding the whole
 * log and applying the records of the pages it owns (replay-workers.ts).
 * Page 0 of every space is replayed by all and written by partition 0 only,
 * which also does every file operation; around each one the partitions meet
 * (`Partition.sync`) so no page write crosses it.
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { redo } from '@strata/core';
import { openLogFile } from '@strata/datadir';

/** Which pages this replay owns, and how it meets the other partitions. */
export interface Partition extends redo.ReplayPartition {
  /** Returns once every partition has reached the same point of the log (throws if one failed). */
  sync(): void;
  /** Throws if another partition failed (checked now and then, so a failure stops everyone soon). */
  checkAborted(): void;
}

/** A replay that is not partitioned. */
export const WHOLE: Partition = { index: 0, count: 1, sync() {}, checkAborted() {} };

export interface PartitionOptions {
  readonly outDir: string;
  readonly logPath: string;
  readonly files: readonly { readonly spaceId: number; readonly path: string }[];
  readonly pageSize: number;
  readonly startLsn: bigint;
  readonly untilLsn?: bigint | undefined;
  /** Bytes of page images this partition holds before writing back the least recently used. */
  readonly pageCacheBytesMax?: number | undefined;
  /** Where each page starts over (the first pass, `scanPageResets`): records before that are skipped. */
  readonly resets: redo.PageResets;
  /** Where that pass stopped: the replay goes no further (a log that grew since has no resets for the rest). */
  readonly scanEndLsn: bigint;
  /** Called by partition 0 every 8 MiB of redo. */
  readonly onProgress?: ((p: { lsn: bigint; mtrs: number; records: number }) => void) | undefined;
}

export interface PartitionResult {
  readonly endLsn: bigint;
  readonly logEndLsn: bigint;
  readonly logEndReason: string;
  readonly stats: ReplayStats;
}

export type ReplayStats = redo.ReplayStats;

/** Redo between two progress reports. */
const PROGRESS_BYTES = 8n << 20n;
/** mtrs between two looks at whether another partition failed. */
const ABORT_CHECK_MTRS = 4096;

/**
 * Replays the log from `startLsn` onto the datadir in `outDir` (already a
 * copy of the base) for the pages `part` owns. Partition 0 also makes the
 * files as long as their page 0 says at the end.
 */
export function replayPartition(opts: PartitionOptions, part: Partition): PartitionResult {
  const { startLsn } = opts;
  const reader = openLogFile(opts.logPath);
  const replay = new redo.LogReplay({
    pageSize: opts.pageSize,
    spaces: opts.files.map((f) => ({ spaceId: f.spaceId, path: f.path })),
    files: new DatadirFiles(opts.outDir),
    resets: opts.resets,
    partition: part,
    pageCacheBytesMax: opts.pageCacheBytesMax,
  });
  const { stats } = replay;
  let endLsn = startLsn;
  let logEnd: { endLsn: bigint; reason: string } | undefined;
  let lastProgress = startLsn;
  try {
    // Each mtr is applied before the next is decoded: the log is read into one reused buffer.
    const scanner = reader.scanner(startLsn, opts.pageSize, { reuseBuffer: true, partition: part });
    for (;;) {
      const m = scanner.next();
      if (m === undefined) {
        logEnd = scanner.end;
        break;
      }
      if (opts.untilLsn !== undefined && m.endLsn > opts.untilLsn) {
        logEnd = { endLsn: m.startLsn, reason: `stopped at --until-lsn ${opts.untilLsn}` };
        break;
      }
      if (m.endLsn > opts.scanEndLsn) {
        logEnd = { endLsn: m.startLsn, reason: `the log grew during the replay: stopped at ${opts.scanEndLsn}, where its first pass ended` };
        break;
      }
      replay.applyMtr(m);
      endLsn = m.endLsn;
      if (stats.mtrs % ABORT_CHECK_MTRS === 0) part.checkAborted();
      if (opts.onProgress && part.index === 0 && endLsn - lastProgress >= PROGRESS_BYTES) {
        lastProgress = endLsn;
        opts.onProgress({ lsn: endLsn, mtrs: stats.mtrs, records: stats.records });
      }
    }
    replay.finish();
  } finally {
    replay.close();
    reader.close();
  }
  return { endLsn, logEndLsn: logEnd.endLsn, logEndReason: logEnd.reason, stats };
}

/** A tablespace file by its descriptor. */
class FdSpaceFile implements redo.SpaceFile {
  constructor(private readonly fd: number) {}

  read(buf: Uint8Array, position: number): number {
    return readSync(this.fd, buf, 0, buf.length, position);
  }

  write(buf: Uint8Array, position: number): void {
    writeSync(this.fd, buf, 0, buf.length, position);
  }

  sizeBytes(): number {
    return fstatSync(this.fd).size;
  }

  resize(bytes: number): void {
    ftruncateSync(this.fd, bytes);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** The files of the datadir being built in `dir`. */
class DatadirFiles implements redo.ReplayFiles {
  constructor(private readonly dir: string) {}

  open(path: string): redo.SpaceFile | undefined {
    const full = join(this.dir, path);
    if (!existsSync(full)) return undefined;
    return new FdSpaceFile(openSync(full, 'r+'));
  }

  applyEvent(event: redo.TablespaceEvent): void {
    switch (event.kind) {
      case 'create': {
        const full = join(this.dir, event.path);
        mkdirSync(dirname(full), { recursive: true });
        closeSync(openSync(full, 'w'));
        return;
      }
      case 'rename': {
        const from = join(this.dir, event.from);
        const to = join(this.dir, event.to);
        mkdirSync(dirname(to), { recursive: true });
        if (existsSync(from)) renameSync(from, to);
        return;
      }
      case 'delete': {
        const full = join(this.dir, event.path);
        if (existsSync(full)) unlinkSync(full);
        return;
      }
    }
  }
}
