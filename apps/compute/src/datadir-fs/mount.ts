/**
 * Mounting the datadir filesystem with fuse-native (libfuse2), unmounting
 * it, and finding out whether this machine can (the fallback to basebackup
 * mode where it cannot).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
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

/** Why FUSE mode cannot run here, or undefined when it can. */
export function fuseUnavailableReason(): string | undefined {
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse (a container without the FUSE device?)';
  if (spawnSync('sh', ['-c', 'command -v fusermount'], { stdio: 'ignore' }).status !== 0) return 'no fusermount (install the Debian package fuse)';
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

/** Lazily unmount whatever is mounted at `dir` (a controller killed with -9 leaves its mount dead). */
export function unmountStale(dir: string): void {
  if (!isMountPoint(dir)) return;
  spawnSync('fusermount', ['-uz', resolve(dir)], { stdio: 'ignore' });
  if (isMountPoint(dir)) execFileSync('umount', ['-l', resolve(dir)], { stdio: 'ignore' });
}

export interface MountOptions {
  readonly allowOther: boolean;
}

export interface Mounted {
  readonly mountPoint: string;
  unmount(): Promise<void>;
}

export async function mountFs(mountPoint: string, ops: Record<string, unknown>, o: MountOptions): Promise<Mounted> {
  const Fuse = loadFuse();
  if (!Fuse) throw new ComputeError('ComputeStartFailed', `FUSE mode: ${fuseUnavailableReason() ?? 'fuse-native missing'}`);
  unmountStale(mountPoint);
  // No per-op timeout: an fsync of the log waits for the quorum as long as it takes.
  const fuse = new Fuse(mountPoint, ops, { timeout: false, force: true, mkdir: true, allowOther: o.allowOther, defaultPermissions: o.allowOther, fsname: 'strata', subtype: 'strata' });
  await new Promise<void>((res, rej) => fuse.mount((e) => (e ? rej(new ComputeError('ComputeStartFailed', `cannot mount the datadir at ${mountPoint}: ${e.message}`)) : res())));
  let unmounting: Promise<void> | undefined;
  return {
    mountPoint,
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
