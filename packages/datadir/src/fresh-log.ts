import { closeSync, ftruncateSync, openSync, rmSync, writeSync } from 'node:fs';
import { redo } from '@strata/core';

/** Write a fresh `ib_logfile0` whose checkpoint is `lsn`: stock mariadbd starts on it without recovery. */
export function writeFreshLog(path: string, lsn: bigint, fileSize: bigint): void {
  rmSync(path, { force: true });
  const head = redo.buildFreshLogHead({ lsn, fileSize });
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, head, 0, head.length, 0);
    ftruncateSync(fd, Number(fileSize));
  } finally {
    closeSync(fd);
  }
}
