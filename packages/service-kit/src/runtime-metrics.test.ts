import { describe, expect, it } from 'vitest';
import { Registry } from './metrics.js';
import { overlapMs, RuntimeMetrics } from './runtime-metrics.js';

describe('runtime metrics', () => {
  it('counts only the part of each pause inside the window', () => {
    const starts = [0, 10, 20, 40];
    const ends = [5, 15, 30, 41];
    expect(overlapMs(starts, ends, 12, 25)).toBe(3 + 5);
    expect(overlapMs(starts, ends, 30, 40)).toBe(0);
    expect(overlapMs(starts, ends, -1, 100)).toBe(5 + 5 + 10 + 1);
  });

  it('records real GC pauses and finds them in the window they happened in', async () => {
    const registry = new Registry();
    const rt = new RuntimeMetrics(registry, 'test');
    try {
      const t0 = performance.now();
      // Enough short-lived garbage to force several young-generation collections.
      let keep = 0;
      for (let i = 0; i < 200_000; i++) keep += new Array(64).fill(i).length;
      expect(keep).toBeGreaterThan(0);
      const t1 = performance.now();
      await new Promise((r) => setTimeout(r, 50));
      const text = registry.render();
      expect(text).toMatch(/test_runtime_gc_pause_seconds_count\{kind="minor"\} [1-9]/);
      expect(text).toMatch(/test_runtime_event_loop_delay_seconds\{quantile="0.99"\} /);
      expect(rt.pausedWithin(t0, t1)).toBeGreaterThan(0);
      expect(rt.pausedWithin(t1 + 1e6, t1 + 2e6)).toBe(0);
    } finally {
      rt.stop();
    }
  });
});
