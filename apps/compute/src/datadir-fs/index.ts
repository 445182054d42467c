/**
 * A compute's datadir as a FUSE filesystem (issue 12): fetch the manifest
 * and the aux set at the LSN, write a fresh ib_logfile0 whose checkpoint is
 * the LSN, open the GetPage stream, mount. Nothing else is copied.
 */
import { chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { datadirManifest, type DatadirManifest, getAuxSet, PageserverClient, type PageserverTarget } from '@strata/client';
import type { AuxFile } from '@strata/core';
import type { GetPageRequest } from '@strata/core/getpage';
import { writeFreshLog } from '@strata/datadir';
import type { ComputeError } from '../errors.js';
import type { OsUser } from '../os-user.js';
import type { ShipperProposer } from '../shipper.js';
import { DatadirFs } from './filesystem.js';
import { type Mounted, mountFs, unmountStale } from './mount.js';
import { RedoSink } from './redo-sink.js';
import { emptyDirNow, removeAside, writeAuxFiles } from './local-dir.js';
import { StartPhases } from '../start-phases.js';

export { fuseUnavailableReason, isMountPoint, unmountStale } from './mount.js';
export { DatadirFs, type DatadirFsStats } from './filesystem.js';
export { RedoSink } from './redo-sink.js';
export { LocalFileCache } from './lfc.js';

/** What mariadbd needs on top of its usual arguments to run on the FUSE datadir. */
export const FUSE_MARIADBD_ARGS: readonly string[] = [
  // Page writes need no local durability: a torn page is fetched again from the page server.
  '--innodb-doublewrite=0',
];

export interface FuseDatadirOptions {
  readonly ps: PageserverTarget;
  readonly tenantId: string;
  readonly timelineId: string;
  readonly lsn: bigint;
  /** The mount point (the datadir mariadbd is given). */
  readonly mountPoint: string;
  /** Aux files, temporary files and the local copy of ib_logfile0. */
  readonly localDir: string;
  readonly readOnly: boolean;
  readonly osUser: OsUser | undefined;
  readonly lfcBytes?: number;
  /** Read-write: the log is at least this large (the basebackup mode's rule). */
  readonly logFileSizeMinBytes?: bigint;
  /** Read-write: the proposer the sink appends to, and what to do when the redo cannot be shipped. */
  readonly proposer?: ShipperProposer;
  readonly onFatal?: (e: ComputeError) => void;
  readonly onAuxChange?: (rel: string) => void;
  readonly log?: (line: string) => void;
  readonly phases?: StartPhases;
}

export interface FuseDatadir {
  readonly fs: DatadirFs;
  readonly redo: RedoSink | undefined;
  readonly localDir: string;
  readonly logFileSizeBytes: bigint;
  readonly pageSize: number;
  readonly tablespaces: number;
  readonly auxFiles: number;
  /** Descriptors mariadbd must not inherit (MariadbdOptions.closeFds). */
  readonly deviceFds: readonly number[];
  /**
   * Resolves once the aux files are written (the filesystem's operations wait for it). Rejects if they
   * cannot be: then the compute must not start.
   */
  readonly localReady: Promise<void>;
  /**
   * Removes the previous start's local files, moved aside at this start: call it once mariadbd is up, since
   * the removal would compete with mariadbd's start for libuv's thread pool. Never rejects.
   */
  removeOldFiles(): Promise<void>;
  /** Unmount (mariadbd must have exited), close the stream. */
  close(): Promise<void>;
}

const MANIFEST_WAIT_MS = 120_000;
/**
 * Pages of ibdata1 fetched right after the mount, while mariadbd is exec'd: the first five extents hold what
 * InnoDB reads at start one page at a time (FSP header, TRX_SYS, rollback segment and dictionary headers, the
 * doublewrite buffer at 64..191, the dictionary's first index pages). 5 MiB at 16 KiB pages.
 */
const SYSTEM_WARM_PAGES = 320;
/** About a minute of retries before a page read fails. */
const GETPAGE_ATTEMPTS_MAX = 35;

export async function startFuseDatadir(o: FuseDatadirOptions): Promise<FuseDatadir> {
  const phases = o.phases ?? new StartPhases();
  const connect = (): Promise<PageserverClient> => PageserverClient.connect({ url: o.ps.url, tenantId: o.tenantId, timelineId: o.timelineId, token: o.ps.token });
  // Three independent round trips at once. Each of the two reads waits on the page server until it has ingested
  // the LSN, and answers as of exactly that LSN: no page or aux file from before the start.
  const streamP = phases.time('getpage-stream', connect);
  let manifest: DatadirManifest;
  let aux: AuxFile[];
  try {
    [manifest, aux] = await Promise.all([
      phases.time('manifest', () => datadirManifest(o.ps, o.tenantId, o.timelineId, o.lsn, MANIFEST_WAIT_MS)),
      phases.time('aux', () => getAuxSet(o.ps, o.tenantId, o.timelineId, o.lsn, MANIFEST_WAIT_MS)),
    ]);
  } catch (e) {
    streamP.then(
      (s) => s.close(),
      () => {},
    );
    throw e;
  }
  let stream: PageserverClient | undefined = await streamP;
  const localStartMs = performance.now();
  unmountStale(o.mountPoint);
  // The previous start's files are moved aside, and removed once mariadbd is up (removeOldFiles).
  emptyDirNow(o.localDir);
  const minSize = o.readOnly ? 0n : (o.logFileSizeMinBytes ?? 256n << 20n);
  const logFileSizeBytes = manifest.logFileSize > minSize ? manifest.logFileSize : minSize;
  writeFreshLog(join(o.localDir, 'ib_logfile0'), o.lsn, logFileSizeBytes);
  phases.record('local-dir', localStartMs, performance.now());
  // The aux files are written once the mount is up (the mount's own stats of the mount point would queue behind
  // the writes in libuv's thread pool), while mariadbd starts; the filesystem holds every operation until they
  // are all there (gate.ts), so mariadbd never sees the datadir without them.
  let mountedNow: () => void = () => {};
  const localReady = new Promise<void>((r) => (mountedNow = r)).then(() => phases.time('aux-files', () => writeAuxFiles(o.localDir, aux)));
  // Settled by the gate and by the caller; a failure must not also be an unhandled rejection here.
  localReady.catch(() => {});

  const getPages = async (batch: readonly GetPageRequest[], waitMs: number) => {
    // A dropped stream (the page server restarted, or cut a connection while busy) is opened again, with a
    // growing pause: a read that fails is an I/O error for mariadbd, which InnoDB does not survive.
    for (let attempt = 1; ; attempt++) {
      try {
        stream ??= await connect();
        return await stream.getPages(batch, { waitMs });
      } catch (e) {
        stream?.close();
        stream = undefined;
        if (attempt >= GETPAGE_ATTEMPTS_MAX) throw e;
        o.log?.(`GetPage stream failed (${e instanceof Error ? e.message : String(e)}): opening it again (attempt ${attempt + 1})`);
        await new Promise((r) => setTimeout(r, Math.min(2_000, 50 * 2 ** attempt)));
      }
    }
  };

  let sinkRef: RedoSink | undefined;
  const fs = new DatadirFs({
    localDir: o.localDir,
    pageSize: manifest.pageSize,
    tablespaces: manifest.tablespaces,
    lsn: o.lsn,
    getPages,
    readOnly: o.readOnly,
    uid: o.osUser?.uid ?? process.getuid?.() ?? 0,
    gid: o.osUser?.gid ?? process.getgid?.() ?? 0,
    lfcBytes: o.lfcBytes ?? 256 << 20,
    localReady,
    ...(o.onAuxChange ? { onAuxChange: o.onAuxChange } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  if (!o.readOnly) {
    if (!o.proposer || !o.onFatal) throw new Error('a read-write FUSE datadir needs a proposer');
    sinkRef = new RedoSink({
      startLsn: o.lsn,
      pageSize: manifest.pageSize,
      // A fresh log starts at its checkpoint: its first LSN is the start LSN, at the first data byte.
      geometry: { firstLsn: o.lsn, fileSize: logFileSizeBytes },
      proposer: o.proposer,
      readFile: (off, len) => fs.readLog(off, len),
      onFatal: o.onFatal,
    });
    fs.attachRedo(sinkRef);
  }
  mkdirSync(o.mountPoint, { recursive: true });
  if (o.osUser) chownSync(o.mountPoint, o.osUser.uid, o.osUser.gid);
  let mounted: Mounted;
  try {
    mounted = await phases.time('mount', () => mountFs(o.mountPoint, fs.ops(), { allowOther: o.osUser !== undefined }));
    mountedNow();
    fs.warm('ibdata1', SYSTEM_WARM_PAGES);
  } catch (e) {
    stream?.close();
    fs.close();
    throw e;
  }
  let closing: Promise<void> | undefined;
  return {
    fs,
    redo: sinkRef,
    localDir: o.localDir,
    logFileSizeBytes,
    pageSize: manifest.pageSize,
    tablespaces: manifest.tablespaces.length,
    auxFiles: aux.length,
    deviceFds: mounted.deviceFds,
    localReady,
    removeOldFiles: () => removeAside(o.localDir),
    close: () =>
      (closing ??= (async () => {
        await mounted.unmount();
        stream?.close();
        fs.close();
      })()),
  };
}
