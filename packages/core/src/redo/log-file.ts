/**
 * The `ib_logfile0` container of MariaDB 10.8+: a 12 KiB head (file header
 * and two checkpoint blocks) followed by a circular record area addressed by
 * LSN. See shared/docs/innodb-redo-format.md §1.
 */
import { readU32, readU64, writeU32, writeU64 } from '../bytes.js';
import { CorruptRedo, LsnOutOfRange, UnsupportedRedoFormat } from '../errors.js';
import { crc32c } from './crc32c.js';

export const LOG_START_OFFSET = 12288;
export const LOG_FIRST_LSN = 12288n;
export const CHECKPOINT_1_OFFSET = 4096;
export const CHECKPOINT_2_OFFSET = 8192;
export const FORMAT_10_8 = 0x50687973;
export const FORMAT_ENC_11 = 0xf09f979d;
const FORMAT_ENCRYPTED_BIT = 0x80000000;
const FORMAT_10_5 = 0x50485953;
const OLD_FORMATS = new Set([0, 1, 103, 104, FORMAT_10_5]);
const CREATOR_OFFSET = 16;
const CREATOR_END = 48;
const HEADER_CRC_OFFSET = 508;
/** The smallest log Strata writes (MariaDB itself wants 4 MiB in production; tests cut smaller ones). */
export const LOG_FILE_SIZE_MIN = LOG_START_OFFSET + 4096;
/**
 * The smallest log Strata reads: the head plus one 16-byte FILE_CHECKPOINT
 * mtr, which is exactly what `mariabackup --prepare` leaves (MariaDB accepts
 * it the same way: START_OFFSET + SIZE_OF_FILE_CHECKPOINT).
 */
export const LOG_FILE_SIZE_READ_MIN = LOG_START_OFFSET + 16;

export interface LogHeader {
  readonly format: number;
  readonly firstLsn: bigint;
  readonly creator: string;
}

export interface Checkpoint {
  /** Every change below this LSN is in the data files. */
  readonly checkpointLsn: bigint;
  /** Where the checkpoint's FILE_CHECKPOINT mtr starts: parsing begins here. */
  readonly endLsn: bigint;
  readonly blockOffset: number;
}

export interface LogFileHead {
  readonly header: LogHeader;
  readonly checkpoint: Checkpoint;
  readonly fileSize: bigint;
}

function describeFormat(format: number): string {
  return `0x${format.toString(16).padStart(8, '0')}`;
}

/** Parse the header block; `head` holds at least the first 512 bytes of the file. */
export function parseLogHeader(head: Uint8Array): LogHeader {
  if (head.length < 512) throw new CorruptRedo(0n, `log header truncated: ${head.length} bytes`);
  const format = readU32(head, 0);
  if (format === FORMAT_ENC_11 || format === (FORMAT_10_8 | FORMAT_ENCRYPTED_BIT) >>> 0) {
    throw new UnsupportedRedoFormat(`encrypted redo log (format ${describeFormat(format)})`);
  }
  if (OLD_FORMATS.has(format) || OLD_FORMATS.has((format & ~FORMAT_ENCRYPTED_BIT) >>> 0)) {
    throw new UnsupportedRedoFormat(
      `pre-10.8 redo log (format ${describeFormat(format)}); shut down cleanly on MariaDB ≥ 10.8 first`,
    );
  }
  if (format !== FORMAT_10_8) {
    throw new UnsupportedRedoFormat(`unknown redo log format ${describeFormat(format)}`);
  }
  const stored = readU32(head, HEADER_CRC_OFFSET);
  const computed = crc32c(head, 0, HEADER_CRC_OFFSET);
  if (stored !== computed) {
    throw new CorruptRedo(0n, `log header CRC mismatch (stored ${stored.toString(16)}, computed ${computed.toString(16)})`);
  }
  if (readU32(head, 4) !== 0) throw new CorruptRedo(0n, 'log header bytes 4..7 are not zero');
  const firstLsn = readU64(head, 8);
  if (firstLsn < LOG_FIRST_LSN) throw new CorruptRedo(0n, `log header first_lsn ${firstLsn} < ${LOG_FIRST_LSN}`);
  if (readU32(head, CREATOR_END) !== 0) {
    throw new UnsupportedRedoFormat('redo log carries encryption information (innodb_encrypt_log=ON)');
  }
  let creatorEnd = CREATOR_OFFSET;
  while (creatorEnd < CREATOR_END && head[creatorEnd] !== 0) creatorEnd++;
  const creator = String.fromCharCode(...head.subarray(CREATOR_OFFSET, creatorEnd));
  return { format, firstLsn, creator };
}

function parseCheckpointBlock(head: Uint8Array, blockOffset: number, firstLsn: bigint): Checkpoint | undefined {
  const checkpointLsn = readU64(head, blockOffset);
  const endLsn = readU64(head, blockOffset + 8);
  if (checkpointLsn < firstLsn || endLsn < checkpointLsn) return undefined;
  for (let i = blockOffset + 16; i < blockOffset + 60; i++) if (head[i] !== 0) return undefined;
  if (crc32c(head, blockOffset, blockOffset + 60) !== readU32(head, blockOffset + 60)) return undefined;
  return { checkpointLsn, endLsn, blockOffset };
}

/** Parse the first 12 KiB of `ib_logfile0`: header plus the newest valid checkpoint. */
export function parseLogFileHead(head: Uint8Array, fileSize: bigint): LogFileHead {
  if (fileSize < BigInt(LOG_FILE_SIZE_READ_MIN)) throw new CorruptRedo(0n, `log file too small: ${fileSize} bytes`);
  if (head.length < LOG_START_OFFSET) throw new CorruptRedo(0n, `log head truncated: ${head.length} bytes`);
  const header = parseLogHeader(head);
  const c1 = parseCheckpointBlock(head, CHECKPOINT_1_OFFSET, header.firstLsn);
  const c2 = parseCheckpointBlock(head, CHECKPOINT_2_OFFSET, header.firstLsn);
  // MariaDB prefers the later block on a tie, so do we.
  const checkpoint = c1 && c2 ? (c2.checkpointLsn >= c1.checkpointLsn ? c2 : c1) : (c2 ?? c1);
  if (!checkpoint) throw new CorruptRedo(0n, 'no valid checkpoint block');
  return { header, checkpoint, fileSize };
}

/** Geometry of the circular record area, for LSN ↔ file offset arithmetic. */
export interface LogGeometry {
  readonly firstLsn: bigint;
  readonly fileSize: bigint;
}

export function logCapacity(g: LogGeometry): bigint {
  return g.fileSize - BigInt(LOG_START_OFFSET);
}

export function lsnToOffset(g: LogGeometry, lsn: bigint): number {
  if (lsn < g.firstLsn) throw new LsnOutOfRange(lsn, `below the log's first_lsn ${g.firstLsn}`);
  return LOG_START_OFFSET + Number((lsn - g.firstLsn) % logCapacity(g));
}

/** The end-of-mtr marker expected at `lsn`: 1 on the first pass over the file, 0 on the second, ... */
export function sequenceBit(g: LogGeometry, lsn: bigint): number {
  return ((lsn - g.firstLsn) / logCapacity(g)) % 2n === 0n ? 1 : 0;
}

/**
 * Copy `length` bytes of the circular area starting at `lsn` out of a whole
 * file image, following wrap-around.
 */
export function readCircular(file: Uint8Array, g: LogGeometry, lsn: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let off = lsnToOffset(g, lsn);
  let done = 0;
  const size = Number(g.fileSize);
  while (done < length) {
    const n = Math.min(length - done, size - off);
    out.set(file.subarray(off, off + n), done);
    done += n;
    off = LOG_START_OFFSET;
  }
  return out;
}

/** The 16-byte FILE_CHECKPOINT(lsn) mtr that recovery looks for at a checkpoint's end LSN. */
export function encodeFileCheckpointMtr(checkpointLsn: bigint, seqBit: number): Uint8Array {
  const m = new Uint8Array(16);
  m[0] = 0xfa;
  m[1] = 0;
  m[2] = 0;
  writeU64(m, 3, checkpointLsn);
  m[11] = seqBit;
  writeU32(m, 12, crc32c(m, 0, 11));
  return m;
}

export interface FreshLogOptions {
  /** The LSN the new log starts at; the checkpoint, page LSNs and the server continue from here. */
  readonly lsn: bigint;
  readonly fileSize: bigint;
  readonly creator?: string;
}

/**
 * A brand-new log file whose only content is a checkpoint at `lsn`, like the
 * one `mariabackup --prepare` leaves: stock mariadbd starts on it without
 * crash recovery. Returns just the head plus the 16-byte mtr; the caller
 * extends the file to `fileSize` with zeros.
 */
export function buildFreshLogHead(opts: FreshLogOptions): Uint8Array {
  if (opts.lsn < LOG_FIRST_LSN) throw new LsnOutOfRange(opts.lsn, `a log cannot start below ${LOG_FIRST_LSN}`);
  if (opts.fileSize < BigInt(LOG_FILE_SIZE_MIN) || opts.fileSize % 4096n !== 0n) {
    throw new LsnOutOfRange(opts.lsn, `log file size ${opts.fileSize} must be ≥ ${LOG_FILE_SIZE_MIN} and a multiple of 4096`);
  }
  const head = new Uint8Array(LOG_START_OFFSET + 4096);
  writeU32(head, 0, FORMAT_10_8);
  writeU64(head, 8, opts.lsn);
  const creator = opts.creator ?? 'MariaDB 10.11.19';
  for (let i = 0; i < creator.length && i < CREATOR_END - CREATOR_OFFSET - 1; i++) {
    head[CREATOR_OFFSET + i] = creator.charCodeAt(i) & 0x7f;
  }
  writeU32(head, HEADER_CRC_OFFSET, crc32c(head, 0, HEADER_CRC_OFFSET));
  for (const block of [CHECKPOINT_1_OFFSET, CHECKPOINT_2_OFFSET]) {
    writeU64(head, block, opts.lsn);
    writeU64(head, block + 8, opts.lsn);
    writeU32(head, block + 60, crc32c(head, block, block + 60));
  }
  head.set(encodeFileCheckpointMtr(opts.lsn, 1), LOG_START_OFFSET);
  return head;
}

/** Rewrite both checkpoint blocks of an existing log head (used to replay a span with MariaDB itself). */
export function rewriteCheckpoints(head: Uint8Array, checkpointLsn: bigint, endLsn: bigint): void {
  for (const block of [CHECKPOINT_1_OFFSET, CHECKPOINT_2_OFFSET]) {
    head.fill(0, block, block + 64);
    writeU64(head, block, checkpointLsn);
    writeU64(head, block + 8, endLsn);
    writeU32(head, block + 60, crc32c(head, block, block + 60));
  }
}
