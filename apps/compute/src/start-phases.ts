/**
 * Where a compute's start spends its time, phase by phase: one log line an
 * operator reads ("start: ready 812 ms after process start: load 205,
 * timeline 14, (manifest 41 | aux 33 | getpage-stream 12), mount 9,
 * mariadbd 402"). Phases that overlap (work done concurrently) are printed
 * as one parenthesised group, so the line also shows what ran in parallel.
 * Times are milliseconds on the process's own clock (performance.now(): 0 is
 * the process start), so the first phase can be the node and bundle load.
 */
import { assert } from '@strata/core';

export interface PhaseSpan {
  readonly name: string;
  readonly startMs: number;
  readonly endMs: number;
}

/** A start has a dozen phases; a runaway loop recording more is a bug. */
const SPANS_MAX = 64;

/** Shorter gaps (an await's turn of the event loop, a log write) are noise on the line. */
const GAP_SHOWN_MS = 5;

export class StartPhases {
  private readonly spans: PhaseSpan[] = [];

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** A phase that ran from `startMs` to `endMs` (e.g. the process's load, from 0 to the first line of main). */
  record(name: string, startMs: number, endMs: number): void {
    assert(endMs >= startMs, `phase ${name} ends (${endMs}) before it starts (${startMs})`);
    assert(this.spans.length < SPANS_MAX, `more than ${SPANS_MAX} start phases`);
    this.spans.push({ name, startMs, endMs });
  }

  /** Runs `work` as phase `name`; phases timed while another runs are concurrent ones. Failed work is timed too. */
  async time<T>(name: string, work: () => Promise<T> | T): Promise<T> {
    const startMs = this.now();
    try {
      return await work();
    } finally {
      this.record(name, startMs, this.now());
    }
  }

  /** The phases so far, in the order they started. */
  list(): readonly PhaseSpan[] {
    return [...this.spans].sort((a, b) => a.startMs - b.startMs);
  }

  /** The log line: ready at `now`, and each phase (or group of concurrent phases). */
  line(what = 'start'): string {
    return formatPhases(this.list(), this.now(), what);
  }
}

/**
 * Groups spans that overlap (transitively) into one parenthesised group; a
 * gap between groups longer than a few ms is shown as `gap N`, so the line
 * accounts for the whole time to `readyMs`.
 */
export function formatPhases(spans: readonly PhaseSpan[], readyMs: number, what = 'start'): string {
  const sorted = [...spans].sort((a, b) => a.startMs - b.startMs);
  const groups: PhaseSpan[][] = [];
  let groupEnd = -Infinity;
  for (const s of sorted) {
    const last = groups.at(-1);
    if (last && s.startMs < groupEnd) last.push(s);
    else groups.push([s]);
    groupEnd = Math.max(groupEnd, s.endMs);
  }
  const ms = (x: number): string => String(Math.round(x));
  const parts: string[] = [];
  let cursor = 0;
  for (const g of groups) {
    const start = g[0]!.startMs;
    if (start - cursor >= GAP_SHOWN_MS) parts.push(`gap ${ms(start - cursor)}`);
    const items = g.map((s) => `${s.name} ${ms(s.endMs - s.startMs)}`);
    parts.push(items.length === 1 ? items[0]! : `(${items.join(' | ')})`);
    cursor = Math.max(cursor, ...g.map((s) => s.endMs));
  }
  if (readyMs - cursor >= GAP_SHOWN_MS) parts.push(`gap ${ms(readyMs - cursor)}`);
  return `${what}: ready ${ms(readyMs)} ms after process start: ${parts.join(', ')}`;
}
