/** Simulated time: advances only when the simulator says so. */
import { assert } from '../assert.js';

export class SimClock {
  private now = 0;
  get nowMs(): number {
    return this.now;
  }
  advance(ms: number): void {
    assert(ms >= 0, 'time never goes back');
    this.now += ms;
  }
  advanceTo(ms: number): void {
    if (ms > this.now) this.now = ms;
  }
}
