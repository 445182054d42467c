/**
 * The per-timeline control file: everything an acceptor must remember across
 * a restart, written atomically (temp file, fsync, rename, fsync directory) so
 * that after a crash it holds the old state or the new one, never a mix.
 *
 * The consensus fields mirror `AcceptorControl` of @strata/core/consensus
 * (nodeId, conf, term, termHistory, timelineStartLsn, commitLsn); the service
 * adds the durable WAL end and the backup/remote-consistent horizons. LSNs
 * and terms are decimal strings in the file, bigints in memory.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { hexId, lsnString } from '@strata/core/json';
import { z } from 'zod';
import { ControlFileCorrupt } from '../errors.js';
import { fsyncDir, isNotFound } from './fs-util.js';

export const CONTROL_FILE_NAME = 'control.json';
const CONTROL_TEMP_NAME = 'control.json.tmp';
export const CONTROL_FORMAT_VERSION = 1;

/** Terms and LSNs: both u64 as decimal text, read by core's one schema for that. */
const u64 = lsnString;
const nodeId = z.number().int().min(1).max(0xffff_ffff);

export const configurationSchema = z
  .object({
    generation: z.number().int().min(0).max(0xffff_ffff),
    members: z.array(nodeId).min(1).max(64),
    newMembers: z.array(nodeId).min(1).max(64).optional(),
  })
  .strict()
  .refine((c) => new Set(c.members).size === c.members.length, 'members must be distinct')
  .refine((c) => !c.newMembers || new Set(c.newMembers).size === c.newMembers.length, 'newMembers must be distinct');

/** The page sizes InnoDB can be created with. */
export const innodbPageSize = z.union([z.literal(4096), z.literal(8192), z.literal(16384), z.literal(32768), z.literal(65536)]);
export const DEFAULT_PAGE_SIZE = 16384;

const termLsnSchema = z.object({ term: u64, lsn: u64 }).strict();

export const controlFileSchema = z
  .object({
    formatVersion: z.literal(CONTROL_FORMAT_VERSION),
    nodeId,
    tenantId: hexId,
    timelineId: hexId,
    conf: configurationSchema,
    term: u64,
    termHistory: z.array(termLsnSchema).max(100_000),
    timelineStartLsn: u64,
    /**
     * A durable end of the WAL when the file was written: a lower bound,
     * since appends do not rewrite this file (see timeline.ts).
     */
    walFlushLsn: u64,
    /**
     * An mtr boundary at or below walFlushLsn from which the WAL was valid
     * redo: recovery scans the tail from here to find the real end. Absent
     * (older files, WAL that is not redo): the end is walFlushLsn.
     */
    walScanLsn: u64.optional(),
    commitLsn: u64,
    /** Everything below is in remote storage (WAL backup). */
    backupLsn: u64,
    /** Everything below is persisted by the page server in remote storage. */
    remoteConsistentLsn: u64,
    /** Everything below is on every member: the minimum of their flush LSNs as last known. */
    peerHorizonLsn: u64,
    createdAt: z.iso.datetime(),
    /**
     * innodb_page_size of the redo's writer: appends are parsed at it, as the
     * page server will (absent in older files: MariaDB's default).
     */
    pageSize: innodbPageSize.optional(),
    /** Reserved for consensus state that does not fit the fields above; validated by its owner. */
    consensus: z.unknown().optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.walFlushLsn < c.timelineStartLsn) ctx.addIssue({ code: 'custom', message: 'walFlushLsn below timelineStartLsn' });
    if (c.commitLsn > c.walFlushLsn) ctx.addIssue({ code: 'custom', message: 'commitLsn beyond walFlushLsn' });
    if (c.commitLsn < c.timelineStartLsn) ctx.addIssue({ code: 'custom', message: 'commitLsn below timelineStartLsn' });
    if (c.walScanLsn !== undefined && (c.walScanLsn < c.timelineStartLsn || c.walScanLsn > c.walFlushLsn)) {
      ctx.addIssue({ code: 'custom', message: 'walScanLsn outside [timelineStartLsn, walFlushLsn]' });
    }
    for (let i = 1; i < c.termHistory.length; i++) {
      const [prev, cur] = [c.termHistory[i - 1]!, c.termHistory[i]!];
      if (cur.term <= prev.term || cur.lsn < prev.lsn) {
        ctx.addIssue({ code: 'custom', message: `termHistory not ascending at entry ${i}` });
      }
    }
  });

export type TimelineControl = z.output<typeof controlFileSchema>;

/** The control state as JSON text, bigints as decimal strings, keys in schema order. */
export function encodeControl(control: TimelineControl): string {
  return (
    JSON.stringify(control, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value), 2) + '\n'
  );
}

export function decodeControl(path: string, text: string): TimelineControl {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ControlFileCorrupt(path, `not JSON: ${(e as Error).message}`);
  }
  const r = controlFileSchema.safeParse(json);
  if (!r.success) {
    throw new ControlFileCorrupt(path, r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  }
  return r.data;
}

export interface WriteControlHooks {
  /** Fault injection for tests: runs after the temp file is durable, before the rename. */
  beforeRename?: () => void;
}

/** Writes the control file of the timeline in `dir` atomically and durably. */
export async function writeControlFile(dir: string, control: TimelineControl, hooks: WriteControlHooks = {}): Promise<void> {
  // Validate what we write exactly as we will validate what we read.
  const text = encodeControl(control);
  decodeControl(join(dir, CONTROL_FILE_NAME), text);
  const tmp = join(dir, CONTROL_TEMP_NAME);
  const fd = await open(tmp, 'w', 0o644);
  try {
    await fd.writeFile(text);
    await fd.sync();
  } finally {
    await fd.close();
  }
  hooks.beforeRename?.();
  await rename(tmp, join(dir, CONTROL_FILE_NAME));
  await fsyncDir(dir);
}

/**
 * Reads and validates the control file; a leftover temp file from a crash
 * before its rename is discarded (the rename never happened, so the old file
 * is the truth).
 */
export async function readControlFile(dir: string): Promise<TimelineControl> {
  const path = join(dir, CONTROL_FILE_NAME);
  await unlink(join(dir, CONTROL_TEMP_NAME)).catch((e: unknown) => {
    if (!isNotFound(e)) throw e;
  });
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (isNotFound(e)) throw new ControlFileCorrupt(path, 'missing');
    throw e;
  }
  return decodeControl(path, text);
}
