import { describe, expect, it } from 'vitest';
import { downsampleMax } from './downsample';

describe('downsampleMax', () => {
  it('a short series is kept as it is', () => {
    const p = [{ t: 1, v: 1 }, { t: 2, v: 2 }];
    expect(downsampleMax(p, 0, 10, 10)).toEqual(p);
  });
  it('a long one keeps one point per bucket, the highest, so a spike survives', () => {
    const p = Array.from({ length: 1000 }, (_, i) => ({ t: i, v: i === 503 ? 99 : 1 }));
    const d = downsampleMax(p, 0, 1000, 100);
    expect(d.length).toBe(100);
    expect(d.find((x) => x.v === 99)).toEqual({ t: 503, v: 99 });
    expect(d.every((x, i) => i === 0 || x.t > d[i - 1]!.t)).toBe(true);
  });
});
