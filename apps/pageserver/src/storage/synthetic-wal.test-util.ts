/**
 * Synthetic mtrs over the seeded timeline (seed-timeline.test-util.ts) for
 * storage tests that need no MariaDB, and the straight replay to check
 * reconstructed pages against. Not part of the page server.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redo } from '@strata/core';
import { LSN, page, ROOT, seedTimeline, SPACE, TENANT } from '../seed-timeline.test-util.js';

/** Bytes of LSN each synthetic mtr takes. */
export const MTR_LSN_BYTES = 20n;

/** The i-th mtr after the seed's LSN: one 8-byte WRITE to `pageNo` of the seeded space, its bytes saying `i`. */
export function writeMtr(i: number, pageNo: number, spaceId = SPACE): redo.Mtr {
  const startLsn = LSN + BigInt(i) * MTR_LSN_BYTES;
  const data = new Uint8Array(8);
  new DataView(data.buffer).setUint32(0, i);
  new DataView(data.buffer).setUint32(4, pageNo);
  const rec: redo.PageRecord = { type: 'WRITE', spaceId, pageNo, offset: 200 + (i % 1000) * 8, data };
  return { startLsn, endLsn: startLsn + MTR_LSN_BYTES, records: [rec], bytes: new Uint8Array(0) };
}

/** The i-th mtr as a tablespace event (no page records). */
export function fileMtr(i: number, type: 'FILE_CREATE' | 'FILE_DELETE', spaceId: number, path: string): redo.Mtr {
  const startLsn = LSN + BigInt(i) * MTR_LSN_BYTES;
  return { startLsn, endLsn: startLsn + MTR_LSN_BYTES, records: [{ type, spaceId, path }], bytes: new Uint8Array(0) };
}

/** The page as a straight replay of the first `upTo` of `mtrs` over the seeded image gives it. */
export function straightReplay(pageNo: number, mtrs: readonly redo.Mtr[], upTo: number): Uint8Array {
  const p = new Uint8Array(page(pageNo));
  const changes: redo.PageChange[] = [];
  for (let i = 0; i < upTo; i++) {
    const m = mtrs[i]!;
    const records = m.records.filter((r): r is redo.PageRecord => redo.isPageRecord(r) && r.pageNo === pageNo);
    if (records.length) changes.push({ startLsn: m.startLsn, endLsn: m.endLsn, records });
  }
  redo.replayPage(p, changes, 'crc32');
  return p;
}

/** A temp data dir with the seeded root timeline; returns both paths. */
export function seededDir(prefix: string): { dataDir: string; timelineDir: string } {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  seedTimeline(dataDir);
  return { dataDir, timelineDir: join(dataDir, 'tenants', TENANT, 'timelines', ROOT) };
}

/** Let the event loop turn `n` times (background writes advance a step per turn or so). */
export async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}
