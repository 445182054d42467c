/**
 * The quick first pass of `strata redo apply`: the last INIT_PAGE/FREE_PAGE
 * of every page (core `redo.PageResets`), so the replay skips the records
 * crash recovery would drop. It runs while the base datadir is being copied:
 * the copy is kernel work on libuv's threads, and this thread would only
 * wait for it. It yields to the event loop now and then so that the copy's
 * next files get started.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { redo } from '@strata/core';
import { openLogFile } from '@strata/datadir';

/** mtrs between two yields (about a millisecond of scanning). */
const MTRS_PER_SLICE = 4096;
/** Redo between two progress reports, as the replay's. */
const PROGRESS_BYTES = 8n << 20n;

export interface PageResetsScan {
  readonly resets: redo.PageResets;
  /**
   * Where the pass stopped: the end of the log, or the start of the first mtr past `untilLsn`. The
   * replay stops there too, even if the file has grown since (its resets would not cover the rest).
   */
  readonly endLsn: bigint;
}

export async function scanPageResets(
  logPath: string,
  startLsn: bigint,
  pageSize: number,
  untilLsn: bigint | undefined,
  onProgress?: (lsn: bigint) => void,
): Promise<PageResetsScan> {
  const reader = openLogFile(logPath);
  try {
    const scanner = reader.scanner(startLsn, pageSize, { reuseBuffer: true, resetsOnly: true });
    const resets: redo.PageResets = new Map();
    let reported = startLsn;
    for (;;) {
      for (let i = 0; i < MTRS_PER_SLICE; i++) {
        const m = scanner.next();
        if (m === undefined) return { resets, endLsn: scanner.end.endLsn };
        if (untilLsn !== undefined && m.endLsn > untilLsn) return { resets, endLsn: m.startLsn };
        redo.addPageResets(resets, m);
        if (onProgress && m.endLsn - reported >= PROGRESS_BYTES) {
          reported = m.endLsn;
          onProgress(m.endLsn);
        }
      }
      await yieldToEventLoop();
    }
  } finally {
    reader.close();
  }
}
