/** The point of a time-sorted series nearest to `t` (binary search: a series has a few hundred points). */
export function nearestPoint<P extends { t: number }>(points: readonly P[], t: number): P | undefined {
  if (points.length === 0) return undefined;
  let lo = 0;
  let hi = points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid]!.t < t) lo = mid + 1;
    else hi = mid;
  }
  const after = points[lo]!;
  const before = points[lo - 1];
  return before && t - before.t < after.t - t ? before : after;
}
