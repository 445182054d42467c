import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, mkdir, open, readdir, rename, unlink, readFile, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { RemoteStorageIoError } from './errors.js';
import { checkKey, checkPrefix, checkRange, TEMP_MARKER, type RemoteStorage } from './types.js';

function isNotFound(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** fsync a directory so that a rename or unlink in it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = await open(dir, 'r');
  try {
    await fd.sync();
  } finally {
    await fd.close();
  }
}

/**
 * Writes `bytes` to `path` so that after a crash the file holds the old bytes
 * or the new ones: write a temp file beside it, fsync it, rename it over,
 * fsync the directory.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `${TEMP_MARKER}${randomBytes(6).toString('hex')}`);
  const fd = await open(tmp, 'wx', 0o644);
  try {
    await fd.writeFile(bytes);
    await fd.sync();
  } catch (e) {
    await fd.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fd.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fsyncDir(dir);
}

/** A local directory that stands in for object storage (tests, single-machine clusters). */
export class LocalFsStorage implements RemoteStorage {
  readonly description: string;

  constructor(readonly root: string) {
    this.description = `file://${root}`;
  }

  private pathOf(key: string): string {
    checkKey(key);
    return join(this.root, ...key.split('/'));
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const path = this.pathOf(key);
    try {
      await mkdir(dirname(path), { recursive: true });
      await writeFileAtomic(path, bytes);
    } catch (e) {
      throw new RemoteStorageIoError('put', key, e);
    }
  }

  async putFile(key: string, localPath: string): Promise<number> {
    const path = this.pathOf(key);
    const dir = dirname(path);
    try {
      await mkdir(dir, { recursive: true });
    } catch (e) {
      throw new RemoteStorageIoError('put', key, e);
    }
    const tmp = join(dir, `${TEMP_MARKER}${randomBytes(6).toString('hex')}`);
    try {
      // One request: the kernel copies (copy_file_range), nothing passes through the event loop.
      await copyFile(localPath, tmp, constants.COPYFILE_EXCL);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      // The directory was just made: ENOENT is the source's, and the caller tells a replaced layer from a failure by it.
      if (isNotFound(e)) throw e;
      throw new RemoteStorageIoError('put', key, e);
    }
    try {
      const fd = await open(tmp, 'r+');
      let bytes: number;
      try {
        await fd.sync();
        bytes = (await fd.stat()).size;
      } finally {
        await fd.close();
      }
      await rename(tmp, path);
      await fsyncDir(dir);
      return bytes;
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw new RemoteStorageIoError('put', key, e);
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const path = this.pathOf(key);
    try {
      return new Uint8Array(await readFile(path));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw new RemoteStorageIoError('get', key, e);
    }
  }

  async getRange(key: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    checkRange(offset, length);
    const path = this.pathOf(key);
    let fd;
    try {
      fd = await open(path, 'r');
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw new RemoteStorageIoError('getRange', key, e);
    }
    try {
      const size = (await fd.stat()).size;
      const n = Math.max(0, Math.min(length, size - offset));
      const out = new Uint8Array(n);
      let done = 0;
      // A regular file returns short reads only at its end, which `n` already excludes.
      while (done < n) {
        const { bytesRead } = await fd.read(out, done, n - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return out.subarray(0, done);
    } catch (e) {
      throw new RemoteStorageIoError('getRange', key, e);
    } finally {
      await fd.close();
    }
  }

  async list(prefix: string): Promise<string[]> {
    checkPrefix(prefix);
    // Only walk the deepest directory the prefix names.
    const slash = prefix.lastIndexOf('/');
    const startDir = slash < 0 ? this.root : join(this.root, ...prefix.slice(0, slash).split('/'));
    const keys: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if (isNotFound(e)) return;
        throw e;
      }
      for (const entry of entries) {
        if (entry.name.startsWith(TEMP_MARKER)) continue;
        const full = join(dir, entry.name);
        if (entry.isDirectory()) {
          await walk(full);
        } else if (entry.isFile()) {
          const key = relative(this.root, full).split(sep).join('/');
          if (key.startsWith(prefix)) keys.push(key);
        }
      }
    };
    try {
      await walk(startDir);
    } catch (e) {
      throw new RemoteStorageIoError('list', prefix, e);
    }
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    try {
      await unlink(path);
      await fsyncDir(dirname(path));
    } catch (e) {
      if (isNotFound(e)) return;
      throw new RemoteStorageIoError('delete', key, e);
    }
  }

  async close(): Promise<void> {}

  /** Whether the root exists; for status pages. */
  async exists(): Promise<boolean> {
    return stat(this.root).then(
      () => true,
      () => false,
    );
  }
}
