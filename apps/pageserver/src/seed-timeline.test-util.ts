/**
 * A synthetic root timeline for page server tests that need no MariaDB:
 * tablespace 5 (`db/t.ibd`, 4 pages of 16 KiB) stored as one image layer at
 * LSN 100000, with page 2 never written. Not part of the page server.
 */
import { join } from 'node:path';
import { encodeLayer, encodePageValue, type LayerDesc, type LayerEntry } from '@strata/core/layers';
import { Timeline, type NewTimelineMeta } from './storage/index.js';

export const TENANT = '0123456789abcdef0123456789abcdef';
export const OTHER = 'fedcba9876543210fedcba9876543210';
export const ROOT = '00000000000000000000000000000001';
export const PAGE = 16384;
export const SPACE = 5;
export const PAGES = 4;
export const LSN = 100_000n;

/** A page the engine serves as stored: page 0 carries the FSP header (size, flags 0 = crc32, 16 KiB). */
export function page(no: number): Uint8Array {
  const p = new Uint8Array(PAGE).fill(no + 1, 100, PAGE - 8);
  const v = new DataView(p.buffer);
  v.setUint32(4, no);
  v.setUint32(34, SPACE);
  if (no === 0) {
    v.setUint32(38 + 8, PAGES);
    v.setUint32(38 + 16, 0);
  }
  return p;
}

export function seedTimeline(dataDir: string): void {
  const meta: NewTimelineMeta = {
    version: 1,
    tenantId: TENANT,
    timelineId: ROOT,
    pageSize: PAGE,
    logFileSize: 4n << 20n,
    ancestor: null,
    initLsn: LSN,
    diskConsistentLsn: LSN,
    layers: [],
    tablespaces: [{ lsn: LSN, kind: 'create', spaceId: SPACE, path: 'db/t.ibd' }],
    auxSets: [],
  };
  const tl = Timeline.create(join(dataDir, 'tenants', TENANT, 'timelines', ROOT), meta);
  // Page 2 is never written: it must come back as NOT_FOUND, and as zeros in a basebackup.
  const entries: LayerEntry[] = [0, 1, 3].map((no) => ({ key: { spaceId: SPACE, pageNo: no }, lsn: LSN, value: encodePageValue({ kind: 'image', lsn: 5000n + BigInt(no), page: page(no) }) }));
  const desc: LayerDesc = { kind: 'image', keyStart: { spaceId: SPACE, pageNo: 0 }, keyEnd: { spaceId: SPACE + 1, pageNo: 0 }, lsnStart: LSN, lsnEnd: LSN + 1n };
  tl.addLayer(desc, encodeLayer(desc, entries));
  tl.close();
}
