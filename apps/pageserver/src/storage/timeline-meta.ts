/**
 * A timeline's index file (`index.json`): the source of truth for which
 * layer files make up the timeline and how far they reach. Written
 * atomically after every new layer, so a restart reloads the layer map
 * without reading any layer's contents.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';

const lsn = z.string().regex(/^\d+$/).transform((s) => BigInt(s));
const hexId = z.string().regex(/^[0-9a-f]{32}$/);

export const tablespaceEventSchema = z.object({
  lsn,
  kind: z.enum(['create', 'rename', 'delete']),
  spaceId: z.number().int().nonnegative(),
  path: z.string().min(1),
});

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
});

export type TimelineMeta = z.output<typeof timelineMetaSchema>;
export type TablespaceEvent = z.output<typeof tablespaceEventSchema>;

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
