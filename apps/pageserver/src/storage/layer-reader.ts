/**
 * A layer file on local disk, opened once: header and index stay in memory,
 * values are read with positioned reads and checked against their CRC.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CorruptFrame } from '@strata/core';
import { decodePageValue, LAYER_HEADER_BYTES, type LayerDesc, LayerIndex, type PageKey, type PageValue, parseLayerHeader, verifyValue } from '@strata/core/layers';

export class LayerReader {
  private constructor(
    readonly path: string,
    readonly desc: LayerDesc,
    readonly index: LayerIndex,
    private fd: number,
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

  /** Values of `key` stored with LSN in [from, to), ascending. */
  read(key: PageKey, from: bigint, to: bigint): PageValue[] {
    const hits = this.index.find(key, from, to);
    return hits.map((hit) => {
      const buf = new Uint8Array(hit.length);
      readSync(this.fd, buf, 0, hit.length, hit.offset);
      return decodePageValue(verifyValue(buf, hit, this.path), key);
    });
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
