/**
 * Finding the InnoDB tablespaces of a datadir and the other ("aux") files
 * that the redo log does not describe.
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { readU32, redo, StrataError } from '@strata/core';

export interface TablespaceFile {
  readonly spaceId: number;
  /** Relative to the datadir, with `/` separators. */
  readonly path: string;
  readonly flags: redo.SpaceFlags;
  readonly sizeBytes: number;
}

const INNODB_LOG = /^ib_logfile\d+$/;
const SYSTEM_SPACE = /^ibdata\d+$/;
const UNDO_SPACE = /^undo\d{3}$/;
/** Files InnoDB owns or regenerates that are neither tablespaces nor aux files. */
const NOT_AUX = /^(ib_logfile\d+|ibtmp\d+|ib_buffer_pool|.*\.pid|.*\.sock|.*\.err|aria_log_control\.lock)$/;

function walk(dir: string, base: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) walk(full, base, out);
    else if (entry.isFile()) out.push(relative(base, full).split(sep).join('/'));
  }
}

export function listFiles(datadir: string): string[] {
  const out: string[] = [];
  walk(datadir, datadir, out);
  return out.sort();
}

export function isTablespacePath(rel: string): boolean {
  const name = rel.split('/').pop() ?? rel;
  if (!rel.includes('/')) return SYSTEM_SPACE.test(name) || UNDO_SPACE.test(name);
  return name.endsWith('.ibd');
}

export function isAuxPath(rel: string): boolean {
  const name = rel.split('/').pop() ?? rel;
  return !isTablespacePath(rel) && !INNODB_LOG.test(name) && !NOT_AUX.test(name);
}

/** A file where a tablespace should be that cannot be one (shorter than page 0's header). */
export class NotATablespace extends StrataError {
  readonly code = 'NOT_A_TABLESPACE' as const;
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'NotATablespace';
  }
}

/** Read page 0's header fields without knowing the page size yet (they sit in the first 64 bytes). */
export function readPage0Header(path: string): { spaceId: number; flags: number; sizePages: number } {
  const fd = openSync(path, 'r');
  try {
    const head = new Uint8Array(64);
    const n = readSync(fd, head, 0, 64, 0);
    if (n < 64) throw new NotATablespace(path, `too short to be a tablespace (${n} bytes)`);
    const { flags, sizePages } = redo.readFspHeader(head);
    return { spaceId: readU32(head, redo.FIL_PAGE_SPACE_ID), flags, sizePages };
  } finally {
    closeSync(fd);
  }
}

export function listTablespaceFiles(datadir: string): TablespaceFile[] {
  const spaces: TablespaceFile[] = [];
  for (const rel of listFiles(datadir)) {
    if (!isTablespacePath(rel)) continue;
    const full = join(datadir, rel);
    const size = statSync(full).size;
    if (size === 0) continue;
    const h = readPage0Header(full);
    spaces.push({ spaceId: h.spaceId, path: rel, flags: redo.decodeSpaceFlags(h.flags), sizeBytes: size });
  }
  return spaces;
}
