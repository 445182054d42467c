/**
 * The native CRC-32C (SSE4.2 through @node-rs/crc32) for processes that
 * checksum a lot: redo frames, page stamps, layer values. Core's pure code
 * stays the reference and the fallback.
 */
import { createRequire } from 'node:module';
import { redo } from '@strata/core';

type NativeCrc32c = (input: Uint8Array, initialState?: number) => number;

/** Installs the native CRC-32C; false (pure code kept) when the addon cannot load on this platform. */
export function installNativeCrc32c(): boolean {
  let native: NativeCrc32c;
  try {
    // require: a missing prebuilt binary for this platform must be a fallback, not a failed import.
    native = (createRequire(import.meta.url)('@node-rs/crc32') as { crc32c: NativeCrc32c }).crc32c;
  } catch {
    return false;
  }
  redo.useCrc32cAccelerator((bytes, crc) => native(bytes, crc));
  return true;
}
