/**
 * A long series cut to at most `pointsMax` points for a chart a few hundred pixels wide: each bucket of
 * time keeps its highest value, so a spike (a lag, a slow GetPage) still shows after thinning.
 */
export interface Point {
  t: number;
  v: number;
}

export function downsampleMax(points: readonly Point[], t0: number, t1: number, pointsMax: number): Point[] {
  if (points.length <= pointsMax || !(t1 > t0) || pointsMax < 1) return [...points];
  const width = (t1 - t0) / pointsMax;
  const out: Point[] = [];
  let bucket = -1;
  for (const p of points) {
    const b = Math.min(pointsMax - 1, Math.max(0, Math.floor((p.t - t0) / width)));
    const last = out[out.length - 1];
    if (b !== bucket || !last) {
      out.push({ t: p.t, v: p.v });
      bucket = b;
    } else if (p.v > last.v) {
      // The bucket's highest value, at the time it was seen.
      last.t = p.t;
      last.v = p.v;
    }
  }
  return out;
}
