/**
 * The durable end of a timeline's WAL, recorded with one small in-place
 * write and one fdatasync per append instead of an atomic control-file
 * rewrite (temp + fsync + rename + directory fsync). Two 16-byte slots are
 * written alternately, each with its own CRC-32C, so a torn write of one
 * slot leaves the other (the previous durable end) valid.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { readU32, readU64, redo, writeU32, writeU64 } from '@strata/core';

const SLOT_BYTES = 16;

export class FlushMarker {
  private sequence = 0;
  private constructor(private readonly fd: FileHandle) {}

  static async open(path: string): Promise<{ marker: FlushMarker; lsn: bigint | undefined }> {
    const fd = await open(path, 'a+').then(async (h) => {
      await h.close();
      return open(path, 'r+');
    });
    const buf = new Uint8Array(SLOT_BYTES * 2);
    await fd.read(buf, 0, buf.length, 0);
    let best: { lsn: bigint; seq: number } | undefined;
    for (let slot = 0; slot < 2; slot++) {
      const off = slot * SLOT_BYTES;
      if (redo.crc32c(buf, off, off + 12) !== readU32(buf, off + 12)) continue;
      const lsn = readU64(buf, off);
      const seq = readU32(buf, off + 8);
      if (!best || seq > best.seq) best = { lsn, seq };
    }
    const marker = new FlushMarker(fd);
    marker.sequence = best?.seq ?? 0;
    return { marker, lsn: best?.lsn };
  }

  /** Durably record `lsn` as the end of fsynced WAL. */
  async write(lsn: bigint): Promise<void> {
    this.sequence = (this.sequence + 1) >>> 0;
    const slot = this.sequence % 2;
    const buf = new Uint8Array(SLOT_BYTES);
    writeU64(buf, 0, lsn);
    writeU32(buf, 8, this.sequence);
    writeU32(buf, 12, redo.crc32c(buf, 0, 12));
    await this.fd.write(buf, 0, SLOT_BYTES, slot * SLOT_BYTES);
    await this.fd.datasync();
  }

  close(): Promise<void> {
    return this.fd.close();
  }
}
