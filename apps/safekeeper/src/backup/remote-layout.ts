/**
 * Where a timeline's WAL backup lives in remote storage, and its index.
 *
 *   tenants/<t>/timelines/<tl>/wal/<16 hex digits of the start LSN>.zst
 *       one whole segment, one zstd frame (content size + checksum)
 *   tenants/<t>/timelines/<tl>/wal/index.json
 *       { backupLsn, timelineStartLsn, segmentBytes, ... }
 *
 * Only full segments are uploaded, so a segment's end follows from its start
 * and the segment size in the index (the first segment of a timeline starts
 * at the timeline start, which need not be aligned). The index is written
 * after the segment it covers, so it never claims an object that is not
 * there; a crash in between only costs a re-upload of the same bytes.
 * Safekeepers that do not upload read `backupLsn` from the index to learn
 * which of their local WAL is safe to remove.
 */
import { hexId, lsnString } from '@strata/core/json';
import { z } from 'zod';
import type { RemoteStorage } from '@strata/remote-storage';
import { zstdDecompress } from '@strata/zstd';
import { WalCorrupt } from '../errors.js';

export const BACKUP_FORMAT_VERSION = 1;
const SEGMENT_KEY = /^([0-9a-f]{16})\.zst$/;
/** The index is tiny; anything bigger is not ours. */
const INDEX_BYTES_MAX = 64 * 1024;

export function walPrefix(tenantId: string, timelineId: string): string {
  return `tenants/${tenantId}/timelines/${timelineId}/wal/`;
}

export function segmentKey(tenantId: string, timelineId: string, startLsn: bigint): string {
  return `${walPrefix(tenantId, timelineId)}${startLsn.toString(16).padStart(16, '0')}.zst`;
}

export function indexKey(tenantId: string, timelineId: string): string {
  return `${walPrefix(tenantId, timelineId)}index.json`;
}

const decimal = lsnString;

const indexSchema = z
  .object({
    formatVersion: z.literal(BACKUP_FORMAT_VERSION),
    tenantId: hexId,
    timelineId: hexId,
    timelineStartLsn: decimal,
    /** Segment size of the uploader; segment ends follow from it. */
    segmentBytes: z
      .number()
      .int()
      .min(16)
      .max(2 ** 30)
      .refine((n) => (n & (n - 1)) === 0, 'must be a power of two'),
    /** Every byte of WAL in [timelineStartLsn, backupLsn) is in a segment object. */
    backupLsn: decimal,
    uploadedBy: z.number().int().min(1),
    updatedAt: z.iso.datetime(),
  })
  .strict()
  .refine((i) => i.backupLsn >= i.timelineStartLsn, 'backupLsn below timelineStartLsn');

export type BackupIndex = z.output<typeof indexSchema>;

export class BackupIndexCorrupt extends WalCorrupt {
  constructor(key: string, reason: string) {
    super(key, `backup index: ${reason}`);
    this.name = 'BackupIndexCorrupt';
  }
}

export async function readIndex(storage: RemoteStorage, tenantId: string, timelineId: string): Promise<BackupIndex | undefined> {
  const key = indexKey(tenantId, timelineId);
  const bytes = await storage.get(key);
  if (bytes === undefined) return undefined;
  if (bytes.length > INDEX_BYTES_MAX) throw new BackupIndexCorrupt(key, `${bytes.length} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new BackupIndexCorrupt(key, `not JSON: ${(e as Error).message}`);
  }
  const r = indexSchema.safeParse(json);
  if (!r.success) throw new BackupIndexCorrupt(key, r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  if (r.data.tenantId !== tenantId || r.data.timelineId !== timelineId) throw new BackupIndexCorrupt(key, 'names another timeline');
  return r.data;
}

export async function writeIndex(storage: RemoteStorage, index: BackupIndex): Promise<void> {
  const text = JSON.stringify(index, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n';
  await storage.put(indexKey(index.tenantId, index.timelineId), new TextEncoder().encode(text));
}

/** End of the full segment starting at `startLsn`: the next multiple of the segment size. */
export function segmentEnd(startLsn: bigint, segmentBytes: number): bigint {
  const size = BigInt(segmentBytes);
  return (startLsn / size + 1n) * size;
}

/** Start LSNs of the segment objects in remote storage, ascending. */
export async function listBackedUpSegments(storage: RemoteStorage, tenantId: string, timelineId: string): Promise<bigint[]> {
  const prefix = walPrefix(tenantId, timelineId);
  const starts: bigint[] = [];
  for (const key of await storage.list(prefix)) {
    const m = SEGMENT_KEY.exec(key.slice(prefix.length));
    if (m) starts.push(BigInt(`0x${m[1]}`));
  }
  return starts.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Downloads and checks one backed-up segment: it must decompress (zstd
 * checks its own checksum) to exactly the bytes `[startLsn, segmentEnd)`.
 */
export async function downloadSegment(storage: RemoteStorage, index: BackupIndex, startLsn: bigint): Promise<Uint8Array> {
  const key = segmentKey(index.tenantId, index.timelineId, startLsn);
  const compressed = await storage.get(key);
  if (compressed === undefined) throw new WalCorrupt(key, 'backed-up segment is missing from remote storage');
  const expected = Number(segmentEnd(startLsn, index.segmentBytes) - startLsn);
  let bytes: Uint8Array;
  try {
    bytes = zstdDecompress(compressed, expected);
  } catch (e) {
    throw new WalCorrupt(key, `backed-up segment does not decompress: ${(e as Error).message}`);
  }
  if (bytes.length !== expected) throw new WalCorrupt(key, `backed-up segment holds ${bytes.length} bytes, expected ${expected}`);
  return bytes;
}
