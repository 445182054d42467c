/**
 * Notices changes to the datadir files the redo log does not describe
 * (`.frm`, `.par`, `db.opt`, the Aria/MyISAM system tables under `mysql/`):
 * DDL and grants live there. Polling sizes and mtimes is enough: these files
 * change only on DDL, account changes and server start/stop.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { isAuxPath, isTransientAuxPath, listFiles } from '@strata/datadir';

export type AuxSnapshot = ReadonlyMap<string, string>;

export function auxSnapshot(datadir: string): AuxSnapshot {
  const out = new Map<string, string>();
  for (const rel of listFiles(datadir)) {
    if (!isAuxPath(rel) || isTransientAuxPath(rel)) continue;
    try {
      const st = statSync(join(datadir, rel));
      out.set(rel, `${st.size}:${st.mtimeMs}`);
    } catch {
      // Removed between the listing and the stat: the next poll sees it gone.
    }
  }
  return out;
}

export function sameSnapshot(a: AuxSnapshot, b: AuxSnapshot): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
