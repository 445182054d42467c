import { afterEach, describe, expect, it, vi } from 'vitest';
import { LsnWaiters } from './lsn-waiters.js';

describe('LsnWaiters', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('wakes a waiter when its LSN is reached, and clears its timer', async () => {
    vi.useFakeTimers();
    const w = new LsnWaiters(100n);
    let woke = false;
    const p = w.wait(200n, 60_000).then(() => (woke = true));
    expect(w.waiting).toBe(1);
    expect(vi.getTimerCount()).toBe(1);
    w.advance(150n);
    await Promise.resolve();
    expect(woke).toBe(false);
    w.advance(200n);
    await p;
    expect(woke).toBe(true);
    expect(w.waiting).toBe(0);
    // A woken waiter leaves nothing behind that holds its closure until the timeout.
    expect(vi.getTimerCount()).toBe(0);
  });

  it('answers after the timeout with the LSN still not reached', async () => {
    vi.useFakeTimers();
    const w = new LsnWaiters(100n);
    const p = w.wait(200n, 1_000);
    await vi.advanceTimersByTimeAsync(1_000);
    await p;
    expect(w.lsn).toBe(100n);
    expect(w.waiting).toBe(0);
  });

  it('answers at once when the LSN is already there, the timeout is zero, or too many wait', async () => {
    const w = new LsnWaiters(100n, 2);
    await w.wait(100n, 60_000);
    await w.wait(300n, 0);
    const held = [w.wait(300n, 60_000), w.wait(300n, 60_000)];
    expect(w.waiting).toBe(2);
    // The bound: a third waiter is not queued.
    await w.wait(300n, 60_000);
    expect(w.waiting).toBe(2);
    w.advance(300n);
    await Promise.all(held);
    expect(w.waiting).toBe(0);
  });

  it('an aborted wait leaves at once and removes its listener and timer', async () => {
    vi.useFakeTimers();
    const w = new LsnWaiters(100n);
    const ac = new AbortController();
    const p = w.wait(200n, 60_000, ac.signal);
    ac.abort();
    await p;
    expect(w.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    // Already aborted: not queued at all.
    await w.wait(200n, 60_000, ac.signal);
    expect(w.waiting).toBe(0);
  });

  it('close wakes every waiter and later waits answer at once', async () => {
    const w = new LsnWaiters(100n);
    const all = [w.wait(200n, 60_000), w.wait(300n, 60_000)];
    w.close();
    await Promise.all(all);
    expect(w.waiting).toBe(0);
    await w.wait(400n, 60_000);
    expect(w.waiting).toBe(0);
  });

  it('refuses to go back', () => {
    const w = new LsnWaiters(100n);
    expect(() => w.advance(99n)).toThrow(/going back/);
  });
});
