import { InvalidRemoteKey } from './errors.js';

export interface RequestOptions {
  /** Aborts the request (a caller's timeout); the call then rejects. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * A flat key → bytes store: object storage or a local directory standing in
 * for it. Keys are relative, '/'-separated paths such as
 * `tenants/<t>/timelines/<tl>/wal/000000000100000000.zst`.
 */
export interface RemoteStorage {
  /** Where this storage lives, for logs and status pages (no credentials). */
  readonly description: string;
  /**
   * Writes the whole object; a reader sees the old bytes or the new, never a
   * mix. `signal` aborts a request that hangs (the object is then either
   * written whole or not at all).
   */
  put(key: string, bytes: Uint8Array, options?: RequestOptions): Promise<void>;
  /**
   * `put` of a local file's bytes, returning how many. A layer is tens of
   * MiB: read (or copied) in one request to the thread pool, not in 512 KiB
   * turns of an event loop that ingest keeps busy (uploads starved behind
   * ingest during a bulk load, 1.2 GiB queued). A missing `localPath` fails
   * with the file system's own ENOENT error, not a storage error.
   */
  putFile(key: string, localPath: string, options?: RequestOptions): Promise<number>;
  /** The whole object, or undefined when there is none. */
  get(key: string): Promise<Uint8Array | undefined>;
  /**
   * Bytes `[offset, offset + length)` clipped to the object's end (empty when
   * `offset` is at or past the end), or undefined when there is no object.
   */
  getRange(key: string, offset: number, length: number): Promise<Uint8Array | undefined>;
  /** Every key that starts with `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Removes the object; deleting a missing key is not an error. */
  delete(key: string, options?: RequestOptions): Promise<void>;
  /** Releases sockets or handles. */
  close(): Promise<void>;
}

/** Marks our in-flight temp files in the directory backend; no key may contain it. */
export const TEMP_MARKER = '.strata-tmp-';

export function checkKey(key: string): void {
  if (key.length === 0) throw new InvalidRemoteKey(key, 'empty');
  if (key.length > 1024) throw new InvalidRemoteKey(key, 'longer than 1024 characters');
  if (key.startsWith('/')) throw new InvalidRemoteKey(key, 'must be relative');
  if (key.includes('\\') || key.includes('\0')) throw new InvalidRemoteKey(key, 'backslash or NUL');
  if (key.includes(TEMP_MARKER)) throw new InvalidRemoteKey(key, `contains the reserved "${TEMP_MARKER}"`);
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new InvalidRemoteKey(key, 'empty, "." or ".." path segment');
    }
  }
}

/** A list prefix is a key's beginning: it may be empty or end in '/'. */
export function checkPrefix(prefix: string): void {
  if (prefix === '') return;
  checkKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}

export function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`offset ${offset} must be a non-negative integer`);
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`length ${length} must be a non-negative integer`);
}
