/** The in-process registry a cancel goes through: refusals are typed, the abort carries who cancelled. */
import { describe, expect, it } from 'vitest';
import { cancelMessage, RunningOperations } from './running-operations';

describe('[OPERATIONS][CANCEL] RunningOperations', () => {
  it('aborts the signal of a running operation with who cancelled it', () => {
    const r = new RunningOperations();
    const signal = r.begin('a');
    expect(r.cancel('a', 'cancelled by admin')).toBeUndefined();
    expect(signal.aborted).toBe(true);
    expect(cancelMessage(signal)).toBe('cancelled by admin');
  });

  it('refuses past the point of no return, and for an operation it does not run', () => {
    const r = new RunningOperations();
    const signal = r.begin('a');
    r.commit('a');
    expect(r.cancel('a', 'x')).toBe('past-point-of-no-return');
    expect(signal.aborted).toBe(false);
    r.end('a');
    expect(r.cancel('a', 'x')).toBe('not-running-here');
    expect(r.cancel('never', 'x')).toBe('not-running-here');
  });
});
