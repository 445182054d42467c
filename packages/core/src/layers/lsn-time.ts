/**
 * The LSN ↔ time map of a timeline: points `(lsn, timeMs)` meaning "every
 * change up to `lsn` was committed at or before `timeMs`". The compute's
 * shipper reports commit times; the page server adds the time it ingested a
 * batch as a fallback. Either way a point's time is an upper bound on when
 * its LSN was committed, so the answer to "the last LSN at or before T" never
 * includes a change made after T (it may stop a little short of T).
 */
import { assert } from '../assert.js';

/** Points a timeline keeps: about 5.5 hours at one a second, far longer at the shipper's commit rate when idle. */
export const LSN_TIME_POINTS_MAX = 20_000;

export interface LsnTimePoint {
  readonly lsn: bigint;
  readonly timeMs: number;
}

/**
 * Merge `add` into `points` (sorted by LSN): one point per LSN (the earlier
 * time), and times made non-decreasing in LSN order by lowering a time to a
 * later point's (a later point says everything below it was committed by
 * then). Keeps at most `maxPoints`, dropping the oldest.
 */
export function mergeLsnTimes(points: readonly LsnTimePoint[], add: readonly LsnTimePoint[], maxPoints: number): LsnTimePoint[] {
  assert(maxPoints > 0, 'maxPoints must be positive');
  const byLsn = new Map<bigint, number>();
  for (const p of [...points, ...add]) {
    assert(Number.isFinite(p.timeMs), 'time must be finite');
    const t = byLsn.get(p.lsn);
    if (t === undefined || p.timeMs < t) byLsn.set(p.lsn, p.timeMs);
  }
  const sorted = [...byLsn].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: LsnTimePoint[] = new Array<LsnTimePoint>(sorted.length);
  let min = Infinity;
  for (let i = sorted.length - 1; i >= 0; i--) {
    const [lsn, timeMs] = sorted[i]!;
    min = Math.min(min, timeMs);
    out[i] = { lsn, timeMs: min };
  }
  return out.length > maxPoints ? out.slice(out.length - maxPoints) : out;
}

/** The highest LSN known committed at or before `timeMs`, or undefined if every point is later. Points as `mergeLsnTimes` leaves them. */
export function lsnAtTime(points: readonly LsnTimePoint[], timeMs: number): bigint | undefined {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]!.timeMs <= timeMs) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? undefined : points[lo - 1]!.lsn;
}

/** Drop points below `lsn` except the newest of them (it still answers times just before `lsn`). */
export function trimLsnTimes(points: readonly LsnTimePoint[], lsn: bigint): LsnTimePoint[] {
  let firstKept = points.findIndex((p) => p.lsn >= lsn);
  if (firstKept === -1) firstKept = points.length;
  return points.slice(Math.max(0, firstKept - 1));
}
