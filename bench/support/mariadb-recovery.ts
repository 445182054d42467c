/**
 * The baseline of the redo-apply benchmark: MariaDB's own crash recovery of the span between
 * two checkpoints of one log.
 *
 * The base datadir with the final datadir's `ib_logfile0`, both checkpoint blocks rewritten to
 * the base's checkpoint, is to mariadbd a server that crashed right after the base: it parses
 * the log from there and applies every record since. Its start is timed against plain starts of
 * the clean final datadir, and the error log is followed to see recovery happen.
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { LOG_START_OFFSET, rewriteCheckpoints } from '../../packages/core/src/redo/log-file.js';
import { checksumTables, type LogCheckpoint, type MariadbServer, readLogCheckpoint, type StartOptions } from '../../test/support/mariadb.js';
import { withConnection } from '../../test/support/redo-scenario.js';
import { findLine, type LogLine, timedStart, type TimedStart } from './timed-start.js';

/** Clean starts to take the median of (after one warm-up): a single start varies by a tenth of a second. */
const CLEAN_STARTS = 3;
/** Recovering starts (each on a fresh copy of the crashed datadir) to take the median of. */
const RECOVERY_RUNS = 3;

const RECOVERY_START = /InnoDB: Starting crash recovery from checkpoint LSN=(\d+)/;
const TO_RECOVER = /InnoDB: To recover: (\d+) pages$/;
const MULTI_BATCH = /InnoDB: Multi-batch recovery needed/;
/** InnoDB's last line before it reads the log, and its first after recovery. */
const BEFORE_LOG = /InnoDB: Completed initialization of buffer pool/;
const AFTER_RECOVERY = /InnoDB: \d+ rollback segments are active/;
const READY = /ready for connections/;

export interface StartWindow {
  /** Spawn until a connection succeeded. */
  readonly wallMs: number;
  /** Arrival of "Completed initialization of buffer pool" → "rollback segments are active". */
  readonly logWindowMs: number;
  /** Arrival of "ready for connections", since spawn. */
  readonly readyMs: number;
}

export interface RecoveryBaseline {
  /** Copying the base datadir without its log: the copy Strata's apply makes too. */
  readonly copyMs: number;
  readonly cleanStarts: readonly StartWindow[];
  readonly cleanMedian: StartWindow;
  readonly recovering: StartWindow;
  readonly fromCheckpointLsn: bigint;
  /** "Starting crash recovery" arrival, since spawn. */
  readonly recoveryStartMs: number;
  /** Pages MariaDB said it would recover ("To recover: N pages"), summed over its batches. */
  readonly pagesToRecover: number;
  /** "To recover: N pages" lines: one per batch of applying. */
  readonly batches: number;
  /** MariaDB ran out of buffer pool for parsed records and applied in several batches. */
  readonly multiBatch: boolean;
  /** Innodb_buffer_pool_pages_dirty right after the recovering server accepted connections. */
  readonly dirtyPagesAfter: number;
  /** recovering wall − median clean wall. */
  readonly recoveryMs: number;
  /** recovering log window − median clean log window: recovery without spawn and plugin noise. */
  readonly recoveryByLogMs: number;
  readonly recoveryLogLines: readonly string[];
}

export interface BaselineInput {
  readonly base: string;
  readonly baseCheckpoint: LogCheckpoint;
  readonly final: string;
  readonly checksumsFinal: Map<string, string>;
  /** Tables whose CHECKSUM TABLE must match the final's after recovery. */
  readonly tables: readonly string[];
  /** Where the crashed datadir and error logs go. */
  readonly workDir: string;
  readonly server: StartOptions;
}

/** base + final's log with both checkpoint blocks pointing at the base's checkpoint. */
async function prepareCrashedDatadir(input: BaselineInput, dir: string): Promise<number> {
  const t0 = performance.now();
  await fs.cp(input.base, dir, { recursive: true, errorOnExist: true, filter: (src) => !src.endsWith('/ib_logfile0') });
  const copyMs = performance.now() - t0;
  const log = join(dir, 'ib_logfile0');
  await fs.copyFile(join(input.final, 'ib_logfile0'), log);
  const { checkpointLsn, endLsn } = input.baseCheckpoint;
  const handle = await fs.open(log, 'r+');
  try {
    const head = new Uint8Array(LOG_START_OFFSET);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    if (bytesRead !== head.length) throw new Error(`${log}: short read of the log head`);
    rewriteCheckpoints(head, checkpointLsn, endLsn);
    await handle.write(head, 0, head.length, 0);
  } finally {
    await handle.close();
  }
  const rewritten = await readLogCheckpoint(dir);
  if (rewritten.checkpointLsn !== checkpointLsn || rewritten.endLsn !== endLsn) {
    throw new Error(`${log}: checkpoint reads ${rewritten.checkpointLsn}/${rewritten.endLsn} after the rewrite, not ${checkpointLsn}/${endLsn}`);
  }
  return copyMs;
}

function checkRecoveredFromBase(s: TimedStart, input: BaselineInput): void {
  const start = findLine(s.lines, RECOVERY_START);
  if (BigInt(start?.match[1] ?? '-1') !== input.baseCheckpoint.checkpointLsn) {
    throw new Error(
      `mariadbd did not recover from the base checkpoint ${input.baseCheckpoint.checkpointLsn}; its error log:\n` + s.lines.map((l) => l.text).join('\n'),
    );
  }
}

function arrival(lines: readonly LogLine[], re: RegExp, what: string): number {
  const found = findLine(lines, re);
  if (found === undefined) throw new Error(`mariadbd's error log has no ${what} line:\n${lines.map((l) => l.text).join('\n')}`);
  return found.line.atMs;
}

function startWindow(s: TimedStart): StartWindow {
  return {
    wallMs: s.wallMs,
    logWindowMs: arrival(s.lines, AFTER_RECOVERY, 'rollback segments') - arrival(s.lines, BEFORE_LOG, 'buffer pool'),
    readyMs: arrival(s.lines, READY, 'ready for connections'),
  };
}

function median(windows: readonly StartWindow[]): StartWindow {
  const pick = (key: keyof StartWindow): number => {
    const sorted = windows.map((w) => w[key]).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  };
  return { wallMs: pick('wallMs'), logWindowMs: pick('logWindowMs'), readyMs: pick('readyMs') };
}

async function expectChecksums(server: MariadbServer, input: BaselineInput, what: string): Promise<void> {
  const got = await withConnection(server, (c) => checksumTables(c, [...input.tables]));
  for (const table of input.tables) {
    if (got.get(table) !== input.checksumsFinal.get(table)) {
      throw new Error(`${what}: CHECKSUM TABLE ${table} is ${got.get(table)}, the final datadir's is ${input.checksumsFinal.get(table)}`);
    }
  }
}

async function dirtyPages(server: MariadbServer): Promise<number> {
  const rows = await server.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'");
  return Number(rows[0]?.['Value'] ?? Number.NaN);
}

/**
 * Starts of the clean final datadir, each shut down cleanly so the next is clean too. The first
 * start after the workload is always the slowest (cold binary and files), so it is not counted.
 */
async function cleanStarts(input: BaselineInput): Promise<StartWindow[]> {
  const windows: StartWindow[] = [];
  for (let i = 0; i <= CLEAN_STARTS; i++) {
    const s = await timedStart(input.final, { ...input.server, errorLogPath: join(input.workDir, `clean-start-${i}.err`) });
    try {
      if (findLine(s.lines, RECOVERY_START) !== undefined) throw new Error(`${input.final} is not clean: mariadbd ran crash recovery`);
      if (i > 0) windows.push(startWindow(s));
    } finally {
      await s.server.shutdown();
    }
  }
  return windows;
}

export async function measureRecoveryBaseline(input: BaselineInput): Promise<RecoveryBaseline> {
  const clean = await cleanStarts(input);
  const runs: { window: StartWindow; copyMs: number }[] = [];
  let s: TimedStart | undefined;
  let dirtyPagesAfter = Number.NaN;
  for (let i = 0; i < RECOVERY_RUNS; i++) {
    const crashed = join(input.workDir, `mariadb-recovery-${i}`);
    const copyMs = await prepareCrashedDatadir(input, crashed);
    s = await timedStart(crashed, { ...input.server, errorLogPath: join(input.workDir, `recovery-start-${i}.err`) });
    try {
      if (i === 0) {
        dirtyPagesAfter = await dirtyPages(s.server);
        await expectChecksums(s.server, input, 'MariaDB recovery');
      }
    } finally {
      await s.server.kill();
    }
    checkRecoveredFromBase(s, input);
    runs.push({ window: startWindow(s), copyMs });
    await fs.rm(crashed, { recursive: true, force: true });
  }
  if (!s) throw new Error('no recovering start');
  const start = findLine(s.lines, RECOVERY_START);
  const fromCheckpointLsn = BigInt(start?.match[1] ?? '-1');
  const recovering = median(runs.map((r) => r.window));
  const copyMs = runs.map((r) => r.copyMs).sort((a, b) => a - b)[Math.floor(runs.length / 2)] ?? Number.NaN;
  const cleanMedian = median(clean);
  const toRecover = s.lines.map((l) => TO_RECOVER.exec(l.text)?.[1]).filter((n): n is string => n !== undefined);
  return {
    copyMs,
    cleanStarts: clean,
    cleanMedian,
    recovering,
    fromCheckpointLsn,
    recoveryStartMs: start?.line.atMs ?? Number.NaN,
    pagesToRecover: toRecover.reduce((sum, n) => sum + Number(n), 0),
    batches: toRecover.length,
    multiBatch: findLine(s.lines, MULTI_BATCH) !== undefined,
    dirtyPagesAfter,
    recoveryMs: recovering.wallMs - cleanMedian.wallMs,
    recoveryByLogMs: recovering.logWindowMs - cleanMedian.logWindowMs,
    recoveryLogLines: s.lines.filter((l) => /InnoDB: .*(recover|batch|End of log|LSN)/i.test(l.text)).map((l) => l.text.replace(/^.*\[Note\] /, '')),
  };
}
