/**
 * The FUSE datadir's local directory at a start: the previous start's files
 * moved out of the way (removing a few hundred files takes ~60 ms, which a
 * start need not wait for: they go once mariadbd is up), then the aux files
 * written with several writes in flight (libuv's thread pool) while
 * mariadbd's own start goes on; the filesystem holds its operations back
 * until they are written (gate.ts).
 */
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { AuxFile } from '@strata/core';

/** Writes in flight at once: enough to keep libuv's four threads busy, bounded for sets of thousands of files. */
const WRITES_IN_FLIGHT_MAX = 16;
const ASIDE_MARK = '.old-';

/**
 * An empty `dir` at once: an existing one is renamed beside it, to be removed
 * later by `removeAside` (removing a few hundred files takes ~60 ms).
 */
export function emptyDirNow(dir: string, mode = 0o700): void {
  if (existsSync(dir)) renameSync(dir, join(dirname(dir), `${basename(dir)}${ASIDE_MARK}${process.pid}-${Date.now()}`));
  mkdirSync(dir, { recursive: true, mode });
}

/**
 * Removes what `emptyDirNow` moved aside from `dir`, with any such leftovers
 * of earlier starts (a controller killed before it removed them). A failure
 * only leaves disk space behind, so the promise never rejects.
 */
export async function removeAside(dir: string): Promise<void> {
  const parent = dirname(dir);
  const aside = `${basename(dir)}${ASIDE_MARK}`;
  let names: string[] = [];
  try {
    names = readdirSync(parent).filter((n) => n.startsWith(aside));
  } catch {
    // no parent listing: nothing to remove
  }
  await Promise.all(names.map((n) => rm(join(parent, n), { recursive: true, force: true }).catch(() => {})));
}

/** Writes `files` (datadir-relative paths, checked by the aux-set decoder) under `dir`, mode 0640. */
export async function writeAuxFiles(dir: string, files: readonly AuxFile[]): Promise<void> {
  const dirs = [...new Set(files.map((f) => dirname(f.path)).filter((d) => d !== '.'))].sort();
  // A handful of directories (mysql, sys, one per database): one at a time is quick enough.
  for (const d of dirs) await mkdir(join(dir, d), { recursive: true });
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < files.length; i = next++) {
      const f = files[i]!;
      await writeFile(join(dir, f.path), f.data, { mode: 0o640 });
    }
  };
  await Promise.all(Array.from({ length: Math.min(WRITES_IN_FLIGHT_MAX, files.length) }, worker));
}
