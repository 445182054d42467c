/** Reading a datadir's aux files (what the redo log does not describe) into an aux set. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuxFile } from '@strata/core';
import { isAuxPath, listFiles } from './tablespace-files.js';

/** Files of an ALTER in progress (`#sql-...`): the DDL's end brings the real ones. */
export function isTransientAuxPath(rel: string): boolean {
  const name = rel.split('/').pop() ?? rel;
  return name.startsWith('#sql');
}

/** Every aux file of `datadir` with its bytes now (a file removed meanwhile is left out). */
export function readAuxFiles(datadir: string): AuxFile[] {
  const out: AuxFile[] = [];
  for (const rel of listFiles(datadir)) {
    if (!isAuxPath(rel) || isTransientAuxPath(rel)) continue;
    try {
      out.push({ path: rel, data: readFileSync(join(datadir, rel)) });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  return out;
}
