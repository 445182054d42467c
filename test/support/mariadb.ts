/**
 * Drive private, real MariaDB 10.11 servers (Debian's `mariadbd`) from integration tests.
 *
 * Every server gets its own datadir, a free TCP port on 127.0.0.1 and a unix socket under a
 * short temp directory; nothing here ever talks to the machine's own server on 3306. Every
 * started server is tracked and SIGKILLed when the test process exits, so a failing test does
 * not leak `mariadbd` processes.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import mysql from 'mysql2/promise';
import type {
  Connection,
  ConnectionOptions,
  QueryResult,
  QueryValues,
  RowDataPacket,
} from 'mysql2/promise';
import { crc32c } from '../../packages/core/src/redo/crc32c.js';

export const MARIADBD_PATH = '/usr/sbin/mariadbd';
export const INSTALL_DB_PATH = '/usr/bin/mariadb-install-db';

const VALID_PAGE_SIZES: readonly number[] = [4096, 8192, 16384, 32768, 65536];
const DEFAULT_LOG_FILE_SIZE = '64M';
const DEFAULT_BUFFER_POOL_SIZE = '64M';
const INSTALL_TIMEOUT_MS = 180_000;
const START_TIMEOUT_MS = 60_000;
const SHUTDOWN_TIMEOUT_MS = 120_000;
const START_POLL_INTERVAL_MS = 100;
const START_PORT_ATTEMPTS = 3;
/** sun_path is 108 bytes including the NUL. */
const SOCKET_PATH_BYTES_MAX = 107;
const LOG_TAIL_LINES = 40;

// ---------------------------------------------------------------------------------------------
// Temp dirs and ports

const tempDirs = new Set<string>();

/**
 * A fresh directory `<os.tmpdir()>/strata-<prefix>-XXXXXX`. It is removed by `removeTempDir`,
 * `cleanupTempDirs`, or at process exit (unless STRATA_KEEP_TEST_DIRS is set, for debugging).
 */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `strata-${prefix}-`));
  tempDirs.add(dir);
  installExitHook();
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Removes every directory made by `makeTempDir` that still exists. Call it in `afterAll`. */
export async function cleanupTempDirs(): Promise<void> {
  for (const dir of [...tempDirs]) await removeTempDir(dir);
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice, never 3306). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`unexpected listen address ${String(address)}`));
        return;
      }
      const port = address.port;
      server.close(() => {
        if (port === 3306) reject(new Error('kernel handed out port 3306; refusing'));
        else resolve(port);
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Server registry: kill leftovers at exit

interface Tracked {
  child: ChildProcess;
  runDir: string;
}
const running = new Set<Tracked>();
let exitHookInstalled = false;

/** Synchronous, so it can run in an 'exit' handler: SIGKILL and rmSync only. */
function cleanupSync(): void {
  for (const t of running) {
    try {
      t.child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
    rmSync(t.runDir, { recursive: true, force: true });
  }
  running.clear();
  if (process.env['STRATA_KEEP_TEST_DIRS'] === undefined) {
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
    tempDirs.clear();
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', cleanupSync);
  // Vitest stops its fork workers with SIGTERM, whose default action skips 'exit' handlers.
  // Clean up, then re-raise the signal unless someone else handles it.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      cleanupSync();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/** SIGKILLs every server this process started that is still running. */
export async function killAllMariadb(): Promise<void> {
  const exits: Promise<unknown>[] = [];
  for (const t of running) {
    exits.push(new Promise((resolve) => t.child.once('exit', resolve)));
    t.child.kill('SIGKILL');
  }
  await Promise.all(exits);
}

// ---------------------------------------------------------------------------------------------
// Install

export interface InnodbOptions {
  /** `--innodb-page-size` in bytes; fixed at install, must be passed to every start too. */
  pageSize?: number;
  /** `--innodb-log-file-size`, e.g. '64M'. */
  logFileSize?: string;
  /** `--innodb-buffer-pool-size`, default '64M'. */
  bufferPoolSize?: string;
  /** Appended verbatim (e.g. `--innodb-default-row-format=compact`). */
  extraArgs?: string[];
}

function innodbArgs(opts: InnodbOptions, logFileSize: string): string[] {
  const args = [
    `--innodb-log-file-size=${logFileSize}`,
    `--innodb-buffer-pool-size=${opts.bufferPoolSize ?? DEFAULT_BUFFER_POOL_SIZE}`,
  ];
  if (opts.pageSize !== undefined) {
    if (!VALID_PAGE_SIZES.includes(opts.pageSize)) {
      throw new Error(`invalid innodb page size ${opts.pageSize}`);
    }
    args.push(`--innodb-page-size=${opts.pageSize}`);
  }
  return args;
}

/**
 * Creates a datadir with `mariadb-install-db` (root@localhost/127.0.0.1 with an empty
 * password). Silent on success; on failure throws with the tool's whole output.
 */
export async function installDatadir(dir: string, opts: InnodbOptions = {}): Promise<void> {
  const args = [
    '--no-defaults', // must be the first option
    `--datadir=${dir}`,
    '--user=root',
    '--auth-root-authentication-method=normal',
    ...innodbArgs(opts, opts.logFileSize ?? DEFAULT_LOG_FILE_SIZE),
    ...(opts.extraArgs ?? []),
  ];
  await new Promise<void>((resolve, reject) => {
    execFile(
      INSTALL_DB_PATH,
      args,
      { timeout: INSTALL_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve();
          return;
        }
        reject(
          new Error(
            `${INSTALL_DB_PATH} ${args.join(' ')} failed (${error.message.split('\n')[0]}):\n` +
              `${stdout}\n${stderr}`,
          ),
        );
      },
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Start / stop

export interface StartOptions extends InnodbOptions {
  /** Default: a free port from `freePort()` (retried if mariadbd cannot bind it). */
  port?: number;
  /**
   * Default: the current size of `<datadir>/ib_logfile0` if it exists, else 64M. mariadbd
   * silently replaces the redo log with a fresh one at startup when this differs from the
   * file's size, which would destroy the log a test wants to look at.
   */
  logFileSize?: string;
  /** `--innodb-read-only=ON --read-only=ON`: the server writes no InnoDB file. */
  readOnly?: boolean;
  /** Default `<datadir>/mariadbd.err` (appended to; each start remembers where it began). */
  errorLogPath?: string;
  /** How long to wait for the first successful connection. Default 60 s. */
  startTimeoutMs?: number;
}

export interface ShutdownOptions {
  /** `innodb_fast_shutdown` to set before SHUTDOWN. Default 0 (slow, fully flushed). */
  innodbFastShutdown?: 0 | 1 | 2;
  timeoutMs?: number;
}

export interface MariadbServer {
  readonly port: number;
  readonly socket: string;
  readonly pid: number;
  readonly datadir: string;
  readonly errorLogPath: string;
  /** The full mariadbd command line (after the binary). */
  readonly args: readonly string[];
  /** True once the process has exited (for any reason). */
  readonly exited: boolean;
  /** A new connection as root over TCP; the caller ends it. */
  connect(options?: ConnectionOptions): Promise<Connection>;
  /** One statement on a short-lived connection; returns the rows / result header. */
  query<T extends QueryResult = RowDataPacket[]>(sql: string, params?: QueryValues): Promise<T>;
  /** SET GLOBAL innodb_fast_shutdown=0; SHUTDOWN; wait for exit 0 (SIGKILL + throw on timeout). */
  shutdown(opts?: ShutdownOptions): Promise<void>;
  /** SIGKILL (a crash, as far as InnoDB is concerned) and wait for the exit. */
  kill(): Promise<void>;
  /** This run's part of the error log, last `lines` lines. */
  errorLogTail(lines?: number): Promise<string>;
}

interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

class PortInUseError extends Error {}

/**
 * Starts `mariadbd` on an installed datadir and waits until root can connect over TCP.
 * Throws (with the tail of the error log) if the process exits early or is not ready in time.
 */
export async function startMariadb(datadir: string, opts: StartOptions = {}): Promise<MariadbServer> {
  const absDatadir = path.resolve(datadir);
  if (!existsSync(absDatadir)) throw new Error(`datadir ${absDatadir} does not exist`);
  const attempts = opts.port === undefined ? START_PORT_ATTEMPTS : 1;
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    try {
      return await startOnce(absDatadir, port, opts);
    } catch (e) {
      if (!(e instanceof PortInUseError) || attempt >= attempts) throw e;
    }
  }
}

function defaultLogFileSize(datadir: string): string {
  try {
    return String(statSync(path.join(datadir, 'ib_logfile0')).size);
  } catch {
    return DEFAULT_LOG_FILE_SIZE;
  }
}

/** A private directory for the socket and pid file whose socket path fits in sun_path. */
function makeRunDir(): string {
  for (const base of [os.tmpdir(), '/tmp']) {
    const dir = mkdtempSync(path.join(base, 'strata-my-'));
    if (Buffer.byteLength(path.join(dir, 'mysqld.sock')) <= SOCKET_PATH_BYTES_MAX) return dir;
    rmSync(dir, { recursive: true, force: true });
  }
  throw new Error('no temp directory short enough for a unix socket path');
}

async function readLogFrom(file: string, offset: number): Promise<string> {
  try {
    const handle = await fs.open(file, 'r');
    try {
      const { size } = await handle.stat();
      const length = Math.max(0, size - offset);
      const buf = Buffer.alloc(length);
      await handle.read(buf, 0, length, offset);
      return buf.toString('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return '';
  }
}

function lastLines(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function startOnce(datadir: string, port: number, opts: StartOptions): Promise<MariadbServer> {
  const runDir = makeRunDir();
  const socket = path.join(runDir, 'mysqld.sock');
  const pidFile = path.join(runDir, 'mysqld.pid');
  const errorLogPath = path.resolve(opts.errorLogPath ?? path.join(datadir, 'mariadbd.err'));
  let logStart = 0;
  try {
    logStart = statSync(errorLogPath).size;
  } catch {
    // No log yet.
  }
  const args = [
    '--no-defaults',
    '--user=root', // mariadbd refuses to run as root without it
    `--datadir=${datadir}`,
    `--socket=${socket}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    '--skip-name-resolve',
    `--pid-file=${pidFile}`,
    `--log-error=${errorLogPath}`,
    '--skip-log-bin',
    ...innodbArgs(opts, opts.logFileSize ?? defaultLogFileSize(datadir)),
    '--innodb-flush-log-at-trx-commit=1',
    // Keep the datadir free of background page reads/writes that tests did not ask for.
    '--innodb-buffer-pool-dump-at-shutdown=OFF',
    '--innodb-buffer-pool-load-at-startup=OFF',
    ...(opts.readOnly === true ? ['--innodb-read-only=ON', '--read-only=ON'] : []),
    ...(opts.extraArgs ?? []),
  ];

  // Output printed before --log-error takes effect (bad options) lands in the same file.
  let child: ChildProcess;
  try {
    const logFd = openSync(errorLogPath, 'a');
    try {
      child = spawn(MARIADBD_PATH, args, { stdio: ['ignore', logFd, logFd] });
    } finally {
      closeSync(logFd);
    }
  } catch (e) {
    rmSync(runDir, { recursive: true, force: true });
    throw e;
  }
  child.unref();
  const tracked: Tracked = { child, runDir };
  running.add(tracked);
  installExitHook();

  let exitStatus: ExitStatus | undefined;
  const exitPromise = new Promise<ExitStatus>((resolve) => {
    const done = (status: ExitStatus): void => {
      if (exitStatus !== undefined) return;
      exitStatus = status;
      running.delete(tracked);
      rmSync(runDir, { recursive: true, force: true });
      resolve(status);
    };
    child.once('exit', (code, signal) => done({ code, signal }));
    child.once('error', (error) => done({ code: null, signal: null, error }));
  });

  const errorLogTail = async (lines = LOG_TAIL_LINES): Promise<string> =>
    lastLines(await readLogFrom(errorLogPath, logStart), lines);
  const describeExit = (s: ExitStatus): string =>
    s.error !== undefined
      ? `failed to spawn: ${s.error.message}`
      : `exited with code ${String(s.code)}, signal ${String(s.signal)}`;
  const connect = (options: ConnectionOptions = {}): Promise<Connection> =>
    mysql.createConnection({ host: '127.0.0.1', port, user: 'root', password: '', ...options });

  const timeoutMs = opts.startTimeoutMs ?? START_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exitStatus !== undefined) {
      const tail = await errorLogTail();
      const message =
        `mariadbd ${describeExit(exitStatus)} during startup (datadir ${datadir}, port ${port}). ` +
        `Error log ${errorLogPath}:\n${tail}`;
      if (/Address already in use/.test(tail)) throw new PortInUseError(message);
      throw new Error(message);
    }
    try {
      const conn = await connect({ connectTimeout: 2_000 });
      // Another server may have grabbed the port first (then ours exits with "Address
      // already in use"): only our own socket path proves this is our server.
      const [rows] = await conn.query<RowDataPacket[]>('SELECT @@socket AS socket');
      await conn.end();
      if (rows[0]?.['socket'] === socket) break;
    } catch {
      // Not accepting connections yet.
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exitPromise;
      throw new Error(
        `mariadbd did not accept connections within ${timeoutMs} ms (datadir ${datadir}, ` +
          `port ${port}); killed. Error log ${errorLogPath}:\n${await errorLogTail()}`,
      );
    }
    await sleep(START_POLL_INTERVAL_MS);
  }

  const pid = child.pid;
  if (pid === undefined) throw new Error('mariadbd has no pid after startup');

  const waitExit = async (ms: number): Promise<ExitStatus | undefined> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    });
    try {
      return await Promise.race([exitPromise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  const server: MariadbServer = {
    port,
    socket,
    pid,
    datadir,
    errorLogPath,
    args,
    get exited() {
      return exitStatus !== undefined;
    },
    connect,
    async query<T extends QueryResult = RowDataPacket[]>(
      sql: string,
      params?: QueryValues,
    ): Promise<T> {
      const conn = await connect();
      try {
        const [result] = await conn.query<T>(sql, params);
        return result;
      } finally {
        await conn.end();
      }
    },
    async shutdown(o: ShutdownOptions = {}): Promise<void> {
      if (exitStatus !== undefined) {
        throw new Error(`shutdown(): mariadbd already ${describeExit(exitStatus)}`);
      }
      const level = o.innodbFastShutdown ?? 0;
      const ms = o.timeoutMs ?? SHUTDOWN_TIMEOUT_MS;
      let shutdownError: unknown;
      const conn = await connect();
      try {
        await conn.query(`SET GLOBAL innodb_fast_shutdown=${level}`);
        await conn.query('SHUTDOWN');
      } catch (e) {
        // The server may drop the connection while shutting down; judge by the exit below.
        shutdownError = e;
      } finally {
        conn.destroy();
      }
      const status = await waitExit(ms);
      if (status === undefined) {
        child.kill('SIGKILL');
        await exitPromise;
        throw new Error(
          `mariadbd did not exit within ${ms} ms of SHUTDOWN ` +
            `(${String(shutdownError ?? 'no error')}); SIGKILLed. Error log:\n${await errorLogTail()}`,
        );
      }
      if (status.code !== 0) {
        throw new Error(
          `mariadbd ${describeExit(status)} after SHUTDOWN. Error log:\n${await errorLogTail()}`,
        );
      }
    },
    async kill(): Promise<void> {
      if (exitStatus === undefined) child.kill('SIGKILL');
      await exitPromise;
    },
    errorLogTail,
  };
  return server;
}

// ---------------------------------------------------------------------------------------------
// SQL helpers

const SYSTEM_SCHEMAS = ['mysql', 'sys', 'information_schema', 'performance_schema'];

function quoteTableName(name: string): string {
  const dot = name.indexOf('.');
  if (dot <= 0 || dot === name.length - 1) throw new Error(`table name must be db.table: ${name}`);
  const q = (s: string): string => '`' + s.replace(/`/g, '``') + '`';
  return `${q(name.slice(0, dot))}.${q(name.slice(dot + 1))}`;
}

/** `db.table` of every InnoDB base table, sorted; system schemas only if asked. */
export async function listInnodbTables(
  conn: Connection,
  opts: { includeMysqlSchema?: boolean } = {},
): Promise<string[]> {
  const excluded = SYSTEM_SCHEMAS.filter((s) => !(s === 'mysql' && opts.includeMysqlSchema === true));
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS tbl FROM information_schema.TABLES
      WHERE ENGINE = 'InnoDB' AND TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN (?)
      ORDER BY TABLE_SCHEMA, TABLE_NAME`,
    [excluded],
  );
  return rows.map((r) => `${String(r['db'])}.${String(r['tbl'])}`);
}

/**
 * `CHECKSUM TABLE` of the given tables (default: every InnoDB user table) as
 * `db.table → checksum` in decimal. Throws if a table does not exist.
 */
export async function checksumTables(conn: Connection, tables?: string[]): Promise<Map<string, string>> {
  const names = tables ?? (await listInnodbTables(conn));
  const result = new Map<string, string>();
  if (names.length === 0) return result;
  const [rows] = await conn.query<RowDataPacket[]>({
    sql: `CHECKSUM TABLE ${names.map(quoteTableName).join(', ')}`,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  if (rows.length !== names.length) {
    throw new Error(`CHECKSUM TABLE returned ${rows.length} rows for ${names.length} tables`);
  }
  const missing = rows.findIndex((row) => row['Checksum'] === null || row['Checksum'] === undefined);
  if (missing >= 0) {
    // MariaDB says why in its warnings (a table that cannot be opened or read).
    const [warnings] = await conn.query<RowDataPacket[]>('SHOW WARNINGS');
    const why = warnings.map((w) => `${String(w['Code'])}: ${String(w['Message'])}`).join('; ');
    throw new Error(`CHECKSUM TABLE ${names[missing]!}: no checksum (${why || 'no warning: table missing?'})`);
  }
  rows.forEach((row, i) => result.set(names[i]!, String(row['Checksum'])));
  return result;
}

export interface CheckTableFailure {
  table: string;
  op: string;
  msgType: string;
  msgText: string;
}

/**
 * `CHECK TABLE` of the given tables (default: every InnoDB user table); returns every row
 * that is not `status OK` and not a `note` — empty when all is well.
 */
export async function checkTables(conn: Connection, tables?: string[]): Promise<CheckTableFailure[]> {
  const names = tables ?? (await listInnodbTables(conn));
  if (names.length === 0) return [];
  const [rows] = await conn.query<RowDataPacket[]>(
    `CHECK TABLE ${names.map(quoteTableName).join(', ')}`,
  );
  const failures: CheckTableFailure[] = [];
  for (const row of rows) {
    const failure: CheckTableFailure = {
      table: String(row['Table']),
      op: String(row['Op']),
      msgType: String(row['Msg_type']),
      msgText: String(row['Msg_text']),
    };
    const type = failure.msgType.toLowerCase();
    if (type === 'note') continue;
    if (type === 'status' && failure.msgText === 'OK') continue;
    failures.push(failure);
  }
  return failures;
}

// ---------------------------------------------------------------------------------------------
// Redo log checkpoint

const LOG_HEADER_CRC_OFFSET = 508;
const LOG_CHECKPOINT_OFFSETS = [4096, 8192] as const;
const LOG_START_OFFSET = 12288;
/** 0x50687973 "Phys" (10.8), its 10.8–10.10 encrypted variant, FORMAT_ENC_11. */
const LOG_FORMATS_10_8 = [0x50687973, 0xd0687973, 0xf09f979d];

export interface LogCheckpoint {
  /** File offset of the checkpoint block that won (4096 or 8192). */
  blockOffset: number;
  checkpointLsn: bigint;
  /** Where recovery starts parsing (the FILE_CHECKPOINT mtr). */
  endLsn: bigint;
  /** `first_lsn` from the header: the LSN at file offset 12288. */
  firstLsn: bigint;
}

/**
 * Parses `<datadir>/ib_logfile0` like recovery does (log0recv.cc): a checkpoint block is valid
 * if its CRC-32C matches, bytes 16..59 are zero, checkpoint ≥ first_lsn and end ≥ checkpoint;
 * the valid block with the larger checkpoint wins (the second one on a tie).
 */
export async function readLogCheckpoint(datadir: string): Promise<LogCheckpoint> {
  const file = path.join(datadir, 'ib_logfile0');
  const handle = await fs.open(file, 'r');
  const head = Buffer.alloc(LOG_START_OFFSET);
  try {
    const { bytesRead } = await handle.read(head, 0, LOG_START_OFFSET, 0);
    if (bytesRead < LOG_START_OFFSET) throw new Error(`${file}: only ${bytesRead} bytes`);
  } finally {
    await handle.close();
  }
  const format = head.readUInt32BE(0);
  if (!LOG_FORMATS_10_8.includes(format)) {
    throw new Error(`${file}: redo format 0x${format.toString(16)} is not the 10.8+ format`);
  }
  if (crc32c(head, 0, LOG_HEADER_CRC_OFFSET) !== head.readUInt32BE(LOG_HEADER_CRC_OFFSET)) {
    throw new Error(`${file}: header CRC mismatch`);
  }
  const firstLsn = head.readBigUInt64BE(8);
  let best: LogCheckpoint | undefined;
  for (const blockOffset of LOG_CHECKPOINT_OFFSETS) {
    const block = head.subarray(blockOffset, blockOffset + 64);
    const checkpointLsn = block.readBigUInt64BE(0);
    const endLsn = block.readBigUInt64BE(8);
    const valid =
      checkpointLsn >= firstLsn &&
      endLsn >= checkpointLsn &&
      block.subarray(16, 60).every((b) => b === 0) &&
      crc32c(block, 0, 60) === block.readUInt32BE(60);
    if (valid && (best === undefined || checkpointLsn >= best.checkpointLsn)) {
      best = { blockOffset, checkpointLsn, endLsn, firstLsn };
    }
  }
  if (best === undefined) throw new Error(`${file}: no valid checkpoint block`);
  return best;
}

/** The newest valid checkpoint LSN of `<datadir>/ib_logfile0`. */
export async function readCheckpointLsn(datadir: string): Promise<bigint> {
  return (await readLogCheckpoint(datadir)).checkpointLsn;
}
