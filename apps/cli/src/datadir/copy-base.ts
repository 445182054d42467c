/**
 * The first step of `strata redo apply`: the base datadir's tablespaces and
 * aux files (or the aux files of `--aux-from`) copied into the work
 * directory, the redo log excepted (a fresh one is written at the end).
 */
import { mkdirSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isAuxPath, isTablespacePath, listFiles } from '@strata/datadir';

/** Files copied at once. */
const COPY_CONCURRENCY = 4;

/** Copies the base's tablespaces and aux files (or the aux files of `auxFrom`) into the output directory. */
export async function copyBase(baseDir: string, outDir: string, auxFrom: string | undefined): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const copies: { from: string; rel: string }[] = [];
  for (const rel of listFiles(baseDir)) {
    const name = rel.split('/').pop() ?? rel;
    if (/^ib_logfile\d+$/.test(name)) continue;
    if (auxFrom && isAuxPath(rel)) continue;
    if (!isTablespacePath(rel) && !isAuxPath(rel)) continue;
    copies.push({ from: baseDir, rel });
  }
  if (auxFrom) {
    for (const rel of listFiles(auxFrom)) if (isAuxPath(rel)) copies.push({ from: auxFrom, rel });
  }
  for (const dir of new Set(copies.map((c) => dirname(join(outDir, c.rel))))) mkdirSync(dir, { recursive: true });
  // Several copies at once on libuv's threads: a copy is mostly kernel time, and one at a time leaves the other core idle.
  // After a failure no new copy starts, and every running one is waited for: the caller then removes the directory.
  let next = 0;
  let failed = false;
  const copyNext = async (): Promise<void> => {
    while (next < copies.length && !failed) {
      const c = copies[next++]!;
      try {
        await copyFile(join(c.from, c.rel), join(outDir, c.rel));
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: COPY_CONCURRENCY }, copyNext));
  for (const r of settled) if (r.status === 'rejected') throw r.reason;
}
