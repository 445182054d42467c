/**
 * Rebuild one page from what the layers hold: an optional base image and the
 * page's changes above it, in LSN order.
 */
import type { ChecksumAlgorithm } from '../redo/page.js';
import { type PageChange, replayPage } from '../redo/replay.js';

export type ReconstructResult =
  | { readonly kind: 'page'; readonly page: Uint8Array; readonly lsn: bigint }
  /** The page was freed (or never existed) as of the LSN: MariaDB would read zeros. */
  | { readonly kind: 'absent' };

/**
 * `changes` must be ascending and all start at or above the image's LSN.
 * Returns a fresh page buffer (the image is not modified).
 */
export function reconstructPage(
  image: { readonly page: Uint8Array; readonly lsn: bigint } | undefined,
  changes: readonly PageChange[],
  pageSize: number,
  algorithm: ChecksumAlgorithm,
): ReconstructResult {
  const page = new Uint8Array(pageSize);
  if (image) page.set(image.page);
  if (!image && changes.length === 0) return { kind: 'absent' };
  const r = replayPage(page, changes, algorithm);
  if (r.freed) return { kind: 'absent' };
  if (!image && r.applied === 0) return { kind: 'absent' };
  // An image stored without a stamp (e.g. imported as is) keeps its own LSN and checksum.
  if (r.applied === 0 && image) return { kind: 'page', page, lsn: image.lsn };
  return { kind: 'page', page, lsn: r.lsn };
}
