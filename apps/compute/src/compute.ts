/**
 * The compute controller (Neon's compute_ctl + walproposer, for MariaDB):
 *
 * read-write: elect a proposer on the timeline's safekeepers to learn the
 * committed end E → wait for the page server to ingest E → basebackup at E
 * into a fresh datadir (its ib_logfile0 starts at E) → start stock mariadbd
 * → ship its redo from E with the same proposer, store aux-file sets as
 * they change. Exactly one writer: a proposer fenced by a higher term
 * SIGKILLs mariadbd at once.
 *
 * read-only at L: basebackup at L, `--read-only --innodb-read-only`, no
 * shipper; the datadir is removed on stop.
 */
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ProposerDriver, type SafekeeperEndpoint } from '@strata/client';
import { redo } from '@strata/core';
import { installNativeCrc32c, writeFreshLog } from '@strata/datadir';
import { CollectedGauge, Counter, Histogram, Registry } from '@strata/service-kit';
import { AuxCapture } from './aux-capture.js';
import { FlushedLsnWatch } from './flushed-lsn-watch.js';
import { IngestBackpressure, type IngestBackpressureStats } from './ingest-backpressure.js';
import { ComputeError } from './errors.js';
import { describeExit, Mariadbd } from './mariadbd.js';
import { handOver, mariadbdOsUser, type OsUser } from './os-user.js';
import { loadComputeEnv } from './env.js';
import { basebackup, pageserverUrl, type PageserverTarget, postLsnTimes, putAuxSet, type TimelineDetails, timelineDetails, waitLsn } from '@strata/client';
import { endpointsOfCurrentConf, ensureTimeline, parseSafekeeperList, resolveSafekeepers } from './safekeepers.js';
import { type LsnStamp, RedoShipper, type ShipperStats } from './shipper.js';
import { StartPhases } from './start-phases.js';
import { FUSE_MARIADBD_ARGS, type FuseDatadir, fuseUnavailableReason, startFuseDatadir, unmountStale } from './datadir-fs/index.js';

export interface ComputeOptions {
  readonly tenantId: string;
  readonly timelineId: string;
  /** `H:P,H:P,H:P` or a list of them (read-write only). */
  readonly safekeepers?: string | readonly string[];
  /**
   * Every safekeeper address the compute may need after a membership change
   * moves its timeline to other nodes (default: `safekeepers`): a list, or a
   * file of `H:P` (comma or newline separated) read again at each change, so
   * nodes added after the start are found.
   */
  readonly safekeeperDirectory?: readonly string[] | { readonly file: string };
  /** `H:P` of the page server. */
  readonly pageserver: string;
  /** The compute's own directory: datadir, socket, error log, state file. */
  readonly dataDir: string;
  readonly port: number;
  readonly readOnly?: boolean;
  /** Read-only computes: the LSN to serve (default: what the page server has ingested). */
  readonly lsn?: bigint;
  readonly name?: string;
  readonly token?: string;
  /** The account the printed connection URL names (default root with no password, as mariadb-install-db leaves it). */
  readonly dbUser?: string;
  readonly dbPassword?: string;
  readonly bufferPoolSize?: string;
  /** The OS account mariadbd runs as when the controller is root (default: STRATA_MARIADBD_USER, else `mysql`). */
  readonly mariadbdUser?: string;
  /**
   * Directories inside which the compute may add the search bit to the
   * ancestors of its datadir, so that account can reach it (the temp
   * directory always): the CLI passes the cluster's home.
   */
  readonly openableRoots?: readonly string[];
  /**
   * Smallest redo log for a read-write compute. The shipper's worst lag must
   * fit in it (the server overwrites redo below its checkpoint), so a
   * basebackup's smaller log is replaced by an equivalent larger one.
   */
  readonly logFileSizeMinBytes?: bigint;
  readonly auxPollMs?: number;
  readonly shipperPollMs?: number;
  /**
   * Where the datadir comes from: `fuse` serves it from the page server through a FUSE filesystem
   * (pages on demand, COMMIT only once the quorum has it); `basebackup` copies every page first;
   * `auto` is fuse where /dev/fuse, fusermount and libfuse2 exist, basebackup elsewhere. Default:
   * STRATA_COMPUTE_STORAGE, else basebackup.
   */
  readonly storage?: 'basebackup' | 'fuse' | 'auto';
  /** FUSE mode: bytes of pages the local file cache holds (default 256 MiB). */
  readonly lfcBytes?: number;
  /** FUSE mode: commits wait while the page server is more than this far behind (ingest-backpressure.ts; default 64 MiB, 0n: never). */
  readonly maxIngestLagBytes?: bigint;
  readonly startTimeoutMs?: number;
  readonly log?: (line: string) => void;
  /** Where the start's phases are timed (the controller logs them once the compute is ready). */
  readonly phases?: StartPhases;
}

/** Neon's max_replication_write_lag is of this order; half the page server's open layer plus one upload (its upload lag bound). */
export const DEFAULT_MAX_INGEST_LAG_BYTES = 64n << 20n;

export type ComputeState = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface ComputeStatus {
  readonly name: string;
  readonly mode: 'read-write' | 'read-only';
  readonly storage: 'basebackup' | 'fuse';
  /** FUSE mode: the local file cache and the pages fetched from the page server. */
  readonly datadirFs: Record<string, number> | null;
  readonly state: ComputeState;
  readonly tenantId: string;
  readonly timelineId: string;
  readonly port: number;
  readonly controllerPid: number;
  readonly mariadbdPid: number;
  readonly startLsn: string;
  readonly term: string | null;
  /**
   * Read-write: members of the timeline's configuration the proposer cannot use (missing the
   * timeline and not yet joined, or lost it): the quorum runs with fewer copies than configured.
   */
  readonly degradedMembers: readonly { readonly nodeId: number; readonly presence: string }[];
  readonly shipper: Record<keyof ShipperStats, string | number> | null;
  readonly auxSetsStored: number;
  readonly lastAuxLsn: string | null;
  /**
   * Unix ms of the last look at the datadir that found its aux files equal
   * to a stored set: every aux change made before it is stored (at an LSN no
   * later than the redo written by then).
   */
  readonly auxCurrentAtMs: number | null;
  readonly error: { code: string; message: string } | null;
}

export interface ComputeExit {
  /** Undefined after a clean stop. */
  readonly error?: ComputeError;
  /** What the quorum holds at the end (read-write), or the served LSN (read-only). */
  readonly lsn: bigint;
}

export interface Compute {
  readonly name: string;
  readonly port: number;
  readonly mariadbdPid: number;
  readonly startLsn: bigint;
  readonly connectionUrl: string;
  readonly datadir: string;
  readonly metrics: Registry;
  status(): ComputeStatus;
  stamps(): readonly LsnStamp[];
  /** Clean stop: shutdown, final ship and commit, final aux set. */
  stop(): Promise<ComputeExit>;
  /** Resolves when the compute has ended, for whatever reason. */
  readonly done: Promise<ComputeExit>;
}

const MIB = 1024n * 1024n;
const GENERATION_RESTARTS_MAX = 5;
const DRAIN_TIMEOUT_MS = 120_000;
const INGEST_TIMEOUT_MS = 120_000;
/** A compute start gives up on a basebackup after this long (as it did before the client was shared). */
const BASEBACKUP_TIMEOUT_MS = 600_000;

export async function startCompute(opts: ComputeOptions): Promise<Compute> {
  // The shipper checks the CRC of every mtr it tails.
  installNativeCrc32c();
  // Looked up first: a machine without the account fails before an election fences another compute.
  const osUser = mariadbdOsUser(opts.mariadbdUser ?? loadComputeEnv().mariadbdUser);
  return opts.readOnly ? startReadOnly(opts, osUser) : startReadWrite(opts, osUser);
}

function stateFile(dataDir: string): string {
  return join(dataDir, 'compute.json');
}

/** Where a compute records itself for `strata compute list/stop`. */
export interface ComputeStateFile {
  readonly name: string;
  readonly controllerPid: number;
  readonly mariadbdPid: number;
  readonly port: number;
  readonly mode: 'read-write' | 'read-only';
  readonly tenantId: string;
  readonly timelineId: string;
  readonly startLsn: string;
  readonly connectionUrl: string;
  readonly controlUrl?: string;
}

/** 0600: the connection URL inside names the database account's password. */
export function writeStateFile(dataDir: string, s: ComputeStateFile): void {
  const file = stateFile(dataDir);
  writeFileSync(file, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  // The mode above applies only when the file is created: an older file keeps its own.
  chmodSync(file, 0o600);
}

export function readStateFile(dataDir: string): ComputeStateFile | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(dataDir), 'utf8')) as ComputeStateFile;
  } catch {
    return undefined;
  }
}

/** basebackup or fuse, from the option, STRATA_COMPUTE_STORAGE and what this machine has. */
function storageOf(opts: ComputeOptions, log: (line: string) => void): 'basebackup' | 'fuse' {
  // FUSE where the machine has it: commits acknowledged only once in the quorum, pages on demand, aux files
  // captured as they change. basebackup is the fallback (no /dev/fuse) and can be forced.
  const asked = opts.storage ?? loadComputeEnv().storage ?? 'auto';
  if (asked === 'basebackup') return 'basebackup';
  const why = fuseUnavailableReason();
  if (why === undefined) return 'fuse';
  if (asked === 'fuse') throw new ComputeError('ComputeStartFailed', `--storage fuse: ${why}`);
  log(`storage: basebackup (FUSE unavailable: ${why})`);
  return 'basebackup';
}

function prepareDirs(dataDir: string): { datadir: string; runDir: string } {
  const root = resolve(dataDir);
  const datadir = join(root, 'datadir');
  const runDir = join(root, 'run');
  // A controller killed with -9 leaves its FUSE mount behind, dead: nothing below it can be removed until it goes.
  unmountStale(datadir);
  // The datadir is disposable: everything durable is in the safekeepers and the page server.
  rmSync(datadir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  return { datadir, runDir };
}

/** The part of what RedoShipper does that the controller drives: the FUSE mode's RedoSink has the same. */
type RedoSource = Pick<RedoShipper, 'start' | 'close' | 'failed' | 'stamps' | 'stats' | 'pause' | 'replaceProposer' | 'drain' | 'shipNow' | 'onCommitLag'>;

function fsStatus(f: FuseDatadir): Record<string, number> {
  const s = f.fs.stats();
  const r = f.redo?.stats();
  return {
    lfcPages: s.lfc.pages,
    lfcBytes: s.lfc.bytes,
    lfcBudgetBytes: s.lfc.budgetBytes,
    lfcHits: s.lfc.hits,
    lfcMisses: s.lfc.misses,
    lfcEvictions: s.lfc.evictions,
    lfcEvictedWritten: s.lfc.evictedWritten,
    pagesFetched: s.pagesFetched,
    getpageBatches: s.batches,
    pagesWritten: s.pagesWritten,
    commitsWaiting: r?.commitsWaiting ?? 0,
    commitWaitMs: r?.commitWaitMs ?? 0,
    fsyncWaits: r?.fsyncWaits ?? 0,
  };
}

function connectionUrl(opts: ComputeOptions): string {
  // mariadbd binds 127.0.0.1 only.
  const user = encodeURIComponent(opts.dbUser ?? 'root');
  return `mysql://${user}:${encodeURIComponent(opts.dbPassword ?? '')}@127.0.0.1:${opts.port}/`;
}

function readLogHead(path: string): redo.LogFileHead {
  const fd = openSync(path, 'r');
  try {
    const head = new Uint8Array(redo.LOG_START_OFFSET);
    readSync(fd, head, 0, head.length, 0);
    return redo.parseLogFileHead(head, BigInt(statSync(path).size));
  } finally {
    closeSync(fd);
  }
}

function logSizeOf(datadir: string): bigint {
  return BigInt(statSync(join(datadir, 'ib_logfile0')).size);
}

async function startReadOnly(opts: ComputeOptions, osUser: OsUser | undefined): Promise<Compute> {
  const log = opts.log ?? (() => {});
  const phases = opts.phases ?? new StartPhases();
  const ps: PageserverTarget = { url: pageserverUrl(opts.pageserver), token: opts.token };
  const tlP = phases.time('timeline', () => timelineDetails(ps, opts.tenantId, opts.timelineId));
  // Settled below on every path; not an unhandled rejection while the rest of the start runs.
  tlP.catch(() => {});
  const storage = storageOf(opts, log);
  const { datadir, runDir } = prepareDirs(opts.dataDir);
  let fused: FuseDatadir | undefined;
  let logFileSizeBytes: bigint;
  let tl: TimelineDetails;
  let lsn: bigint;
  if (storage === 'fuse') {
    lsn = opts.lsn ?? (await tlP).lastRecordLsn;
    // The mount point must be reachable by mariadbd's account before it becomes a FUSE mount.
    if (osUser) handOver(osUser, [runDir], opts.openableRoots ?? []);
    mkdirSync(datadir, { recursive: true });
    if (osUser) handOver(osUser, [datadir], opts.openableRoots ?? []);
    // The timeline's details and the datadir's requests at once: the manifest and the aux set wait on the page
    // server for the LSN to be ingested themselves, so no wait_lsn round trip comes first.
    const [tlR, fusedR] = await Promise.allSettled([
      tlP,
      startFuseDatadir({ ps, tenantId: opts.tenantId, timelineId: opts.timelineId, lsn, mountPoint: datadir, localDir: join(resolve(opts.dataDir), 'local'), readOnly: true, osUser, ...(opts.lfcBytes ? { lfcBytes: opts.lfcBytes } : {}), log, phases }),
    ]);
    if (tlR.status === 'rejected' || fusedR.status === 'rejected') {
      if (fusedR.status === 'fulfilled') await fusedR.value.close();
      throw tlR.status === 'rejected' ? tlR.reason : (fusedR as PromiseRejectedResult).reason;
    }
    tl = tlR.value;
    fused = fusedR.value;
    logFileSizeBytes = fused.logFileSizeBytes;
    log(`storage: fuse at LSN ${lsn}: ${fused.tablespaces} tablespaces served on demand, ${fused.auxFiles} aux files`);
  } else {
    tl = await tlP;
    lsn = opts.lsn ?? tl.lastRecordLsn;
    await phases.time('wait-lsn', () => waitLsn(ps, opts.tenantId, opts.timelineId, lsn, INGEST_TIMEOUT_MS));
    const bb = await phases.time('basebackup', () => basebackup(ps, opts.tenantId, opts.timelineId, datadir, { lsn, timeoutMs: BASEBACKUP_TIMEOUT_MS }));
    log(`storage: basebackup at LSN ${lsn}: ${bb.files} files, ${bb.bytes} bytes`);
    if (osUser) handOver(osUser, [datadir, runDir], opts.openableRoots ?? []);
    logFileSizeBytes = logSizeOf(datadir);
  }
  const mariadbdStartMs = performance.now();
  const m = new Mariadbd({ datadir, runDir, port: opts.port, logFileSizeBytes, pageSize: tl.pageSize, bufferPoolSize: opts.bufferPoolSize ?? '64M', readOnly: true, osUser, ...(fused ? { extraArgs: FUSE_MARIADBD_ARGS, closeFds: fused.deviceFds } : {}) });
  try {
    // The aux files are still being written (the filesystem holds mariadbd's operations until they are): a
    // failure to write them fails the start at once.
    await Promise.all([m.waitReady(opts.startTimeoutMs ?? 120_000), fused?.localReady]);
    phases.record('mariadbd', mariadbdStartMs, performance.now());
    void fused?.removeOldFiles();
  } catch (e) {
    m.kill();
    await m.exited;
    await fused?.close();
    rmSync(datadir, { recursive: true, force: true });
    throw e;
  }
  const name = opts.name ?? `ro-${opts.timelineId.slice(0, 8)}`;
  let state: ComputeState = 'running';
  let error: ComputeError | undefined;
  let finishing: Promise<ComputeExit> | undefined;
  const finish = (err?: ComputeError): Promise<ComputeExit> =>
    (finishing ??= (async () => {
      state = 'stopping';
      await m.shutdown(60_000);
      await fused?.close();
      rmSync(datadir, { recursive: true, force: true });
      error = err;
      state = err ? 'failed' : 'stopped';
      return err ? { error: err, lsn } : { lsn };
    })());
  void m.exited.then((s) => {
    if (!finishing) void finish(new ComputeError('MariadbExited', `mariadbd ${describeExit(s)}:\n${m.errorLogTail()}`));
  });
  const metrics = new Registry();
  const done = m.exited.then(() => finish());
  return {
    name,
    port: opts.port,
    mariadbdPid: m.pid,
    startLsn: lsn,
    connectionUrl: connectionUrl(opts),
    datadir,
    metrics,
    stamps: () => [],
    status: () => ({
      name,
      mode: 'read-only',
      storage,
      datadirFs: fused ? fsStatus(fused) : null,
      state,
      tenantId: opts.tenantId,
      timelineId: opts.timelineId,
      port: opts.port,
      controllerPid: process.pid,
      mariadbdPid: m.pid,
      startLsn: lsn.toString(),
      term: null,
      degradedMembers: [],
      shipper: null,
      auxSetsStored: 0,
      lastAuxLsn: null,
      auxCurrentAtMs: null,
      error: error ? { code: error.code, message: error.message } : null,
    }),
    stop: () => finish(),
    done,
  };
}

function newDriver(opts: ComputeOptions, endpoints: SafekeeperEndpoint[], onFenced: () => void, log: (line: string) => void): ProposerDriver {
  return new ProposerDriver({
    tenantId: opts.tenantId,
    timelineId: opts.timelineId,
    proposerId: (process.pid * 1000 + Math.floor(Math.random() * 1000)) >>> 0,
    safekeepers: endpoints,
    ...(opts.token ? { token: opts.token } : {}),
    // Twice the shipper's batch: an AppendRequest then never cuts an mtr, so the quorum's end is always an mtr end.
    appendBytesMax: 4 << 20,
    onEvent: (e) => {
      if (e.kind === 'elected') log(`proposer elected: term ${e.term}, epoch start ${e.epochStartLsn}, donor ${e.donor}`);
      if (e.kind === 'fenced') onFenced();
    },
  });
}

async function startReadWrite(opts: ComputeOptions, osUser: OsUser | undefined): Promise<Compute> {
  const log = opts.log ?? (() => {});
  if (!opts.safekeepers) throw new ComputeError('ComputeStartFailed', 'a read-write compute needs the safekeepers');
  if (opts.lsn !== undefined) throw new ComputeError('ComputeStartFailed', 'a read-write compute starts at the end of its timeline; --lsn is for read-only computes (or branch at the LSN first)');
  const urls = typeof opts.safekeepers === 'string' ? parseSafekeeperList(opts.safekeepers) : parseSafekeeperList(opts.safekeepers.join(','));
  const ps: PageserverTarget = { url: pageserverUrl(opts.pageserver), token: opts.token };
  // Decided before the election: a compute that cannot run must not fence the one that runs.
  const storage = storageOf(opts, log);
  const phases = opts.phases ?? new StartPhases();
  // Two services asked at once: neither answer depends on the other.
  const [tl, resolved] = await Promise.all([
    phases.time('timeline', () => timelineDetails(ps, opts.tenantId, opts.timelineId)),
    phases.time('safekeepers', () => resolveSafekeepers(urls, opts.token)),
  ]);
  let endpoints = resolved;
  const directory = (): string[] => {
    const d = opts.safekeeperDirectory;
    const listed = d === undefined ? [] : 'file' in d ? readFileSync(d.file, 'utf8').split(/[\s,]+/).filter(Boolean) : [...d];
    return [...new Set([...urls, ...(listed.length ? parseSafekeeperList(listed.join(',')) : [])])];
  };
  await phases.time('ensure-timeline', () => ensureTimeline(endpoints, opts.tenantId, opts.timelineId, tl.initLsn, opts.token, tl.pageSize));

  // Fencing is decided after the driver has recorded the cause: look at it on the next turn.
  let onFenced: () => void = () => {};
  let driver = newDriver(opts, endpoints, () => setImmediate(() => onFenced()), log);
  let startLsn: bigint;
  try {
    startLsn = await phases.time('election', async () => {
      await driver.waitElected(30_000);
      // The epoch start is committed once a quorum has it in our term: only then is it the timeline's end for everyone.
      await driver.waitCommitted(driver.epochStartLsn, 60_000);
      return driver.epochStartLsn;
    });
    if (startLsn < tl.initLsn) throw new ComputeError('ComputeStartFailed', `the safekeepers end at ${startLsn}, before the timeline's start ${tl.initLsn}`);
    log(`timeline ends at ${startLsn}: waiting for the page server`);
    await phases.time('wait-lsn', () => waitLsn(ps, opts.tenantId, opts.timelineId, startLsn, INGEST_TIMEOUT_MS));
  } catch (e) {
    driver.stop();
    throw e;
  }

  const { datadir, runDir } = prepareDirs(opts.dataDir);
  let m: Mariadbd;
  let shipper: RedoSource;
  let fused: FuseDatadir | undefined;
  let flushedWatch: FlushedLsnWatch | undefined;
  let onShipperFatal: (e: ComputeError) => void = () => {};
  // Bound once the aux capture exists: the mount reports changes from mariadbd's first write on.
  let onAuxChange: () => void = () => {};
  try {
    if (storage === 'fuse') {
      if (osUser) handOver(osUser, [runDir], opts.openableRoots ?? []);
      mkdirSync(datadir, { recursive: true });
      // Before the mount: afterwards the mount point is the filesystem's root.
      if (osUser) handOver(osUser, [datadir], opts.openableRoots ?? []);
      fused = await startFuseDatadir({
        ps,
        tenantId: opts.tenantId,
        timelineId: opts.timelineId,
        lsn: startLsn,
        mountPoint: datadir,
        localDir: join(resolve(opts.dataDir), 'local'),
        readOnly: false,
        osUser,
        ...(opts.lfcBytes ? { lfcBytes: opts.lfcBytes } : {}),
        logFileSizeMinBytes: opts.logFileSizeMinBytes ?? 256n * MIB,
        proposer: { get status() { return driver.status; }, get commitLsn() { return driver.commitLsn; }, get endLsn() { return driver.endLsn; }, append: (b, d) => driver.append(b, d), waitCommitted: (l, t) => driver.waitCommitted(l, t) },
        onFatal: (e) => onShipperFatal(e),
        onAuxChange: () => onAuxChange(),
        log,
        phases,
      });
      log(`storage: fuse at LSN ${startLsn}: ${fused.tablespaces} tablespaces served on demand, ${fused.auxFiles} aux files`);
      shipper = fused.redo!;
      m = new Mariadbd({ datadir, runDir, port: opts.port, logFileSizeBytes: fused.logFileSizeBytes, pageSize: tl.pageSize, bufferPoolSize: opts.bufferPoolSize ?? '128M', readOnly: false, osUser, extraArgs: FUSE_MARIADBD_ARGS, closeFds: fused.deviceFds });
    } else {
    const bb = await phases.time('basebackup', () => basebackup(ps, opts.tenantId, opts.timelineId, datadir, { lsn: startLsn, timeoutMs: BASEBACKUP_TIMEOUT_MS }));
    log(`storage: basebackup at LSN ${startLsn}: ${bb.files} files, ${bb.bytes} bytes`);
    const logPath = join(datadir, 'ib_logfile0');
    const minSize = opts.logFileSizeMinBytes ?? 256n * MIB;
    if (logSizeOf(datadir) < minSize) writeFreshLog(logPath, startLsn, minSize);
    const parsed = readLogHead(logPath);
    if (parsed.checkpoint.endLsn !== startLsn) throw new ComputeError('ComputeStartFailed', `the basebackup's log checkpoint is ${parsed.checkpoint.endLsn}, not ${startLsn}`);
    flushedWatch = new FlushedLsnWatch(
      startLsn,
      // Loaded here only: a FUSE compute never needs a client library (mysql2 costs a start ~90 ms to load).
      async () => (await import('mysql2/promise')).default.createConnection({ host: '127.0.0.1', port: opts.port, user: opts.dbUser ?? 'root', password: opts.dbPassword ?? '', connectTimeout: 2000 }),
      log,
    );
    shipper = new RedoShipper({
      logPath,
      startLsn,
      pageSize: tl.pageSize,
      proposer: driver,
      pollMs: opts.shipperPollMs ?? 5,
      onFatal: (e) => onShipperFatal(e),
      flushedLsn: flushedWatch,
    });
    // After the basebackup and the fresh log, which the controller writes as itself.
    if (osUser) handOver(osUser, [datadir, runDir], opts.openableRoots ?? []);
    m = new Mariadbd({ datadir, runDir, port: opts.port, logFileSizeBytes: logSizeOf(datadir), pageSize: tl.pageSize, bufferPoolSize: opts.bufferPoolSize ?? '128M', readOnly: false, osUser });
    }
  } catch (e) {
    driver.stop();
    await fused?.close();
    throw e;
  }
  // Aux files are read from local disk: in FUSE mode never through the mount, which this very thread serves.
  const auxDir = fused ? fused.localDir : datadir;
  // Redo written while the server starts is shipped like any other.
  shipper.start();

  const name = opts.name ?? opts.timelineId.slice(0, 8);
  let state: ComputeState = 'starting';
  let error: ComputeError | undefined;
  let finishing: Promise<ComputeExit> | undefined;
  let generationRestarts = 0;
  let resolveDone: (e: ComputeExit) => void = () => {};
  const done = new Promise<ComputeExit>((r) => {
    resolveDone = r;
  });

  const metrics = new Registry();
  const labels = { compute: name, tenant_id: opts.tenantId, timeline_id: opts.timelineId };
  const commitLag = metrics.register(new Histogram('strata_compute_commit_lag_seconds', 'From an mtr batch appearing in ib_logfile0 to its quorum commit', [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10]));
  shipper.onCommitLag = (ms) => commitLag.observe(ms / 1000, labels);
  const auxCounter = metrics.register(new Counter('strata_compute_aux_sets_stored_total', 'Aux-file sets stored at the page server'));
  const gauge = (metric: string, help: string, f: (s: ShipperStats) => number | bigint) =>
    metrics.register(new CollectedGauge(metric, help, () => [[labels, f(shipper.stats())]]));
  gauge('strata_compute_shipped_lsn', 'End of the redo handed to the proposer', (s) => s.shippedLsn);
  gauge('strata_compute_commit_lsn', 'End of the redo the safekeeper quorum committed', (s) => s.commitLsn);
  gauge('strata_compute_lag_bytes', 'Redo found in the file and not yet committed by the quorum', (s) => s.lagBytes);
  gauge('strata_compute_lag_ms', 'Age of the oldest uncommitted redo batch', (s) => s.lagMs);
  gauge('strata_compute_checkpoint_lsn', "MariaDB's last checkpoint LSN", (s) => s.checkpointLsn);
  gauge('strata_compute_shipped_mtrs', 'Mini-transactions shipped since start', (s) => s.mtrs);

  const aux = new AuxCapture({
    dir: auxDir,
    writtenLsn: () => shipper.shipNow(),
    waitCommitted: (lsn, timeoutMs) => driver.waitCommitted(lsn, timeoutMs),
    store: (lsn, dir) => putAuxSet(ps, opts.tenantId, opts.timelineId, lsn, dir),
    log,
    onStored: () => auxCounter.inc(),
    commitTimeoutMs: DRAIN_TIMEOUT_MS,
    // The FUSE mount reports every change as it happens; a local datadir is compared now and then.
    ...(fused ? {} : { pollMs: opts.auxPollMs ?? 100 }),
  });
  const backpressure = new IngestBackpressure({
    maxLagBytes: opts.maxIngestLagBytes ?? DEFAULT_MAX_INGEST_LAG_BYTES,
    ingestedLsn: async () => (await timelineDetails(ps, opts.tenantId, opts.timelineId, { timeoutMs: 2_000 })).lastRecordLsn,
    log,
  });
  if (fused?.redo) {
    const redo = fused.redo;
    onAuxChange = () => aux.changed();
    redo.barrier = async () => {
      await Promise.all([aux.settled(), backpressure.admit(redo.writtenLsn)]);
    };
    const held = (f: (s: IngestBackpressureStats) => number | bigint) => () => [[labels, f(backpressure.stats())]] as Array<[typeof labels, number | bigint]>;
    metrics.register(new CollectedGauge('strata_compute_ingest_backpressure_waits', 'Commits held since start because the page server was too far behind', held((s) => s.waits)));
    metrics.register(new CollectedGauge('strata_compute_ingest_backpressure_wait_ms', 'Milliseconds commits were held in total', held((s) => s.waitMs)));
    metrics.register(new CollectedGauge('strata_compute_ingest_backpressure_holding', 'Commits held now', held((s) => s.holding)));
  }

  // The shipper's time stamps of committed redo go to the page server's LSN ↔ time map (branch --at).
  let stampsPostedLsn = startLsn;
  let stampsBusy = false;
  let stampsRoute = true;
  const postStamps = async (): Promise<void> => {
    const commit = driver.commitLsn;
    const points = shipper.stamps().filter((p) => p.lsn > stampsPostedLsn && p.lsn <= commit).slice(-10_000);
    const last = points.at(-1);
    if (!last) return;
    stampsRoute = await postLsnTimes(ps, opts.tenantId, opts.timelineId, points);
    if (!stampsRoute) log('the page server keeps no LSN times (no lsn_times route): not reporting them');
    stampsPostedLsn = last.lsn;
  };
  const stampsTimer = setInterval(() => {
    if (stampsBusy || !stampsRoute || finishing) return;
    stampsBusy = true;
    postStamps()
      .catch((e: unknown) => log(`LSN times not reported (retrying): ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => {
        stampsBusy = false;
      });
  }, 1000);

  const finish = (err?: ComputeError): Promise<ComputeExit> =>
    (finishing ??= (async () => {
      state = 'stopping';
      clearInterval(stampsTimer);
      const fenced = err?.code === 'ProposerFencedByTerm';
      if (fenced || err?.code === 'CheckpointOvertookShipper' || err?.code === 'RedoLogChanged') m.kill();
      else await m.shutdown(120_000);
      // No writer is left to race a read: whatever the log holds now is what mariadbd wrote, flushed or not.
      if (flushedWatch) {
        await m.exited;
        flushedWatch.release();
      }
      await aux.stop();
      let end = driver.commitLsn;
      if (!fenced && !shipper.failed) {
        try {
          // Everything mariadbd wrote (after a clean shutdown or a crash) goes to the quorum before we go.
          end = await shipper.drain(DRAIN_TIMEOUT_MS);
          await aux.storeFinal(end);
          if (stampsRoute) await postStamps().catch((e: unknown) => log(`LSN times not reported: ${e instanceof Error ? e.message : String(e)}`));
        } catch (e) {
          const ce = e instanceof ComputeError ? e : new ComputeError('ShipperStalled', `final ship: ${e instanceof Error ? e.message : String(e)}`);
          log(`final ship failed: ${ce.message}`);
          err ??= ce;
          end = driver.commitLsn;
        }
      }
      shipper.close();
      driver.stop();
      // mariadbd has exited: nothing holds a file of the mount any more.
      await fused?.close();
      error = err;
      state = err ? 'failed' : 'stopped';
      const st = shipper.stats();
      log(`shipper: ${st.mtrs} mtrs, ${st.bytes} bytes; commit lag p50 ${st.commitLagP50Ms} ms, p99 ${st.commitLagP99Ms} ms`);
      log(err ? `compute stopped (${err.code}); everything up to LSN ${end} is committed` : `compute stopped cleanly at LSN ${end}`);
      const result = err ? { error: err, lsn: end } : { lsn: end };
      resolveDone(result);
      return result;
    })());

  onShipperFatal = (e) => {
    log(`shipper: ${e.message}`);
    void finish(e);
  };
  onFenced = () => {
    const f = driver.fence;
    if (!f || finishing) return;
    if (f.fencedBy === 'term' || generationRestarts >= GENERATION_RESTARTS_MAX) {
      // Another compute owns the timeline: not one more write may reach a client as committed.
      m.kill();
      void finish(new ComputeError('ProposerFencedByTerm', `${f.message}: another compute took timeline ${opts.timelineId}; mariadbd killed`));
      return;
    }
    generationRestarts++;
    log(`configuration changed (${f.reason}): restarting the proposer`);
    shipper.pause();
    const old = driver;
    old.stop();
    // The new configuration may name other nodes: find them among the addresses we know.
    let candidate: ProposerDriver | undefined;
    void Promise.resolve()
      .then(() => endpointsOfCurrentConf(directory(), opts.tenantId, opts.timelineId, opts.token))
      .then((found) => {
        endpoints = found;
        log(`proposer restarts on safekeepers ${found.map((e) => e.nodeId).join(',')}`);
        candidate = newDriver(opts, endpoints, () => setImmediate(() => onFenced()), log);
        driver = candidate;
        return candidate;
      })
      .then((next) => next.waitElected(30_000).then(() => next))
      .then((next) => {
        shipper.replaceProposer(next, next.epochStartLsn);
        // Only changes in quick succession that never settle count against the limit.
        generationRestarts = 0;
      })
      .catch((e: unknown) => {
        // Fenced by a newer generation while being elected (a membership change moves the generation twice, and
        // changes may follow each other): its fence callback restarts it again, up to the limit. Not a failure here.
        if (candidate?.fence && candidate.fence.fencedBy !== 'term') return;
        m.kill();
        void finish(new ComputeError('ProposerFencedByTerm', `no new proposer after a configuration change: ${e instanceof Error ? e.message : String(e)}`));
      });
  };
  void m.exited.then((s) => {
    if (!finishing) void finish(new ComputeError('MariadbExited', `mariadbd ${describeExit(s)} unexpectedly; the last lines of its error log:\n${m.errorLogTail(3)}`));
  });

  const mariadbdStartMs = performance.now();
  try {
    // FUSE: the aux files may still be being written (the filesystem holds mariadbd's operations until they are).
    await Promise.all([m.waitReady(opts.startTimeoutMs ?? 120_000), fused?.localReady]);
    phases.record('mariadbd', mariadbdStartMs, performance.now());
    void fused?.removeOldFiles();
  } catch (e) {
    const ce = e instanceof ComputeError ? e : new ComputeError('ComputeStartFailed', String(e));
    await finish(ce);
    throw ce;
  }
  if (!finishing) state = 'running';
  flushedWatch?.activate();
  log(`mariadbd ready on port ${opts.port} (pid ${m.pid}), shipping redo from LSN ${startLsn}`);

  return {
    name,
    port: opts.port,
    mariadbdPid: m.pid,
    startLsn,
    connectionUrl: connectionUrl(opts),
    datadir,
    metrics,
    stamps: () => shipper.stamps(),
    status: () => {
      const s = shipper.stats();
      return {
        name,
        mode: 'read-write',
        storage,
        datadirFs: fused ? fsStatus(fused) : null,
        state,
        tenantId: opts.tenantId,
        timelineId: opts.timelineId,
        port: opts.port,
        controllerPid: process.pid,
        mariadbdPid: m.pid,
        startLsn: startLsn.toString(),
        term: driver.term.toString(),
        degradedMembers: driver.degradedMembers,
        shipper: Object.fromEntries(Object.entries(s).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v])) as Record<keyof ShipperStats, string | number>,
        auxSetsStored: aux.setsStored,
        lastAuxLsn: aux.lastLsn?.toString() ?? null,
        auxCurrentAtMs: aux.currentAtMs ?? null,
        error: error ? { code: error.code, message: error.message } : null,
      };
    },
    stop: () => finish(),
    done,
  };
}

