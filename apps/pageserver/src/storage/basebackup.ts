/**
 * Materialize a timeline at an LSN as a datadir stock mariadbd boots on:
 * every tablespace as of the LSN, the aux files, and a fresh ib_logfile0
 * whose checkpoint is the LSN.
 */
import { closeSync, cpSync, ftruncateSync, mkdirSync, openSync, readdirSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { redo } from '@strata/core';
import { writeFreshLog } from '@strata/datadir';
import type { Timeline } from './timeline.js';

export interface BasebackupProgress {
  readonly tablespace: string;
  readonly pagesDone: number;
}

export interface BasebackupResult {
  readonly lsn: bigint;
  readonly tablespaces: number;
  readonly pages: number;
  readonly bytes: number;
}

/** Pages rebuilt per vectored read. */
const PAGES_PER_READ = 64;

export function writeBasebackup(tl: Timeline, lsn: bigint, outDir: string, onProgress?: (p: BasebackupProgress) => void): BasebackupResult {
  if (readdirSafe(outDir).length > 0) throw new Error(`output directory ${outDir} is not empty`);
  mkdirSync(outDir, { recursive: true });
  const aux = tl.auxDirAt(lsn);
  if (aux) cpSync(aux, outDir, { recursive: true });
  const pageSize = tl.pageSize;
  let pages = 0;
  let bytes = 0;
  const spaces = tl.tablespacesAt(lsn);
  for (const [spaceId, path] of [...spaces].sort((a, b) => a[0] - b[0])) {
    const page0 = tl.getPageRaw({ spaceId, pageNo: 0 }, lsn);
    const file = join(outDir, path);
    mkdirSync(dirname(file), { recursive: true });
    const fd = openSync(file, 'w');
    try {
      if (!page0) continue; // created but never written as of the LSN: an empty file, as MariaDB has it
      const sizePages = redo.readFspHeader(page0.page).sizePages;
      writeSync(fd, page0.page, 0, pageSize, 0);
      pages++;
      for (let p = 1; p < sizePages; p += PAGES_PER_READ) {
        const n = Math.min(PAGES_PER_READ, sizePages - p);
        const keys = new Array<{ spaceId: number; pageNo: number }>(n);
        for (let k = 0; k < n; k++) keys[k] = { spaceId, pageNo: p + k };
        const results = tl.getPages(keys, lsn);
        for (let k = 0; k < n; k++) {
          const r = results[k];
          if (!r) continue;
          writeSync(fd, r.page, 0, pageSize, (p + k) * pageSize);
          pages++;
        }
        if (Math.floor((p + n) / 4096) > Math.floor(p / 4096)) onProgress?.({ tablespace: path, pagesDone: p + n });
      }
      ftruncateSync(fd, sizePages * pageSize);
      bytes += sizePages * pageSize;
    } finally {
      closeSync(fd);
    }
  }
  writeFreshLog(join(outDir, 'ib_logfile0'), lsn, tl.logFileSize);
  return { lsn, tablespaces: spaces.size, pages, bytes };
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
