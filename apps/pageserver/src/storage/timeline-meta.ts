/**
 * A timeline's index file (`index.json`): the source of truth for which
 * layer files make up the timeline and how far they reach. Written
 * atomically after every new layer, so a restart reloads the layer map
 * without reading any layer's contents.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hexId, lsnString as lsn } from '@strata/core/json';
import { z } from 'zod';

export const tablespaceEventSchema = z.object({
  lsn,
  kind: z.enum(['create', 'rename', 'delete']),
  spaceId: z.number().int().nonnegative(),
  path: z.string().min(1),
});

export const snapshotSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/),
  lsn,
  createdAtMs: z.number().int().nonnegative(),
});

export const lsnTimePointSchema = z.object({ lsn, timeMs: z.number().int().nonnegative() });

/** What the last GC left readable below the newest records: every LSN ≥ horizon, and the retained points below it. */
export const gcStateSchema = z.object({ horizon: lsn, retained: z.array(lsn) });

export const timelineMetaSchema = z.object({
  version: z.literal(1),
  tenantId: hexId,
  timelineId: hexId,
  pageSize: z.number().int().positive(),
  logFileSize: lsn,
  ancestor: z.object({ timelineId: hexId, lsn }).nullable(),
  /** The timeline's first LSN: the import's LSN or the branch point. */
  initLsn: lsn,
  /** Every change below this is in a layer file listed here. */
  diskConsistentLsn: lsn,
  layers: z.array(z.string()),
  tablespaces: z.array(tablespaceEventSchema),
  /** LSNs at which a full set of aux files was stored (`aux/<lsn>/`). */
  auxSets: z.array(lsn),
  // Added after the first indexes were written: the defaults let those load.
  /** Named, GC-protected LSNs of this timeline. */
  snapshots: z.array(snapshotSchema).default([]),
  /** The LSN ↔ time map (see @strata/core/layers lsn-time.ts), sorted by LSN. */
  lsnTimes: z.array(lsnTimePointSchema).default([]),
  /** null until the first GC removed anything. */
  gc: gcStateSchema.nullable().default(null),
});

export type TimelineMeta = z.output<typeof timelineMetaSchema>;
export type TablespaceEvent = z.output<typeof tablespaceEventSchema>;
export type Snapshot = z.output<typeof snapshotSchema>;
export type GcState = z.output<typeof gcStateSchema>;

export const META_FILE = 'index.json';

export function encodeMeta(m: TimelineMeta): string {
  return JSON.stringify(m, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n';
}

export function readMeta(dir: string): TimelineMeta {
  const text = readFileSync(join(dir, META_FILE), 'utf8');
  return timelineMetaSchema.parse(JSON.parse(text));
}

/** Write a file atomically: temp + fsync + rename + fsync of the directory. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dfd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

export function writeMeta(dir: string, m: TimelineMeta): void {
  writeFileAtomic(join(dir, META_FILE), encodeMeta(m));
}
