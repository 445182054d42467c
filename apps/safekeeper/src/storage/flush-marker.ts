/**
 * The flush marker of older versions, read only when a timeline is upgraded.
 * Those versions recorded the durable end of the WAL after every append
 * with a second fdatasync, in two alternating 16-byte slots
 * `(lsn u64, sequence u32, crc32c u32)`, so that a torn write of one slot
 * left the other valid. Now the WAL's own checksummed mtrs give the end
 * (wal-store.ts). `Timeline.load` takes a marker's end as a lower bound,
 * writes it into the control file, and only then removes the marker.
 */
import { readFile, unlink } from 'node:fs/promises';
import { readU32, readU64, redo } from '@strata/core';
import { isNotFound } from './fs-util.js';

export const LEGACY_FLUSH_MARKER_NAME = 'wal-flushed';
const SLOT_BYTES = 16;

export interface LegacyFlushMarker {
  /** The durable end it records; undefined when neither slot is intact (nothing was appended yet). */
  readonly lsn: bigint | undefined;
}

/** Reads a marker file; undefined when there is none (a timeline of this version). */
export async function readLegacyFlushMarker(path: string): Promise<LegacyFlushMarker | undefined> {
  let buf: Uint8Array;
  try {
    buf = await readFile(path);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
  let best: { lsn: bigint; seq: number } | undefined;
  for (let slot = 0; slot < 2; slot++) {
    const off = slot * SLOT_BYTES;
    if (buf.length < off + SLOT_BYTES) continue;
    if (redo.crc32c(buf, off, off + 12) !== readU32(buf, off + 12)) continue;
    const lsn = readU64(buf, off);
    const seq = readU32(buf, off + 8);
    if (!best || seq > best.seq) best = { lsn, seq };
  }
  return { lsn: best?.lsn };
}

export async function removeLegacyFlushMarker(path: string): Promise<void> {
  await unlink(path).catch((e: unknown) => {
    if (!isNotFound(e)) throw e;
  });
}
