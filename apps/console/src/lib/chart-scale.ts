/**
 * Axes for the metric charts: round value ticks, time ticks on whole minutes or hours, and values
 * written in their unit. Pure, so the axes are tested without a browser.
 */
import { bytes } from '../components/ui';

/** About `count` round ticks from 0 (charts start at zero: a lag of 2 MB must not look like 200) up past `max`. */
export function valueTicks(max: number, count = 4): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  // Bounded: at most count + 2 ticks, whatever the input.
  for (let i = 0; i <= count + 1; i++) {
    ticks.push(Number((i * step).toPrecision(12)));
    if (i * step >= max) break;
  }
  return ticks;
}

const TIME_STEPS_MS = [10_000, 30_000, 60_000, 2 * 60_000, 5 * 60_000, 10 * 60_000, 15 * 60_000, 30 * 60_000, 3_600_000, 2 * 3_600_000, 6 * 3_600_000];

/** Times between t0 and t1 on a round step, about `count` of them (aligned to the step in UTC, which whole minutes are in every zone). */
export function timeTicks(t0: number, t1: number, count = 5): number[] {
  if (!(t1 > t0)) return [t0];
  const step = TIME_STEPS_MS.find((s) => (t1 - t0) / s <= count) ?? TIME_STEPS_MS[TIME_STEPS_MS.length - 1]!;
  const out: number[] = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1 && out.length <= count + 1; t += step) out.push(t);
  return out;
}

/** `14:05` or `14:05:30` in the browser's zone: seconds only when the ticks need them. */
export function formatTime(t: number, withSeconds: boolean): string {
  return new Date(t).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', ...(withSeconds ? { second: '2-digit' } : {}) });
}

function compact(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e3) return `${(v / 1e3).toPrecision(3)}k`;
  if (a >= 1) return String(Number(v.toPrecision(3)));
  // Number() drops toPrecision's trailing zeros: 0.005, not 0.0050.
  return String(Number(v.toPrecision(2)));
}

/** A value in its chart's unit: bytes as KiB/MiB, a ratio as a percentage, milliseconds with "ms". */
export function formatValue(unit: string, v: number): string {
  switch (unit) {
    case 'bytes':
      return bytes(v);
    case 'bytes/s':
      return `${bytes(v)}/s`;
    case 'ratio':
      return `${Number((v * 100).toPrecision(3))}%`;
    case 'ms':
      return `${compact(v)} ms`;
    default:
      return `${compact(v)} ${unit}`;
  }
}
