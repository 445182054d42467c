/**
 * Mounting the datadir filesystem with fuse-native (libfuse2), unmounting
 * it, and finding out whether this machine can (the fallback to basebackup
 * mode where it cannot).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join, resolve } from 'node:path';
import { loadComputeEnv } from '../env.js';
import { ComputeError } from '../errors.js';

interface FuseInstance {
  mount(cb: (err: Error | null) => void): void;
  unmount(cb: (err: Error | null) => void): void;
}
type FuseCtor = new (mnt: string, ops: Record<string, unknown>, opts: Record<string, unknown>) => FuseInstance;

const require = createRequire(import.meta.url);
let fuseModule: FuseCtor | undefined;
let loadError: string | undefined;

function loadFuse(): FuseCtor | undefined {
  if (fuseModule || loadError) return fuseModule;
  try {
    fuseModule = require('fuse-native') as FuseCtor;
  } catch (e) {
    loadError = e instanceof Error ? e.message.split('\n')[0] : String(e);
  }
  return fuseModule;
}

/** Whether an executable `name` is in a directory of PATH (a look, not a shell: spawning one costs a start ~15 ms). */
function onPath(name: string, searchPath: string): boolean {
  return searchPath.split(delimiter).some((dir) => {
    if (dir === '') return false;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Why FUSE mode cannot run here, or undefined when it can. */
export function fuseUnavailableReason(searchPath = loadComputeEnv().searchPath): string | undefined {
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse (a container without the FUSE device?)';
  if (!onPath('fusermount', searchPath)) return 'no fusermount (install the Debian package fuse)';
  if (!loadFuse()) return `fuse-native does not load: ${loadError ?? 'unknown error'} (install libfuse2)`;
  return undefined;
}

/** Whether `dir` is a mount point now (a live or a dead FUSE mount). */
export function isMountPoint(dir: string): boolean {
  const abs = resolve(dir);
  try {
    return readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .some((l) => l.split(' ')[1]?.replace(/\\040/g, ' ') === abs);
  } catch {
    return false;
  }
}

/** Descriptors of this process open on /dev/fuse. */
export function fuseDeviceFds(): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${e}`) === '/dev/fuse') out.push(Number(e));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** The FUSE connection number of the mount at `dir` (its device's minor), from mountinfo. */
function connectionOf(dir: string): string | undefined {
  const abs = resolve(dir);
  try {
    for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const f = l.split(' ');
      if (f[4] === abs && f[2]?.startsWith('0:')) return f[2].slice(2);
    }
  } catch {
    // no mountinfo: nothing to abort
  }
  return undefined;
}

/**
 * Abort the FUSE connection of the mount at `dir` (fusectl): every request
 * waiting on a dead controller fails at once, so a mariadbd blocked in it
 * can finish dying. Root only; a no-op elsewhere.
 */
function abortConnection(dir: string): void {
  const conn = connectionOf(dir);
  if (!conn) return;
  if (!existsSync('/sys/fs/fuse/connections/') || readdirSync('/sys/fs/fuse/connections/').length === 0) {
    spawnSync('mount', ['-t', 'fusectl', 'none', '/sys/fs/fuse/connections'], { stdio: 'ignore' });
  }
  try {
    writeFileSync(`/sys/fs/fuse/connections/${conn}/abort`, '1');
  } catch {
    // not root, or the connection is gone already
  }
}

/** Lazily unmount whatever is mounted at `dir` (a controller killed with -9 leaves its mount dead). */
export function unmountStale(dir: string): void {
  if (!isMountPoint(dir)) return;
  abortConnection(dir);
  spawnSync('fusermount', ['-uz', resolve(dir)], { stdio: 'ignore' });
  if (isMountPoint(dir)) execFileSync('umount', ['-l', resolve(dir)], { stdio: 'ignore' });
}

export interface MountOptions {
  readonly allowOther: boolean;
}

export interface Mounted {
  readonly mountPoint: string;
  /** This mount's /dev/fuse descriptors: no child process may inherit them (see MariadbdOptions.closeFds). */
  readonly deviceFds: readonly number[];
  unmount(): Promise<void>;
}

export async function mountFs(mountPoint: string, ops: Record<string, unknown>, o: MountOptions): Promise<Mounted> {
  const Fuse = loadFuse();
  if (!Fuse) throw new ComputeError('ComputeStartFailed', `FUSE mode: ${fuseUnavailableReason() ?? 'fuse-native missing'}`);
  unmountStale(mountPoint);
  const before = new Set(fuseDeviceFds());
  // No per-op timeout: an fsync of the log waits for the quorum as long as it takes.
  const fuse = new Fuse(mountPoint, ops, { timeout: false, force: true, mkdir: true, allowOther: o.allowOther, defaultPermissions: o.allowOther, fsname: 'strata', subtype: 'strata' });
  await new Promise<void>((res, rej) => fuse.mount((e) => (e ? rej(new ComputeError('ComputeStartFailed', `cannot mount the datadir at ${mountPoint}: ${e.message}`)) : res())));
  let unmounting: Promise<void> | undefined;
  return {
    mountPoint,
    deviceFds: fuseDeviceFds().filter((fd) => !before.has(fd)),
    unmount: () =>
      (unmounting ??= new Promise<void>((res) =>
        fuse.unmount((e) => {
          // Busy (a process still has a file open): detach lazily, the kernel finishes once it closes.
          if (e) unmountStale(mountPoint);
          res();
        }),
      )),
  };
}
