/**
 * A page key: (space id, page number), ordered by space then page. Layer
 * files cover half-open key ranges [start, end).
 */
export interface PageKey {
  readonly spaceId: number;
  readonly pageNo: number;
}

export const KEY_MIN: PageKey = { spaceId: 0, pageNo: 0 };
/** Exclusive upper bound above every real key. */
export const KEY_MAX: PageKey = { spaceId: 0xffffffff, pageNo: 0xffffffff };

export function compareKeys(a: PageKey, b: PageKey): number {
  return a.spaceId !== b.spaceId ? a.spaceId - b.spaceId : a.pageNo - b.pageNo;
}

export function keyInRange(k: PageKey, start: PageKey, end: PageKey): boolean {
  return compareKeys(k, start) >= 0 && compareKeys(k, end) < 0;
}

/** The key right after `k` (for making an exclusive end from an inclusive last key). */
export function nextKey(k: PageKey): PageKey {
  return k.pageNo === 0xffffffff ? { spaceId: k.spaceId + 1, pageNo: 0 } : { spaceId: k.spaceId, pageNo: k.pageNo + 1 };
}

export function keyString(k: PageKey): string {
  return `${k.spaceId.toString(16).padStart(8, '0')}${k.pageNo.toString(16).padStart(8, '0')}`;
}

export function parseKeyString(s: string): PageKey | undefined {
  if (!/^[0-9a-f]{16}$/.test(s)) return undefined;
  return { spaceId: parseInt(s.slice(0, 8), 16), pageNo: parseInt(s.slice(8), 16) };
}
