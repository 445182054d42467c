/**
 * A layer file on local disk, opened once: header and index stay in memory,
 * values are read with positioned reads and checked against their CRC.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CorruptFrame } from '@strata/core';
import { decodePageValue, LAYER_HEADER_BYTES, type LayerDesc, LayerIndex, type PageKey, type PageValue, parseLayerHeader, verifyValue } from '@strata/core/layers';

/** The most one read takes in: a page's history in one layer is rarely more. */
const RUN_BYTES_MAX = 4 << 20;

export class LayerReader {
  private constructor(
    readonly path: string,
    readonly desc: LayerDesc,
    readonly index: LayerIndex,
    /** For positioned reads by the read path; -1 once closed. */
    public fd: number,
    readonly sizeBytes: number,
  ) {}

  static open(path: string): LayerReader {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const head = new Uint8Array(LAYER_HEADER_BYTES);
      readSync(fd, head, 0, head.length, 0);
      const h = parseLayerHeader(head, path);
      if (h.indexOffset + h.indexLength !== size) throw new CorruptFrame(`${path}: file is ${size} bytes, the header says ${h.indexOffset + h.indexLength}`);
      const idx = new Uint8Array(h.indexLength);
      readSync(fd, idx, 0, idx.length, h.indexOffset);
      return new LayerReader(path, h.desc, new LayerIndex(idx, h, path), fd, size);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /**
   * Values of `key` stored with LSN in [from, to), ascending. A key's values
   * lie next to each other in the file (sorted by key, then LSN), so each run
   * of adjacent values is one read: a page rebuilt from a delta layer has
   * dozens of values, and a read per value made basebackups syscall-bound.
   */
  read(key: PageKey, from: bigint, to: bigint): PageValue[] {
    const hits = this.index.find(key, from, to);
    const values: PageValue[] = [];
    for (let i = 0; i < hits.length; ) {
      let end = i + 1;
      let bytes = hits[i]!.length;
      while (end < hits.length && hits[end]!.offset === hits[end - 1]!.offset + hits[end - 1]!.length && bytes + hits[end]!.length <= RUN_BYTES_MAX) {
        bytes += hits[end]!.length;
        end++;
      }
      const start = hits[i]!.offset;
      const run = new Uint8Array(bytes);
      const got = readSync(this.fd, run, 0, bytes, start);
      if (got !== bytes) throw new CorruptFrame(`${this.path}: short read of ${got} of ${bytes} bytes at offset ${start}`);
      for (; i < end; i++) {
        const hit = hits[i]!;
        const at = hit.offset - start;
        values.push(decodePageValue(verifyValue(run.subarray(at, at + hit.length), hit, this.path), key));
      }
    }
    return values;
  }

  /**
   * Every entry in file order, values checked against their CRC and read in
   * blocks of about `blockBytes` (compaction copies layers this way). Values
   * are views into a block: copy one to keep it past the next block.
   */
  *entries(blockBytes = 1 << 20): Generator<{ key: PageKey; lsn: bigint; value: Uint8Array }> {
    const idx = this.index;
    for (let i = 0; i < idx.count; ) {
      const first = idx.hitAt(i);
      let end = first.offset + first.length;
      let j = i + 1;
      while (j < idx.count) {
        const h = idx.hitAt(j);
        if (h.offset + h.length - first.offset > blockBytes) break;
        end = h.offset + h.length;
        j++;
      }
      const block = new Uint8Array(end - first.offset);
      const got = readSync(this.fd, block, 0, block.length, first.offset);
      if (got !== block.length) throw new CorruptFrame(`${this.path}: short read of ${got} of ${block.length} bytes at offset ${first.offset}`);
      for (; i < j; i++) {
        const h = idx.hitAt(i);
        const at = h.offset - first.offset;
        yield { key: idx.keyAt(i), lsn: h.lsn, value: verifyValue(block.subarray(at, at + h.length), h, this.path) };
      }
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
