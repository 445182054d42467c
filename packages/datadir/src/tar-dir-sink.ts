/**
 * Unpacking a basebackup tar into a directory, shared by every client (CLI,
 * compute) so they all write the same sparse files.
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TarEntry } from './tar.js';

/**
 * Writes tar entries into a directory. All-zero stretches are skipped (seek
 * and truncate), so the mostly empty fresh ib_logfile0 and unused extents
 * become sparse files instead of gigabytes of zeros.
 */
export class TarDirSink {
  private fd = -1;
  files = 0;
  constructor(private readonly root: string) {}
  entry(e: TarEntry): void {
    const path = join(this.root, e.path);
    if (e.type === 'dir') {
      mkdirSync(path, { recursive: true });
      return;
    }
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'w', e.mode & 0o777 ? e.mode & 0o777 : 0o640);
    this.files++;
  }
  data(bytes: Uint8Array, offset: number): void {
    if (isZero(bytes)) return;
    writeSync(this.fd, bytes, 0, bytes.length, offset);
  }
  end(e: TarEntry): void {
    if (e.type === 'dir' || this.fd < 0) return;
    ftruncateSync(this.fd, e.size);
    closeSync(this.fd);
    this.fd = -1;
  }
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

function isZero(b: Uint8Array): boolean {
  // Word-wise when aligned: this runs over every byte of the basebackup.
  if (b.byteOffset % 4 === 0 && b.length % 4 === 0) {
    const w = new Uint32Array(b.buffer, b.byteOffset, b.length / 4);
    for (let i = 0; i < w.length; i++) if (w[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}
