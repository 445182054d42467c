/**
 * A basebackup as a tar stream: the same datadir `writeBasebackup` writes
 * (aux files as of the LSN, every tablespace materialized at the LSN, a fresh
 * ib_logfile0 whose checkpoint is the LSN), produced chunk by chunk as the
 * reader pulls, so a large datadir never sits in memory. The total size is
 * known up front (from each tablespace's page 0) for progress reporting.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { redo } from '@strata/core';
import { listFiles, TAR_BLOCK, TAR_END_BYTES, tarHeader, tarPadding } from '@strata/datadir';
import type { Timeline } from '../storage/index.js';

type Item =
  | { readonly kind: 'aux'; readonly path: string; readonly source: string; readonly size: number }
  | { readonly kind: 'tablespace'; readonly path: string; readonly spaceId: number; readonly sizePages: number }
  | { readonly kind: 'log'; readonly path: string; readonly size: number };

export interface BasebackupPlan {
  readonly lsn: bigint;
  readonly items: readonly Item[];
  /** Bytes of the whole tar stream. */
  readonly tarBytes: number;
  readonly tablespaces: number;
}

/** Pages per chunk handed to the stream: 1 MiB at 16 KiB pages. */
const PAGES_PER_CHUNK = 64;
const ZERO_CHUNK_BYTES = 1 << 20;
const MTIME_SEC = 0;

function itemSize(i: Item, pageSize: number): number {
  return i.kind === 'tablespace' ? i.sizePages * pageSize : i.size;
}

export function planBasebackup(tl: Timeline, lsn: bigint): BasebackupPlan {
  const items: Item[] = [];
  const aux = tl.auxDirAt(lsn);
  if (aux) for (const rel of listFiles(aux)) items.push({ kind: 'aux', path: rel, source: join(aux, rel), size: statSync(join(aux, rel)).size });
  const spaces = [...tl.tablespacesAt(lsn)].sort((a, b) => a[0] - b[0]);
  for (const [spaceId, path] of spaces) {
    const page0 = tl.getPageRaw({ spaceId, pageNo: 0 }, lsn);
    // Created but never written as of the LSN: an empty file, as MariaDB has it.
    items.push({ kind: 'tablespace', path, spaceId, sizePages: page0 ? redo.readFspHeader(page0.page).sizePages : 0 });
  }
  items.push({ kind: 'log', path: 'ib_logfile0', size: Number(tl.logFileSize) });
  let tarBytes = TAR_END_BYTES;
  for (const i of items) {
    const size = itemSize(i, tl.pageSize);
    tarBytes += TAR_BLOCK + size + tarPadding(size);
  }
  return { lsn, items, tarBytes, tablespaces: spaces.length };
}

/** The tar bytes, in chunks of about 1 MiB. Pages are rebuilt as the consumer asks for them. */
export function* basebackupChunks(tl: Timeline, plan: BasebackupPlan): Generator<Uint8Array> {
  const pageSize = tl.pageSize;
  const zeros = new Uint8Array(ZERO_CHUNK_BYTES);
  for (const item of plan.items) {
    const size = itemSize(item, pageSize);
    yield tarHeader({ path: item.path, size, type: 'file', mode: 0o640, mtimeSec: MTIME_SEC });
    if (item.kind === 'aux') {
      const bytes = readFileSync(item.source);
      // The aux set is immutable once stored; a size change means someone edited it under us.
      if (bytes.length !== item.size) throw new Error(`aux file ${item.source} changed size during a basebackup`);
      yield bytes;
    } else if (item.kind === 'tablespace') {
      for (let p = 0; p < item.sizePages; p += PAGES_PER_CHUNK) {
        const n = Math.min(PAGES_PER_CHUNK, item.sizePages - p);
        const chunk = new Uint8Array(n * pageSize);
        const keys = new Array<{ spaceId: number; pageNo: number }>(n);
        for (let k = 0; k < n; k++) keys[k] = { spaceId: item.spaceId, pageNo: p + k };
        // One vectored read: each layer is visited once for the whole chunk.
        const pages = tl.getPages(keys, plan.lsn);
        for (let k = 0; k < n; k++) {
          const r = pages[k];
          if (r) chunk.set(r.page, k * pageSize);
        }
        yield chunk;
      }
    } else {
      const head = redo.buildFreshLogHead({ lsn: plan.lsn, fileSize: tl.logFileSize });
      yield head;
      for (let done = head.length; done < size; done += ZERO_CHUNK_BYTES) yield zeros.subarray(0, Math.min(ZERO_CHUNK_BYTES, size - done));
    }
    const pad = tarPadding(size);
    if (pad > 0) yield zeros.subarray(0, pad);
  }
  yield zeros.subarray(0, TAR_END_BYTES);
}
