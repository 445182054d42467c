import { describe, expect, it } from 'vitest';
import { CommitWatch } from './commit-watch.js';

describe('CommitWatch', () => {
  it('wakes a waiter when the commit passes its LSN, with the new commit LSN', async () => {
    const w = new CommitWatch(10n);
    const p = w.wait(10n, 60_000);
    w.advance(15n);
    expect(await p).toBe(15n);
    expect(w.waiting).toBe(0);
  });

  it('a long-lived signal shared by many waits keeps no listener per settled wait (a WAL stream waits on one signal for every commit)', async () => {
    const w = new CommitWatch(0n);
    const ac = new AbortController();
    let added = 0;
    let removed = 0;
    const add = ac.signal.addEventListener.bind(ac.signal);
    const remove = ac.signal.removeEventListener.bind(ac.signal);
    ac.signal.addEventListener = ((...a: Parameters<typeof add>) => (added++, add(...a))) as typeof add;
    ac.signal.removeEventListener = ((...a: Parameters<typeof remove>) => (removed++, remove(...a))) as typeof remove;
    for (let i = 0n; i < 100n; i++) {
      const p = w.wait(i, 60_000, ac.signal);
      w.advance(i + 1n);
      await p;
    }
    expect(added).toBe(100);
    expect(removed).toBe(100);
  });

  it('an abort settles the wait with the current commit LSN', async () => {
    const w = new CommitWatch(7n);
    const ac = new AbortController();
    const p = w.wait(7n, 60_000, ac.signal);
    ac.abort();
    expect(await p).toBe(7n);
    expect(w.waiting).toBe(0);
  });
});
