/**
 * Writes one layer file without holding it in memory or blocking the event
 * loop: values are gathered into chunks and written with async I/O, only the
 * 32-byte index entries stay in memory, then index, header, fsync and an
 * atomic rename. Flushes of the open layer, merges and image creation all
 * write through here, so GetPage and ingest keep running while they do.
 */
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { assert } from '@strata/core';
import { LAYER_HEADER_BYTES, type LayerDesc, LayerIndexBuilder, type PageKey } from '@strata/core/layers';

/** Values are written in chunks of about this size: each write waits a turn of an event loop that ingest keeps busy. */
const CHUNK_BYTES = 4 << 20;

let tmpSeq = 0;

export class LayerWriter {
  private readonly builder: LayerIndexBuilder;
  private chunk = new Uint8Array(CHUNK_BYTES);
  private chunkUsed = 0;
  /** File offset of the chunk's first byte. */
  private chunkAt = LAYER_HEADER_BYTES;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly tmpPath: string,
    private readonly fh: FileHandle,
    desc: LayerDesc,
  ) {
    this.builder = new LayerIndexBuilder(desc);
  }

  /** Start writing the layer that will be `path` (nothing is there until `finish`). */
  static async create(path: string, desc: LayerDesc): Promise<LayerWriter> {
    const tmp = `${path}.${process.pid}-${++tmpSeq}.tmp`;
    return new LayerWriter(path, tmp, await open(tmp, 'w'), desc);
  }

  get entryCount(): number {
    return this.builder.entryCount;
  }

  /** Bytes of values so far. */
  get valueBytes(): number {
    return this.builder.nextValueOffset - LAYER_HEADER_BYTES;
  }

  /** Add the next entry, in (key, LSN) order. Awaits only when a chunk is full. */
  async add(key: PageKey, lsn: bigint, value: Uint8Array): Promise<void> {
    assert(!this.closed, 'layer writer used after finish');
    this.builder.add(key, lsn, value);
    if (this.chunkUsed + value.length > this.chunk.length) {
      await this.writeChunk();
      if (value.length > this.chunk.length) {
        // Bigger than a chunk (a large page image run): straight to the file.
        await this.fh.write(value, 0, value.length, this.chunkAt);
        this.chunkAt += value.length;
        return;
      }
    }
    this.chunk.set(value, this.chunkUsed);
    this.chunkUsed += value.length;
  }

  private async writeChunk(): Promise<void> {
    if (this.chunkUsed === 0) return;
    const used = this.chunkUsed;
    // The chunk is handed to the kernel; the next entries go into a fresh one.
    const full = this.chunk;
    this.chunk = new Uint8Array(CHUNK_BYTES);
    this.chunkUsed = 0;
    await this.fh.write(full, 0, used, this.chunkAt);
    this.chunkAt += used;
  }

  /** Write index and header, fsync, and move the file into place. Returns its size. */
  async finish(): Promise<number> {
    await this.writeChunk();
    assert(this.chunkAt === this.builder.nextValueOffset, 'layer writer lost track of its offset');
    const { index, header, fileBytes } = this.builder.finish();
    await this.fh.write(index, 0, index.length, this.chunkAt);
    await this.fh.write(header, 0, header.length, 0);
    await this.fh.sync();
    await this.fh.close();
    this.closed = true;
    await rename(this.tmpPath, this.path);
    // The rename is durable once the directory is.
    const dir = await open(dirname(this.path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    return fileBytes;
  }

  /** Give up: nothing is left behind. */
  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.fh.close().catch(() => undefined);
    }
    await rm(this.tmpPath, { force: true });
  }
}
