/**
 * A lock file beside what it guards: created with O_EXCL and the holder's
 * pid in it, so two processes (the CLI and the console) never interleave a
 * read-modify-write of cluster.json. A lock whose holder died is taken over;
 * waiting is bounded.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { LocalClusterError } from './errors.js';

const POLL_MS = 10;

function holderAlive(file: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(file, 'utf8').trim());
  } catch {
    return true; // Being written right now: its holder is alive.
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryTake(file: string): boolean {
  try {
    writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    if (!holderAlive(file)) rmSync(file, { force: true });
    return false;
  }
}

/** Runs `fn` (synchronous: the lock is never held across an await of someone else's work) under the lock `file`. */
export async function withFileLock<T>(file: string, fn: () => T, waitMs = 10_000): Promise<T> {
  const deadline = Date.now() + waitMs;
  while (!tryTake(file)) {
    if (Date.now() > deadline) throw new LocalClusterError('failed', `${file} is held by another process for more than ${waitMs} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  try {
    return fn();
  } finally {
    rmSync(file, { force: true });
  }
}
