import { describe, expect, it } from 'vitest';
import { formatValue, timeTicks, valueTicks } from './chart-scale';

describe('chart axes', () => {
  it('value ticks are round, start at 0 and reach the maximum', () => {
    expect(valueTicks(97)).toEqual([0, 25, 50, 75, 100]);
    expect(valueTicks(1)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(valueTicks(0)).toEqual([0, 1]);
    const t = valueTicks(25_000_000);
    expect(t[0]).toBe(0);
    expect(t.at(-1)!).toBeGreaterThanOrEqual(25_000_000);
    expect(t.length).toBeLessThanOrEqual(6);
  });
  it('time ticks fall on round steps inside the range', () => {
    const t0 = Date.parse('2026-03-01T12:00:07Z');
    const ticks = timeTicks(t0, t0 + 15 * 60_000);
    expect(ticks.map((t) => new Date(t).toISOString().slice(11, 19))).toEqual(['12:05:00', '12:10:00', '12:15:00']);
    const hour = timeTicks(t0, t0 + 6 * 3_600_000);
    expect(hour.every((t) => t % 3_600_000 === 0)).toBe(true);
    expect(hour.length).toBeGreaterThanOrEqual(3);
  });
  it('values in their unit', () => {
    expect(formatValue('bytes', 25 * 1024 * 1024)).toBe('25.0 MiB');
    expect(formatValue('bytes/s', 2048)).toBe('2.0 KiB/s');
    expect(formatValue('ratio', 0.5)).toBe('50%');
    expect(formatValue('ms', 1.234)).toBe('1.23 ms');
    expect(formatValue('ms', 0.005)).toBe('0.005 ms');
    expect(formatValue('files', 12_345)).toBe('12.3k files');
  });
});
