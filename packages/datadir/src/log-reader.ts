/**
 * An `ib_logfile0` on disk as a `LogSource`: positioned reads that follow the
 * circular layout, without loading the file into memory.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { redo } from '@strata/core';

export interface LogFileReader extends redo.LogSource {
  readonly path: string;
  mtrs(fromLsn: bigint, pageSize: number, options?: redo.ScanOptions): Generator<redo.Mtr, redo.LogEnd>;
  /** The same mtrs through a `LogScanner` (no generator: for loops over the whole log). */
  scanner(fromLsn: bigint, pageSize: number, options?: redo.ScanOptions): redo.LogScanner;
  close(): void;
}

export function openLogFile(path: string): LogFileReader {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const headBytes = new Uint8Array(redo.LOG_START_OFFSET);
    readSync(fd, headBytes, 0, headBytes.length, 0);
    const head = redo.parseLogFileHead(headBytes, BigInt(size));
    const g = redo.geometryOf(head);
    const readInto = (lsn: bigint, out: Uint8Array): void => {
      let off = redo.lsnToOffset(g, lsn);
      let done = 0;
      while (done < out.length) {
        const n = Math.min(out.length - done, size - off);
        readSync(fd, out, done, n, off);
        done += n;
        off = redo.LOG_START_OFFSET;
      }
    };
    const readAt = (lsn: bigint, length: number): Uint8Array => {
      const out = new Uint8Array(length);
      readInto(lsn, out);
      return out;
    };
    const reader: LogFileReader = {
      head,
      path,
      readAt,
      readInto,
      mtrs: (fromLsn, pageSize, options) => redo.scanLog(reader, fromLsn, pageSize, options),
      scanner: (fromLsn, pageSize, options) => new redo.LogScanner(reader, fromLsn, pageSize, options),
      close: () => closeSync(fd),
    };
    return reader;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}
