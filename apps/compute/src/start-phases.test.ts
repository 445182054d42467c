import { describe, expect, it } from 'vitest';
import { formatPhases, StartPhases } from './start-phases.js';

describe('[COMPUTE][START PHASES] one line says where a start spent its time', () => {
  it('phases one after another are listed in order, with their durations', () => {
    const line = formatPhases(
      [
        { name: 'timeline', startMs: 200, endMs: 214 },
        { name: 'load', startMs: 0, endMs: 200 },
        { name: 'mariadbd', startMs: 214, endMs: 600 },
      ],
      601,
    );
    expect(line).toBe('start: ready 601 ms after process start: load 200, timeline 14, mariadbd 386');
  });

  it('overlapping phases (concurrent work) form one group, overlaps chained through a long phase included', () => {
    const line = formatPhases(
      [
        { name: 'load', startMs: 0, endMs: 300 },
        { name: 'manifest', startMs: 301, endMs: 340 },
        { name: 'aux', startMs: 301, endMs: 390 },
        // Starts after manifest ended but while aux still runs: the same group.
        { name: 'stream', startMs: 350, endMs: 360 },
        { name: 'mount', startMs: 391, endMs: 396 },
      ],
      396,
      'compute x start',
    );
    expect(line).toBe('compute x start: ready 396 ms after process start: load 300, (manifest 39 | aux 89 | stream 10), mount 5');
  });

  it('gaps of 5 ms or more are shown, so the line accounts for the whole start', () => {
    const line = formatPhases(
      [
        { name: 'load', startMs: 0, endMs: 100 },
        { name: 'timeline', startMs: 120, endMs: 130 },
        { name: 'mount', startMs: 132, endMs: 140 },
      ],
      160,
    );
    expect(line).toBe('start: ready 160 ms after process start: load 100, gap 20, timeline 10, mount 8, gap 20');
  });

  it('time() records a phase from its start to its end, failed work included, on the given clock', async () => {
    let now = 10;
    const p = new StartPhases(() => now);
    await p.time('a', () => {
      now = 25;
    });
    await expect(
      p.time('b', () => {
        now = 40;
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    p.record('load', 0, 10);
    expect(p.list().map((s) => [s.name, s.startMs, s.endMs])).toEqual([
      ['load', 0, 10],
      ['a', 10, 25],
      ['b', 25, 40],
    ]);
    expect(p.line()).toBe('start: ready 40 ms after process start: load 10, a 15, b 15');
  });

  it('a phase that ends before it starts is a bug', () => {
    expect(() => new StartPhases().record('x', 5, 4)).toThrow(/ends/);
  });
});
