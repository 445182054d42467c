/**
 * Seeded pseudo-random numbers (mulberry32): the simulator's only source of
 * chance, so one seed replays one run exactly.
 */
import { assert } from './assert.js';

export class Prng {
  private s: number;
  constructor(seed: number) {
    assert(Number.isInteger(seed), `seed must be an integer: ${seed}`);
    this.s = seed >>> 0;
  }
  /** Uniform in [0, 2^32). */
  nextU32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }
  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    assert(hi >= lo, `empty range [${lo}, ${hi}]`);
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, 'pick from nothing');
    return items[Math.floor(this.next() * items.length)]!;
  }
}
