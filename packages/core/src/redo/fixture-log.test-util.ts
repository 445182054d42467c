/** Shared by tests: the captured fixture log and its mtrs. Not part of the library. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { memoryLogSource, scanLog, type LogEnd } from './log-scan.js';
import type { Mtr } from './mtr.js';

export const FIXTURE_DIR = fileURLToPath(new URL('../../../../fixtures/innodb-10.11/', import.meta.url));

/** The fixture's ib_logfile0: its first 64 KiB, zero-padded to the real 8 MiB. */
export function fixtureLog(): Uint8Array {
  const file = new Uint8Array(8 * 1024 * 1024);
  file.set(readFileSync(FIXTURE_DIR + 'ib_logfile0.first64k'));
  return file;
}

export function collect(it: Generator<Mtr, LogEnd>): { mtrs: Mtr[]; end: LogEnd } {
  const mtrs: Mtr[] = [];
  for (;;) {
    const step = it.next();
    if (step.done) return { mtrs, end: step.value };
    mtrs.push(step.value);
  }
}

export function fixtureMtrs(): Mtr[] {
  return collect(scanLog(memoryLogSource(fixtureLog()), 50841n)).mtrs;
}
