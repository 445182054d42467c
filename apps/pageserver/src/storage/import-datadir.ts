/**
 * `tenant import`: store a cleanly shut down MariaDB datadir as a new root
 * timeline: one image layer per tablespace at the log's end LSN, plus the
 * non-InnoDB (aux) files.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { CorruptRedo, redo } from '@strata/core';
import { listTablespaceFiles, openLogFile, readAuxFiles } from '@strata/datadir';
import { encodeLayer, encodePageValue, type LayerDesc, type LayerEntry } from '@strata/core/layers';
import { Timeline, type TimelineOptions } from './timeline.js';
import type { TimelineMeta } from './timeline-meta.js';

export interface ImportResult {
  readonly timeline: Timeline;
  readonly lsn: bigint;
  readonly pages: number;
  readonly tablespaces: number;
  readonly auxFiles: number;
}

/** MariaDB's minimum and default innodb_log_file_size. */
const LOG_FILE_SIZE_FLOOR = 4n << 20n;
const LOG_FILE_SIZE_DEFAULT = 96n << 20n;

/** The LSN a clean datadir ends at: its log holds nothing after the checkpoint but FILE_CHECKPOINT mtrs. */
export function cleanShutdownLsn(logPath: string, pageSize: number): { lsn: bigint; logFileSize: bigint } {
  const reader = openLogFile(logPath);
  try {
    let end = reader.head.checkpoint.endLsn;
    for (const m of reader.mtrs(end, pageSize)) {
      if (m.records.some((r) => r.type !== 'FILE_CHECKPOINT' && r.type !== 'FILE_MODIFY')) {
        throw new CorruptRedo(m.startLsn, 'the datadir was not shut down cleanly (redo after its checkpoint); run mariabackup --prepare or a clean shutdown first');
      }
      end = m.endLsn;
    }
    // mariabackup --prepare leaves a log of just 12304 bytes; computes get MariaDB's default size instead.
    const logFileSize = reader.head.fileSize < LOG_FILE_SIZE_FLOOR ? LOG_FILE_SIZE_DEFAULT : reader.head.fileSize;
    return { lsn: end, logFileSize };
  } finally {
    reader.close();
  }
}

export function importDatadir(
  datadir: string,
  timelineDir: string,
  ids: { tenantId: string; timelineId: string },
  onProgress?: (done: number, total: number) => void,
  options: TimelineOptions = {},
): ImportResult {
  const spaces = listTablespaceFiles(datadir);
  const system = spaces.find((s) => s.spaceId === 0);
  if (!system) throw new CorruptRedo(0n, `${datadir} has no system tablespace (ibdata1)`);
  const pageSize = system.flags.pageSize;
  const { lsn, logFileSize } = cleanShutdownLsn(join(datadir, 'ib_logfile0'), pageSize);
  const meta: TimelineMeta = {
    version: 1,
    ...ids,
    pageSize,
    logFileSize,
    ancestor: null,
    initLsn: lsn,
    diskConsistentLsn: lsn,
    layers: [],
    tablespaces: spaces.map((s) => ({ lsn, kind: 'create' as const, spaceId: s.spaceId, path: s.path })),
    auxSets: [],
    snapshots: [],
    lsnTimes: [],
    gc: null,
  };
  const timeline = Timeline.create(timelineDir, meta, options);
  const total = spaces.reduce((n, s) => n + s.sizeBytes, 0);
  let done = 0;
  let pages = 0;
  for (const s of spaces) {
    const entries: LayerEntry[] = [];
    const fd = openSync(join(datadir, s.path), 'r');
    try {
      const n = Math.floor(fstatSync(fd).size / pageSize);
      for (let p = 0; p < n; p++) {
        const page = new Uint8Array(pageSize);
        readSync(fd, page, 0, pageSize, p * pageSize);
        done += pageSize;
        if (redo.isAllZero(page)) continue;
        entries.push({ key: { spaceId: s.spaceId, pageNo: p }, lsn, value: encodePageValue({ kind: 'image', lsn: redo.pageLsn(page), page }) });
        pages++;
      }
    } finally {
      closeSync(fd);
    }
    if (entries.length === 0) continue;
    const desc: LayerDesc = { kind: 'image', keyStart: { spaceId: s.spaceId, pageNo: 0 }, keyEnd: { spaceId: s.spaceId + 1, pageNo: 0 }, lsnStart: lsn, lsnEnd: lsn + 1n };
    timeline.addLayer(desc, encodeLayer(desc, entries));
    onProgress?.(done, total);
  }
  const auxFiles = timeline.putAuxSet(lsn, readAuxFiles(datadir));
  return { timeline, lsn, pages, tablespaces: spaces.length, auxFiles };
}
